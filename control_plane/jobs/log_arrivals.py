"""Wakes the log tails of a run in this process once the scheduler here has stored new lines of
it, so that a line reaches its readers without waiting for their next look.

Only the server holding the scheduler lease stores lines: a tail on another server looks on its
own, every interval, as it always does (this only shortens the wait where both are in one
process). Only runs being followed are tracked, so nothing grows with the number of runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class LogArrivals:
    """Thread-safe: the scheduler calls stored(), each tail waits on its Follower."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        # Per followed run: batches stored since it was first followed, and its followers.
        self._batches: dict[str, int] = {}
        self._followers: dict[str, int] = {}

    def stored(self, run_id: str) -> None:
        """New lines of run_id are in the store."""
        with self._changed:
            if run_id in self._batches:
                self._batches[run_id] += 1
                self._changed.notify_all()

    @contextmanager
    def follow(self, run_id: str) -> Iterator[Follower]:
        """A follower of run_id's lines, for the time inside."""
        with self._changed:
            self._followers[run_id] = self._followers.get(run_id, 0) + 1
            self._batches.setdefault(run_id, 0)
            follower = Follower(self._changed, self._batches, run_id)
        try:
            yield follower
        finally:
            with self._changed:
                self._followers[run_id] -= 1
                if not self._followers[run_id]:
                    del self._followers[run_id], self._batches[run_id]


class Follower:
    """One tail's wait for a run's lines (LogArrivals.follow): it waits on its LogArrivals'
    condition for the run's count of stored batches to move past the one it last saw."""

    def __init__(self, changed: threading.Condition, batches: dict[str, int], run_id: str) -> None:
        self._changed = changed
        self._batches = batches
        self.run_id = run_id
        self.seen = batches[run_id]
        self.cancelled = False

    def wait(self, timeout_s: float) -> bool:
        """Returns once lines were stored since the last wait returned (or since following
        began), at once if they were meanwhile; after timeout_s, or once cancelled, if not.
        True if lines were stored."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.cancelled or self._batches[self.run_id] != self.seen,
                timeout=timeout_s,
            )
            batches = self._batches[self.run_id]
        arrived, self.seen = batches != self.seen, batches
        return arrived

    def cancel(self) -> None:
        """Its tail ends (its client went): a wait in progress, and any later one, return."""
        with self._changed:
            self.cancelled = True
            self._changed.notify_all()
