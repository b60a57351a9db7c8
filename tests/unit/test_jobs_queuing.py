"""Job run queuing (Glue's JobRunQueuingEnabled): the scheduler against an executor double with
room for a given number of runs, and a real SQL store on a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.common.db import Database
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.jobs.executor import CapacityUnavailable, LaunchInfo, LaunchRequest
from sluice.control_plane.jobs.model import JobRun, RunInput, RunState
from sluice.control_plane.jobs.scheduler import Scheduler, SchedulerConfig
from sluice.control_plane.jobs.schema import upgrade_schema
from sluice.control_plane.jobs.sql_store import SqlJobStore
from tests.unit.test_jobs_support import FakeClock, FakeExecutor, eventually, job_input

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
OTHER = "210987654321"
QUEUED = {"job_run_queuing_enabled": True}


class RoomyExecutor(FakeExecutor):
    """A FakeExecutor with room for `room` runs at once; a run holds its room until forgotten.
    available=False makes launches fail as an agent that is not up does (not a lack of room)."""

    def __init__(self, clock: FakeClock, room: int) -> None:
        super().__init__(clock)
        self.room = room
        self.available = True
        self.holding: set[str] = set()

    def launch(self, request: LaunchRequest) -> LaunchInfo:
        with self._lock:
            if not self.available:
                self.launched.append(request)
                raise CapacityUnavailable("the agent is starting", no_room=False)
            if request.run_id not in self.holding and len(self.holding) >= self.room:
                self.launched.append(request)
                raise CapacityUnavailable("max_environments (1) are busy")
            self.holding.add(request.run_id)
        return super().launch(request)

    def forget(self, run_id: str) -> None:
        with self._lock:
            self.holding.discard(run_id)
        super().forget(run_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[SqlJobStore]:
    db = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade_schema(db)
    store = SqlJobStore(db, PageTokenCodec(b"queuing-unit-tests-key"), clock=clock)
    for account in (ACCOUNT, OTHER):
        store.put_script(account, "etl.py", b"print('hello')\n")
    yield store
    db.dispose()


@pytest.fixture
def executor(clock: FakeClock) -> RoomyExecutor:
    return RoomyExecutor(clock, room=1)


@pytest.fixture
def scheduler(store: SqlJobStore, executor: RoomyExecutor, clock: FakeClock) -> Iterator[Scheduler]:
    config = SchedulerConfig(
        poll_interval_s=0.01,
        waiting_retry_s=5.0,
        capacity_attempts=3,
        capacity_window_s=600.0,
        capacity_backoff_max_s=8.0,
    )
    scheduler = Scheduler(store, executor, config=config, clock=clock)
    scheduler.start()
    yield scheduler
    scheduler.stop()


def start(
    store: SqlJobStore,
    scheduler: Scheduler,
    run_input: RunInput | None = None,
    *,
    account: str = ACCOUNT,
    job: str = "etl",
) -> str:
    run_id = store.create_run(account, job, run_input or RunInput()).id
    scheduler.wake()
    return run_id


def get(store: SqlJobStore, run_id: str, *, account: str = ACCOUNT, job: str = "etl") -> JobRun:
    return store.get_run(account, job, run_id)


def wait_state(
    store: SqlJobStore, run_id: str, state: RunState, *, account: str = ACCOUNT, job: str = "etl"
) -> JobRun:
    eventually(
        lambda: get(store, run_id, account=account, job=job).state is state, f"run to be {state}"
    )
    return get(store, run_id, account=account, job=job)


def launches_of(executor: FakeExecutor, run_id: str) -> int:
    return sum(1 for request in executor.launched if request.run_id == run_id)


def test_queued_runs_wait_in_order_and_start_as_room_appears(
    store: SqlJobStore, scheduler: Scheduler, executor: RoomyExecutor
) -> None:
    store.create_job(ACCOUNT, job_input(max_concurrent_runs=5, glue_properties=QUEUED))
    first = start(store, scheduler)
    wait_state(store, first, RunState.RUNNING)
    second = start(store, scheduler)
    wait_state(store, second, RunState.WAITING)
    third = start(store, scheduler)
    wait_state(store, third, RunState.WAITING)
    assert get(store, second).job_run_queuing_enabled
    # The third queued behind the second without trying for room of its own.
    assert launches_of(executor, third) == 0

    executor.finish(first)

    # Room appeared when the first ended: the head of the queue starts at once (the clock
    # has not moved, so not by waiting_retry_s), the next one keeps waiting.
    wait_state(store, second, RunState.RUNNING)
    scheduler.run_once()
    assert get(store, third).state is RunState.WAITING
    assert launches_of(executor, third) == 0

    executor.finish(second)
    wait_state(store, third, RunState.RUNNING)
    assert [r.run_id for r in executor.launched if r.run_id != first][-1] == third


def test_each_account_has_its_own_queue(
    store: SqlJobStore, scheduler: Scheduler, executor: RoomyExecutor, clock: FakeClock
) -> None:
    for account in (ACCOUNT, OTHER):
        store.create_job(account, job_input(max_concurrent_runs=5, glue_properties=QUEUED))
    first = start(store, scheduler)
    wait_state(store, first, RunState.RUNNING)
    mine = start(store, scheduler)
    wait_state(store, mine, RunState.WAITING)
    theirs = start(store, scheduler, account=OTHER)
    # The other account's run is the head of its own queue: it tries for room itself.
    wait_state(store, theirs, RunState.WAITING, account=OTHER)
    eventually(lambda: launches_of(executor, theirs) >= 1, "the other account's run to try")

    executor.room = 3
    clock.advance(5)  # no run ended: the heads try again after waiting_retry_s

    wait_state(store, theirs, RunState.RUNNING, account=OTHER)
    wait_state(store, mine, RunState.RUNNING)


def test_a_queued_run_times_out_while_it_waits(
    store: SqlJobStore, scheduler: Scheduler, executor: RoomyExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input(max_concurrent_runs=5, timeout=1, glue_properties=QUEUED))
    first = start(store, scheduler)
    wait_state(store, first, RunState.RUNNING)
    waiting = start(store, scheduler, RunInput(timeout=2))
    wait_state(store, waiting, RunState.WAITING)

    clock.advance(61)
    wait_state(store, first, RunState.TIMEOUT)
    wait_state(store, waiting, RunState.RUNNING)  # the first's room went to it
    clock.advance(60)

    run = wait_state(store, waiting, RunState.TIMEOUT)
    assert run.error_message == "Job run timed out after 2 minutes"


def test_the_run_overrides_its_job(
    store: SqlJobStore, scheduler: Scheduler, executor: RoomyExecutor
) -> None:
    store.create_job(ACCOUNT, job_input(max_concurrent_runs=5))
    first = start(store, scheduler)
    wait_state(store, first, RunState.RUNNING)

    queued = start(store, scheduler, RunInput(job_run_queuing_enabled=True))
    run = wait_state(store, queued, RunState.WAITING)
    assert run.job_run_queuing_enabled

    store.update_job(ACCOUNT, job_input(max_concurrent_runs=5, glue_properties=QUEUED))
    not_queued = start(store, scheduler, RunInput(job_run_queuing_enabled=False))
    eventually(lambda: launches_of(executor, not_queued) >= 1, "the unqueued run to try")
    assert get(store, not_queued).state is RunState.STARTING
    assert not get(store, not_queued).job_run_queuing_enabled


def test_without_queuing_a_run_with_no_room_is_tried_again_then_fails(
    store: SqlJobStore, scheduler: Scheduler, executor: RoomyExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input(max_concurrent_runs=5))
    first = start(store, scheduler)
    wait_state(store, first, RunState.RUNNING)
    second = start(store, scheduler)
    eventually(lambda: launches_of(executor, second) == 1, "a first attempt")

    # It stays STARTING (Glue shows WAITING only to runs that opted into queuing) and is
    # tried again only once its delay has passed: 5 s, then 8 s (the cap).
    scheduler.run_once()
    assert get(store, second).state is RunState.STARTING
    assert launches_of(executor, second) == 1
    clock.advance(5)
    eventually(lambda: launches_of(executor, second) == 2, "a second attempt")
    clock.advance(8)
    run = wait_state(store, second, RunState.FAILED)

    assert launches_of(executor, second) == 3
    assert run.error_message.startswith("ResourceNumberLimitExceededException: ")
    assert "after 3 attempts" in run.error_message
    assert "max_environments (1) are busy" in run.error_message
    assert get(store, first).state is RunState.RUNNING


def test_without_queuing_a_run_starts_when_room_appears_between_attempts(
    store: SqlJobStore, scheduler: Scheduler, executor: RoomyExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input(max_concurrent_runs=5))
    first = start(store, scheduler)
    wait_state(store, first, RunState.RUNNING)
    second = start(store, scheduler)
    eventually(lambda: launches_of(executor, second) == 1, "a first attempt")

    executor.finish(first)
    wait_state(store, first, RunState.SUCCEEDED)
    clock.advance(5)

    wait_state(store, second, RunState.RUNNING)


def test_an_unavailable_executor_does_not_count_as_no_room(
    store: SqlJobStore, scheduler: Scheduler, executor: RoomyExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input())
    executor.available = False
    run_id = start(store, scheduler)
    # More attempts than capacity_attempts (3), each after waiting_retry_s (no back-off).
    for attempt in range(1, 5):
        eventually(lambda a=attempt: launches_of(executor, run_id) == a, f"attempt {attempt}")
        if attempt < 4:
            clock.advance(5)
    assert get(store, run_id).state is RunState.STARTING

    executor.available = True
    clock.advance(5)
    wait_state(store, run_id, RunState.RUNNING)
