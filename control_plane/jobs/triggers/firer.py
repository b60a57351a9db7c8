"""The trigger scheduler: fires due SCHEDULED triggers, CONDITIONAL triggers whose watched runs
have ended, and EVENT triggers whose batch window has passed, on the scheduler lease's holder.

Exactly once: each fire is one transaction of the trigger store, fenced by the lease, that moves
the trigger on with a conditional update and creates the runs; a fire that loses a race (or a
lease) changes nothing. Next due times are stored, so a restarted server (or the lease's next
holder) finds what came due while no one fired.

Misfire policy (SCHEDULED): a trigger found past one or more due times fires once, for the
latest of them, if that is at most misfire_grace_s old; older due times are skipped (never
fired late, never fired twice). Either way its next due time becomes the first after now.
CONDITIONAL triggers are evaluated from the runs table (the runs each has counted are stored),
so runs that ended while no server fired count at the next evaluation.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sluice.common.errors import InvalidInput
from sluice.control_plane.jobs.leases import Fence, LeaseLost
from sluice.control_plane.jobs.triggers.cron import GlueCron
from sluice.control_plane.jobs.triggers.model import Logical, Trigger
from sluice.control_plane.jobs.triggers.store import (
    FireResult,
    Network,
    ScheduledFire,
    TriggerStore,
)

log = logging.getLogger("sluice.triggers")

# What a batch of fires is made of: scheduled fires, or conditional triggers.
_Fire = TypeVar("_Fire", ScheduledFire, Trigger)

MAX_CONDITIONAL_FIRES_PER_PASS = 100
# Each fire takes its trigger's row lock and writes its runs: a transaction of this many holds
# the write lock a few tens of milliseconds, a cost one transaction a fire paid each time.
CONDITIONAL_FIRES_PER_TRANSACTION = 50


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FirerConfig:
    """poll_interval_s: how often triggers are looked at; misfire_grace_s: how late a missed
    due time may still fire (once); sweep_interval_s: how often every CONDITIONAL trigger is
    evaluated (in between, only those watching a job with a run that ended since the last pass,
    less finish_margin_s for commits that lag their timestamps and for clock skew); fire_batch:
    SCHEDULED fires per transaction; fire_lanes: how many transactions of SCHEDULED fires are
    made side by side (each on its own connection: while one waits on the database, another
    is built; fires are split by their jobs, so that no two lanes claim the same job's run
    slots, and those that do not split so fire after the lanes); prefetch_s: how far ahead
    SCHEDULED triggers about to be due are read, their next due times worked out and their
    runs prepared (their jobs' networks resolved, their rows built: a run whose job changed by
    the due time is built again, but a job's connection changed within prefetch_s of the due
    time is seen only by the next fire), so that at the due time only the fires' transactions
    are left (the firer then wakes at the due time, not at its next poll)."""

    poll_interval_s: float = 0.25
    misfire_grace_s: float = 300.0
    sweep_interval_s: float = 30.0
    finish_margin_s: float = 5.0
    fire_batch: int = 500
    fire_lanes: int = 2
    prefetch_s: float = 3.0

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        if self.misfire_grace_s < 0:
            raise ValueError("misfire_grace_s must not be negative")
        if self.sweep_interval_s <= 0 or self.finish_margin_s < 0:
            raise ValueError("sweep_interval_s must be positive, finish_margin_s not negative")
        if self.fire_batch < 1 or self.fire_lanes < 1:
            raise ValueError("fire_batch and fire_lanes must be at least 1")
        if self.prefetch_s < 0:
            raise ValueError("prefetch_s must not be negative")


@dataclass(frozen=True)
class _Prepared:
    """A SCHEDULED trigger read ahead of its due time: key (next_fire_at, last_modified_on)
    as read, its actions as stored, and the due time it fires for (the latest passed, by the
    misfire policy) with the one after."""

    trigger: Trigger
    key: tuple[datetime, datetime]
    actions_text: str
    latest: datetime
    next_fire_at: datetime | None
    # What the store prepared of its runs (ScheduledRead.runs).
    runs: object = None


class TriggerFirer:
    """One thread firing triggers while fence() gives the lease (always, without a fence).

    on_fired is called after each fire that started runs (e.g. to wake the run scheduler).
    workflows, if given, is called once a pass after the triggers (the workflow store's
    advance): it fires workflow runs' conditional triggers and ends the runs that are done.
    """

    def __init__(
        self,
        store: TriggerStore,
        network: Network,
        *,
        config: FirerConfig | None = None,
        clock: Callable[[], datetime] = utc_now,
        fence: Callable[[], Fence | None] | None = None,
        on_fired: Callable[[FireResult], None] | None = None,
        workflows: Callable[[Network, Fence | None], list[FireResult]] | None = None,
    ) -> None:
        self._store = store
        self._workflows = workflows
        self._network = network
        self._config = config or FirerConfig()
        self._clock = clock
        self._fence = fence
        self._on_fired = on_fired
        # When CONDITIONAL triggers were last looked at, and last all evaluated (in which
        # tenure); only the firer's thread (or run_once's caller) uses them.
        self._looked_at: datetime | None = None
        self._swept_at: datetime | None = None
        self._tenure: Fence | None = None
        self._crawlers_watched = False
        # SCHEDULED triggers due within prefetch_s, read ahead (by pk); only the firer's thread
        # (or run_once's caller) uses them.
        self._prepared: dict[int, _Prepared] = {}
        # The threads of fire lanes past the first (made when first needed).
        self._lanes: ThreadPoolExecutor | None = None
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the trigger firer is already started")
        self._halt.clear()
        self._thread = threading.Thread(target=self._loop, name="sluice-triggers", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._halt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._lanes is not None:
            self._lanes.shutdown(wait=False, cancel_futures=True)
            self._lanes = None

    def wake(self) -> None:
        """Look at the triggers now (a run ended, a trigger changed)."""
        self._wake.set()

    def run_once(self) -> list[FireResult]:
        """One pass over every trigger that may fire; the fires it made."""
        fence = self._fence() if self._fence is not None else None
        if self._fence is not None and fence is None:
            self._prepared = {}  # not the lease's holder: nothing to fire
            return []
        fired: list[FireResult] = []
        network = _memo(self._network)
        try:
            now = self._clock()
            self._fire_due(now, network, fence, fired)
            self._fire_conditional(self._conditional_to_evaluate(now, fence), network, fence, fired)
            for trigger in self._store.due_event_windows(now):
                self._one(
                    trigger,
                    fired,
                    lambda t: self._store.fire_event_window(t, now, network, fence),
                )
            if self._workflows is not None and not self._halt.is_set():
                for result in self._workflows(network, fence):
                    self._record_workflow(result, fired)
        except LeaseLost:
            log.warning("the scheduler lease was taken over; this trigger pass ends")
        return fired

    def _fire_conditional(
        self,
        ready: list[Trigger],
        network: Network,
        fence: Fence | None,
        fired: list[FireResult],
    ) -> None:
        """The ready CONDITIONAL triggers, CONDITIONAL_FIRES_PER_TRANSACTION to a transaction
        (one at a time for a batch that fails). An ANY trigger fires once per evaluation: it is
        evaluated again while runs are left to count (an AND trigger's fire counts every run it
        had)."""
        pending = ready
        for _ in range(MAX_CONDITIONAL_FIRES_PER_PASS):
            again: list[Trigger] = []
            for start in range(0, len(pending), CONDITIONAL_FIRES_PER_TRANSACTION):
                if self._halt.is_set():
                    return
                batch = pending[start : start + CONDITIONAL_FIRES_PER_TRANSACTION]
                each = self._fire_batch(
                    "conditional",
                    batch,
                    lambda trigger: trigger,
                    lambda triggers: self._store.fire_conditional_many(triggers, network, fence),
                    lambda trigger: self._store.fire_conditional(trigger, network, fence),
                    fired,
                )
                again += [
                    trigger
                    for trigger, ok in zip(batch, each, strict=True)
                    if ok and not _is_and(trigger)
                ]
            if not again:
                return
            pending = again

    def _conditional_to_evaluate(self, now: datetime, fence: Fence | None) -> list[Trigger]:
        """The activated CONDITIONAL triggers that seem ready to fire (ready_conditional): of
        all of them at a sweep (the first pass of a tenure, then every sweep_interval_s), in
        between of those watching a job with a recently ended run (or a crawler with a recently
        ended crawl, once a sweep or a read found a trigger waiting for one)."""
        sweep = (
            self._swept_at is None
            or fence != self._tenure
            or (now - self._swept_at).total_seconds() >= self._config.sweep_interval_s
        )
        looked_at, self._looked_at = self._looked_at, now
        if sweep:
            triggers = self._activated()
            ready = self._store.ready_conditional(triggers)
            # Counted from the sweep's end: a long sweep is not followed by another at once.
            self._swept_at, self._tenure = self._clock(), fence
            return ready
        since = (looked_at or now) - timedelta(seconds=self._config.finish_margin_s)
        finished = self._store.finished_jobs_since(since)
        crawled: frozenset[tuple[str, str]] = frozenset()
        if self._crawlers_watched:
            crawled = self._store.finished_crawlers_since(since)
        if not finished and not crawled:
            return []
        activated = self._activated()
        return self._store.ready_conditional(
            [
                trigger
                for trigger in activated
                if trigger.predicate is not None
                and any(
                    (trigger.account, c.crawler_name) in crawled
                    if c.crawler_name
                    else (trigger.account, c.job_name) in finished
                    for c in trigger.predicate.conditions
                )
            ]
        )

    def _activated(self) -> list[Trigger]:
        """The activated CONDITIONAL triggers; notes whether one waits for a crawl (crawls are
        looked at between sweeps only then)."""
        triggers = list(self._store.activated_conditional())
        self._crawlers_watched = any(_on_crawlers(trigger) for trigger in triggers)
        return triggers

    def _fire_due(
        self, now: datetime, network: Network, fence: Fence | None, fired: list[FireResult]
    ) -> None:
        """Every due SCHEDULED trigger, fire_batch to a transaction (one at a time for a batch
        that fails, so that one trigger's trouble does not hold up the others). Those read
        ahead fire first; then the triggers due within prefetch_s are looked at (a light read:
        only new or changed ones are read in full) and those due by now fire too."""
        self._fire_prepared(now, network, fence, fired)
        horizon = now + timedelta(seconds=self._config.prefetch_s)
        keys = self._store.due_scheduled_keys(horizon)
        # Gone, fired elsewhere, stopped or changed since read: forgotten (read again if due).
        self._prepared = {pk: p for pk, p in self._prepared.items() if keys.get(pk) == p.key}
        missing = [pk for pk in keys if pk not in self._prepared]
        # Many triggers share a schedule and a due time: each such pair is worked out once.
        known: dict[tuple[str, str, datetime], tuple[datetime, datetime | None]] = {}
        for read in self._store.scheduled_triggers(missing, network):
            trigger = read.trigger
            due = trigger.next_fire_at
            if due is None:
                continue
            cron_key = (trigger.schedule, trigger.time_zone, due)
            if cron_key not in known:
                try:
                    known[cron_key] = _due_times(
                        GlueCron.compile(trigger.schedule, trigger.time_zone), due, now
                    )
                except InvalidInput:
                    log.exception("trigger %s has a schedule that no longer parses", trigger.name)
                    continue
            latest, next_fire_at = known[cron_key]
            self._prepared[trigger.pk] = _Prepared(
                trigger,
                (due, trigger.last_modified_on),
                read.actions_text,
                latest,
                next_fire_at,
                read.runs,
            )
        self._fire_prepared(now, network, fence, fired)

    def _next_due_in(self, now: datetime) -> float | None:
        """Seconds until the earliest trigger read ahead is due (None: none is)."""
        if not self._prepared:
            return None
        earliest = min(p.key[0] for p in self._prepared.values())
        return max(0.005, (earliest - now).total_seconds())

    def _fire_prepared(
        self, now: datetime, network: Network, fence: Fence | None, fired: list[FireResult]
    ) -> None:
        due = sorted(
            (p for p in self._prepared.values() if p.key[0] <= now),
            key=lambda p: (p.key[0], p.trigger.pk),
        )
        if not due:
            return
        for prepared in due:
            del self._prepared[prepared.trigger.pk]
        lanes, after = _lanes([self._scheduled_fire(p, now) for p in due], self._config.fire_lanes)
        busy = [lane for lane in lanes if lane]
        if len(busy) > 1:
            if self._lanes is None:
                self._lanes = ThreadPoolExecutor(
                    self._config.fire_lanes - 1, thread_name_prefix="sluice-trigger-lane"
                )
            # The firer's thread makes one lane's fires, the pool the others'; every lane ends
            # (or fails) before a failure is raised.
            others = [
                self._lanes.submit(self._fire_scheduled, lane, network, fence, fired)
                for lane in busy[1:]
            ]
            try:
                self._fire_scheduled(busy[0], network, fence, fired)
            finally:
                wait(others)
            for other in others:
                other.result()
        elif busy:
            self._fire_scheduled(busy[0], network, fence, fired)
        self._fire_scheduled(after, network, fence, fired)

    def _fire_scheduled(
        self,
        fires: Sequence[ScheduledFire],
        network: Network,
        fence: Fence | None,
        fired: list[FireResult],
    ) -> None:
        """fires in order, fire_batch to a transaction."""
        size = self._config.fire_batch
        for start in range(0, len(fires), size):
            if self._halt.is_set():
                return
            batch = fires[start : start + size]
            self._fire_batch(
                "scheduled",
                batch,
                lambda fire: fire.trigger,
                lambda fires: self._store.fire_scheduled_many(fires, network, fence),
                lambda fire: self._store.fire_scheduled_many([fire], network, fence)[0],
                fired,
            )

    def _fire_batch(
        self,
        kind: str,
        batch: Sequence[_Fire],
        trigger_of: Callable[[_Fire], Trigger],
        fire_all: Callable[[Sequence[_Fire]], list[FireResult | None]],
        fire_one: Callable[[_Fire], FireResult | None],
        fired: list[FireResult],
    ) -> list[bool]:
        """Fires a batch in one transaction (fire_all); if that fails, each in one of its own
        (fire_one), so that one trigger's trouble does not hold up the others. Whether each
        fired."""
        try:
            results = fire_all(batch)
        except LeaseLost:
            raise
        except Exception:
            log.exception("a batch of %d %s fires failed; firing one at a time", len(batch), kind)
            return [
                self._one(trigger_of(item), fired, lambda _t, item=item: fire_one(item))
                for item in batch
            ]
        return [
            self._record(trigger_of(item), result, fired)
            for item, result in zip(batch, results, strict=True)
        ]

    def _one(
        self,
        trigger: Trigger,
        fired: list[FireResult],
        fire: Callable[[Trigger], FireResult | None],
    ) -> bool:
        """Whether it fired."""
        if self._halt.is_set():
            return False
        try:
            result = fire(trigger)
        except LeaseLost:
            raise
        except Exception:
            # One trigger's trouble must not stall the others.
            log.exception("firing trigger %s of account %s failed", trigger.name, trigger.account)
            return False
        return self._record(trigger, result, fired)

    def _record(self, trigger: Trigger, result: FireResult | None, fired: list[FireResult]) -> bool:
        if result is None:
            return False
        fired.append(result)
        if result.runs:
            log.info(
                "trigger %s fired: %s",
                trigger.name,
                ", ".join(f"{job} {run}" for job, run in result.runs),
            )
        if self._on_fired is not None:
            try:
                self._on_fired(result)
            except Exception:
                # The fire is done (committed): a callback's trouble must not stop the pass.
                log.exception("the callback of trigger %s's fire failed", trigger.name)
        return True

    def _record_workflow(self, result: FireResult, fired: list[FireResult]) -> None:
        fired.append(result)
        if self._on_fired is not None:
            try:
                self._on_fired(result)
            except Exception:
                log.exception("the callback of trigger %s's fire failed", result.trigger_name)

    def _scheduled_fire(self, prepared: _Prepared, now: datetime) -> ScheduledFire:
        """What the misfire policy does with a due trigger: fire once for the latest due time
        passed if it is at most misfire_grace_s old, else skip; next, the first after now."""
        trigger = prepared.trigger
        due = prepared.key[0]
        latest, next_fire_at = prepared.latest, prepared.next_fire_at
        if next_fire_at is not None and next_fire_at <= now:
            # Read ahead, fired late: later due times have passed since.
            try:
                latest, next_fire_at = _due_times(
                    GlueCron.compile(trigger.schedule, trigger.time_zone), due, now
                )
            except InvalidInput:
                log.exception("trigger %s has a schedule that no longer parses", trigger.name)
        late = (now - latest).total_seconds()
        fire = late <= self._config.misfire_grace_s
        if not fire:
            log.warning(
                "trigger %s missed its due time %s by %.0f s (grace %.0f s): skipped",
                trigger.name,
                latest.isoformat(),
                late,
                self._config.misfire_grace_s,
            )
        elif latest > due:
            log.warning(
                "trigger %s missed due times from %s: fires once for %s",
                trigger.name,
                due.isoformat(),
                latest.isoformat(),
            )
        return ScheduledFire(trigger, due, next_fire_at, fire, prepared.actions_text, prepared.runs)

    def _loop(self) -> None:
        while not self._halt.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:
                log.exception("trigger pass failed; retrying")
            wait = self._config.poll_interval_s
            due_in = self._next_due_in(self._clock())
            if due_in is not None:
                wait = min(wait, due_in)
            self._wake.wait(wait)


def _memo(network: Network) -> Network:
    """network, each (account, job) resolved once (per pass: jobs and connections change)."""
    known: dict[tuple[str, str], tuple[str, str]] = {}

    def resolved(account: str, job_name: str) -> tuple[str, str]:
        key = (account, job_name)
        if key not in known:
            known[key] = network(account, job_name)
        return known[key]

    return resolved


def _due_times(cron: GlueCron, due: datetime, now: datetime) -> tuple[datetime, datetime | None]:
    """The latest due time passed (the stored one, or a later one of the schedule) and the
    next one after now."""
    following = cron.next_after(due)
    if following is None or following > now:
        # No later due time has passed (the usual case): one croniter step suffices.
        return due, following
    return max(due, cron.latest_at_or_before(now) or due), cron.next_after(now)


def _lanes(
    fires: Sequence[ScheduledFire], count: int
) -> tuple[list[list[ScheduledFire]], list[ScheduledFire]]:
    """fires split into count lanes by their jobs (a job's fires all in one lane, in order),
    and those to make after the lanes: a fire whose jobs fall in more than one lane, one that
    starts a crawler, or one of a workflow (their rows are shared beyond their jobs')."""
    lanes: list[list[ScheduledFire]] = [[] for _ in range(count)]
    after: list[ScheduledFire] = []
    for fire in fires:
        trigger = fire.trigger
        if trigger.workflow_name or any(action.crawler_name for action in trigger.actions):
            after.append(fire)
            continue
        chosen = {
            zlib.crc32(f"{trigger.account}/{action.job_name}".encode()) % count
            for action in trigger.actions
        }
        if len(chosen) > 1:
            after.append(fire)
        else:
            lanes[chosen.pop() if chosen else 0].append(fire)
    return lanes, after


def _is_and(trigger: Trigger) -> bool:
    return trigger.predicate is not None and trigger.predicate.logical is Logical.AND


def _on_crawlers(trigger: Trigger) -> bool:
    return trigger.predicate is not None and any(
        c.crawler_name for c in trigger.predicate.conditions
    )
