"""The doorbell over real Unix datagram sockets: one datagram per commit of many triggers, never none after a
commit; a burst of rings wakes the worker and a later ring still does."""

from __future__ import annotations

import threading

from webhook.adapters.doorbell import Doorbell


def test_a_burst_of_rings_wakes_the_worker_and_a_later_ring_still_does(tmp_path) -> None:
    bell = Doorbell(tmp_path / "bell")
    wake, stop = threading.Event(), threading.Event()
    listener = bell.listen("w1", wake, stop)
    try:
        for _ in range(50):  # taken in one go by the listener
            bell.ring()
        assert wake.wait(5)
        for _ in range(3):  # nothing was lost or left stuck: each later ring wakes the worker too
            wake.clear()
            bell.ring()
            assert wake.wait(5)
    finally:
        stop.set()
        listener.join(5)
        if bell._socket is not None:
            bell._socket.close()


def test_callers_of_one_commit_ring_once_and_a_newer_commit_rings_again(tmp_path) -> None:
    bell = Doorbell(tmp_path / "bell")
    sent: list[int] = []
    commits = [0]
    bell.ring = lambda: sent.append(commits[0])  # type: ignore[method-assign]
    ring = bell.coalesced(lambda: commits[0])

    commits[0] = 1  # one group commit held the rows of three callers
    for _ in range(3):
        ring()
    assert sent == [1]

    commits[0] = 3  # two more commits before the next caller looked: one ring covers both
    ring()
    ring()
    assert sent == [1, 3]


def test_concurrent_callers_never_leave_a_commit_unrung(tmp_path) -> None:
    """Whatever the interleaving, the newest commit a caller saw has had a ring decided after it."""
    bell = Doorbell(tmp_path / "bell")
    sent: list[int] = []
    commits = [0]
    lock = threading.Lock()
    bell.ring = lambda: sent.append(commits[0])  # type: ignore[method-assign]
    ring = bell.coalesced(lambda: commits[0])
    seen: list[int] = []

    def caller() -> None:
        for _ in range(200):
            with lock:
                commits[0] += 1
                mine = commits[0]
            ring()
            seen.append(mine)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert max(sent) == max(seen) == 1600
