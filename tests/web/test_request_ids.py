"""Made request ids are unique in a process and across forked gunicorn workers."""

from __future__ import annotations

import os
import re

from webhook.web.request_ids import _ids


def test_made_ids_are_16_hex_characters_and_never_repeat() -> None:
    made = [_ids.next() for _ in range(1000)]
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in made)


def test_a_forked_worker_makes_ids_with_its_own_prefix() -> None:
    parent = _ids.next()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id and leave at once
        os.write(write, _ids.next().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16 and child[:8] != parent[:8]
