"""Group commit: what request threads hand in at the same moment is stored in one transaction.

With ``synchronous=FULL`` every commit is an fsync of the WAL, and every trigger row dirties the
same few pages of the table and its indexes. Committing them one by one writes those pages and
waits for the disk once per request; committing whoever is waiting together does it once per
batch, and each caller still hears its answer only after the commit that holds its row.

There is no committer thread: the first waiting thread leads (classic leader/follower). It takes
the process's writer lock first and only then collects the batch, so everything that arrived while
it queued for the lock rides along.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

from ...core.errors import StoreUnavailable

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


@dataclass(eq=False)
class _Entry(Generic[Item, Outcome]):
    item: Item
    done: bool = False
    outcome: Outcome | None = None
    error: Exception | None = None


class GroupCommit(Generic[Item, Outcome]):
    """Runs ``commit_batch`` for batches of items; each caller gets its own outcome or error.

    ``commit_batch`` returns one outcome per item, in order, after its transaction committed, or
    raises, in which case every caller of the batch gets that error (none of the batch was stored).
    An outcome that is an exception is that item's error alone (the database refused that row).
    """

    def __init__(self, commit_batch: Callable[[Sequence[Item]], Sequence[Outcome | Exception]],
                 writer_lock: Callable[[], AbstractContextManager[object]]) -> None:
        self._commit_batch = commit_batch
        self._writer_lock = writer_lock
        self._pending: list[_Entry[Item, Outcome]] = []
        self._pending_lock = threading.Lock()
        self._leader = threading.Lock()
        # Batches committed so far, counted before their callers return: whoever reads ``n`` after
        # its own commit knows that batch ``n`` holds its rows or a later one (see doorbell.coalesced).
        self.committed = 0

    def add(self, item: Item) -> Outcome:
        entry: _Entry[Item, Outcome] = _Entry(item)
        with self._pending_lock:
            self._pending.append(entry)
        with self._leader:  # followers queue here; a leader that already took our entry leaves it done
            if not entry.done:
                self._lead()
        if entry.outcome is None:
            raise entry.error or StoreUnavailable("Nothing was stored: the commit was interrupted.")
        return entry.outcome

    def pending(self) -> int:
        """How many callers wait for the next commit."""
        with self._pending_lock:
            return len(self._pending)

    def _let_others_join(self) -> None:
        """Give threads that are about to hand something in the chance to join this batch.

        ``os.sched_yield`` releases the GIL and the core: threads that were ready to run get to the
        point where they queue for this commit before the batch is taken, so on a busy core fewer,
        larger commits carry the load (measured: +7 % acknowledged triggers at 16 connections).
        Alone it costs half a microsecond. (``time.sleep(0)`` is no substitute: with the kernel's
        timer slack it sleeps about 50 µs.)
        """
        os.sched_yield()

    def _lead(self) -> None:
        batch: list[_Entry[Item, Outcome]] = []
        try:
            with self._writer_lock():
                self._let_others_join()
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                outcomes = self._commit_batch([e.item for e in batch])
                self.committed += 1
            for entry, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    entry.error = outcome
                else:
                    entry.outcome = outcome
        except Exception as exc:  # none of the batch was stored: every caller re-raises it
            for entry in batch:
                entry.error = exc
        finally:
            for entry in batch:
                entry.done = True
