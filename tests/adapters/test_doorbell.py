"""The doorbell over real Unix datagram sockets: every ring wakes the worker, a burst costs one wake-up."""

from __future__ import annotations

import threading

from webhook.adapters.doorbell import Doorbell


def test_a_burst_of_rings_is_taken_in_one_go_and_a_later_ring_still_wakes(tmp_path):
    bell = Doorbell(tmp_path / "bell")
    wake, stop = threading.Event(), threading.Event()
    listener = bell.listen("w1", wake, stop)
    try:
        for _ in range(50):
            bell.ring()
        assert wake.wait(5)
        wake.clear()
        # The burst's other 49 rings are drained (and wake set again) without one wake-up each.
        assert wake.wait(5)
        wake.clear()
        bell.ring()
        assert wake.wait(5)  # nothing was lost: the next ring wakes the worker too
    finally:
        stop.set()
        listener.join(5)
        if bell._socket is not None:  # the ringing side's socket
            bell._socket.close()
