"""The trigger scheduler under load, in process, on SQLite (or PostgreSQL with --db).

    .venv/bin/python benchmarks/scheduler_bench.py [--scheduled 10000] [--chains 100]
        [--chain-length 10] [--db postgresql://postgres@127.0.0.1:5432/test]

Makes --scheduled SCHEDULED triggers (over 100 jobs) whose stored due time is the same instant
a few seconds ahead, and --chains chains of --chain-length CONDITIONAL triggers (each fires on
its job's run SUCCEEDED and starts the next job of its chain). A TriggerFirer with the real clock
and its default settings (0.25 s polls, 500 fires per transaction, 2 lanes, 3 s read-ahead) does
the firing, in its own thread, resolving each job's network as a server does (a read of the job;
the bench's jobs have no connection); nothing
launches the runs (this measures the scheduler, not Ray): the bench ends the chains' runs itself
as soon as they are created, and wakes the firer as a server's scheduler does when a run
ends. The scheduled triggers are made due a little more than the firer's
prefetch_s after it starts, as triggers due at a later time than a server's start are. Prints
one JSON line:

- trigger_fire_lag_p99_s (and _p50_s, _max_s): due time -> the fire's transaction committed,
  i.e. the run created as StartJobRun would have (target <= 1 s).
- conditional_lag_p99_s (and _p50_s): the watched run ended (its transaction committed) -> the
  next run of the chain created (target <= 1 s).
- scheduler_cpu_s_per_1000_fires: this process's CPU time while the scheduled triggers fired,
  per 1000 fires (the database's own CPU is not in it on PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import func, select, update

from sluice.common.db import Database, sqlite_url
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.jobs.model import (
    CommandName,
    JobCommand,
    JobInput,
    RunInput,
    RunState,
)
from sluice.control_plane.jobs.rows import JOB_RUNS
from sluice.control_plane.jobs.schema import upgrade_schema
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.triggers.firer import FirerConfig, TriggerFirer
from sluice.control_plane.jobs.triggers.model import (
    Action,
    Condition,
    Logical,
    Predicate,
    TriggerInput,
    TriggerType,
)
from sluice.control_plane.jobs.triggers.network import job_network
from sluice.control_plane.jobs.triggers.rows import TRIGGERS
from sluice.control_plane.jobs.triggers.sql_store import SqlTriggerStore
from sluice.control_plane.jobs.triggers.store import FireResult

ROLE = "bench"
YEARLY = "cron(0 0 1 1 ? *)"
KEY = b"scheduler-bench-page-token-key-0"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def job(name: str) -> JobInput:
    return JobInput(
        name=name,
        role=ROLE,
        command=JobCommand(CommandName.PYTHONSHELL, "sluice://scripts/none.py"),
        max_concurrent_runs=1000,
    )


def scheduled(db: Database, jobs: SqlJobStore, triggers: SqlTriggerStore, count: int) -> dict:
    account = f"bench-{uuid.uuid4().hex[:8]}"
    names = [f"s{i:03d}" for i in range(100)]
    for name in names:
        jobs.create_job(account, job(name))
    for i in range(count):
        triggers.create_trigger(
            account,
            TriggerInput(
                name=f"t{i:05d}",
                type=TriggerType.SCHEDULED,
                schedule=YEARLY,
                actions=(Action(names[i % len(names)], role=ROLE),),
                start_on_creation=True,
            ),
        )
    # Due after the firer has had time to read them ahead (FirerConfig.prefetch_s), as a
    # server's firer does for triggers due at a later time than its start.
    config = FirerConfig()
    due = datetime.now(UTC) + timedelta(seconds=config.prefetch_s + 2)
    with db.write() as conn:
        conn.execute(update(TRIGGERS).where(TRIGGERS.c.account == account).values(next_fire_at=due))
    lags: list[float] = []
    done = threading.Event()

    def fired(result: FireResult) -> None:
        if result.runs:
            lags.append((datetime.now(UTC) - due).total_seconds())
            if len(lags) >= count:
                done.set()

    firer = TriggerFirer(triggers, job_network(jobs, None), on_fired=fired, config=config)
    # The firer's own thread, its polls and wake-ups as on a server; CPU from its start (reading
    # ahead is part of the fires' cost).
    cpu = time.process_time()
    firer.start()
    try:
        if not done.wait(600):
            raise RuntimeError(f"only {len(lags)} of {count} scheduled triggers fired")
    finally:
        firer.stop()
    cpu = time.process_time() - cpu
    return {
        "scheduled_triggers": count,
        "trigger_fire_lag_p50_s": round(statistics.median(lags), 3),
        "trigger_fire_lag_p99_s": round(percentile(lags, 0.99), 3),
        "trigger_fire_lag_max_s": round(max(lags), 3),
        "scheduler_cpu_s_per_1000_fires": round(cpu / count * 1000, 3),
    }


def conditional(jobs: SqlJobStore, triggers: SqlTriggerStore, chains: int, length: int) -> dict:
    account = f"bench-{uuid.uuid4().hex[:8]}"
    for c in range(chains):
        for i in range(length + 1):
            jobs.create_job(account, job(f"c{c:03d}-{i:02d}"))
        for i in range(length):
            triggers.create_trigger(
                account,
                TriggerInput(
                    name=f"c{c:03d}-{i:02d}",
                    type=TriggerType.CONDITIONAL,
                    predicate=Predicate(
                        Logical.AND, (Condition(f"c{c:03d}-{i:02d}", RunState.SUCCEEDED),)
                    ),
                    actions=(Action(f"c{c:03d}-{i + 1:02d}", role=ROLE),),
                    start_on_creation=True,
                ),
            )
    started: queue.Queue[tuple[str, str, float]] = queue.Queue()
    ended_at: dict[str, float] = {}
    lags: list[float] = []
    lock = threading.Lock()

    def fired(result: FireResult) -> None:
        now = time.monotonic()
        if result.account != account:
            return
        with lock:
            lags.append(now - ended_at[result.trigger_name])
        for job_name, run_id in result.runs:
            started.put((job_name, run_id, now))

    def end(job_name: str, run_id: str) -> None:
        jobs.transition(run_id, {RunState.STARTING}, RunState.RUNNING)
        # Taken before the run ends (the trigger may fire before this thread runs again): the
        # lag includes the ending transaction, an upper bound.
        with lock:
            ended_at[job_name] = time.monotonic()
        jobs.transition(run_id, {RunState.RUNNING}, RunState.SUCCEEDED)
        # As a server's scheduler does once a run has ended (Scheduler on_run_ended).
        firer.wake()

    firer = TriggerFirer(triggers, job_network(jobs, None), on_fired=fired)
    firer.start()
    try:
        firer.wake()
        time.sleep(0.5)  # its first pass (a sweep) sees no runs: the chains start after it
        for c in range(chains):
            name = f"c{c:03d}-00"
            end(name, jobs.create_run(account, name, RunInput()).id)
        expected = chains * length
        deadline = time.monotonic() + 600
        while len(lags) < expected and time.monotonic() < deadline:
            try:
                job_name, run_id, _ = started.get(timeout=1)
            except queue.Empty:
                continue
            end(job_name, run_id)
    finally:
        firer.stop()
    return {
        "conditional_triggers": chains * length,
        "conditional_fires": len(lags),
        "conditional_lag_p50_s": round(statistics.median(lags), 3),
        "conditional_lag_p99_s": round(percentile(lags, 0.99), 3),
    }


@contextmanager
def _schema(url: str | None) -> Iterator[str | None]:
    """For PostgreSQL, url in a fresh schema of its own, dropped at the end."""
    if not url:
        yield None
        return
    schema = f"sluice_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduled", type=int, default=10_000)
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--chain-length", type=int, default=10)
    parser.add_argument(
        "--db", help="a PostgreSQL URL, used in a schema of its own (default: SQLite, temp dir)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sluice-sched-bench-") as tmp, _schema(args.db) as url:
        db = Database(url or sqlite_url(Path(tmp)))
        try:
            upgrade_schema(db)
            jobs = SqlJobStore(db, PageTokenCodec(KEY))
            triggers = SqlTriggerStore(db, PageTokenCodec(KEY))
            figures = {"database": db.engine.dialect.name}
            figures |= scheduled(db, jobs, triggers, args.scheduled)
            figures |= conditional(jobs, triggers, args.chains, args.chain_length)
            with db.read() as conn:
                figures["runs_created"] = conn.execute(
                    select(func.count()).select_from(JOB_RUNS)
                ).scalar()
        finally:
            db.dispose()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
