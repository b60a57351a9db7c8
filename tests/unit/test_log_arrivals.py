from __future__ import annotations

import threading
import time

from sluice.control_plane.jobs.log_arrivals import LogArrivals


def test_a_follower_wakes_when_lines_of_its_run_are_stored() -> None:
    arrivals = LogArrivals()
    with arrivals.follow("jr_1") as follower:
        threading.Timer(0.1, arrivals.stored, args=("jr_1",)).start()
        started = time.monotonic()
        assert follower.wait(30.0)
        assert time.monotonic() - started < 10.0


def test_lines_stored_between_two_waits_are_not_missed() -> None:
    arrivals = LogArrivals()
    with arrivals.follow("jr_1") as follower:
        arrivals.stored("jr_1")
        assert follower.wait(30.0)  # at once: stored since following began
        assert not follower.wait(0.05)  # nothing new since
        arrivals.stored("jr_1")
        arrivals.stored("jr_1")
        assert follower.wait(30.0)


def test_another_runs_lines_do_not_count() -> None:
    arrivals = LogArrivals()
    with arrivals.follow("jr_1") as follower:
        arrivals.stored("jr_2")
        assert not follower.wait(0.05)


def test_a_cancelled_follower_stops_waiting() -> None:
    arrivals = LogArrivals()
    with arrivals.follow("jr_1") as follower:
        threading.Timer(0.1, follower.cancel).start()
        started = time.monotonic()
        assert not follower.wait(30.0)
        assert time.monotonic() - started < 10.0
        assert follower.cancelled


def test_every_follower_of_a_run_wakes_and_nothing_is_kept_once_they_leave() -> None:
    arrivals = LogArrivals()
    with arrivals.follow("jr_1") as first, arrivals.follow("jr_1") as second:
        arrivals.stored("jr_1")
        assert first.wait(30.0) and second.wait(30.0)
    # Runs nobody follows are not tracked: lines stored now wake nobody later.
    arrivals.stored("jr_1")
    assert not arrivals._batches and not arrivals._followers
    with arrivals.follow("jr_1") as late:
        assert not late.wait(0.05)
