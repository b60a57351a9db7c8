"""Catalog scale and audit figures of issue 18: one JSON line per database, with the machine's load.

    python benchmarks/scale_bench.py                       # SQLite and PostgreSQL, full sizes
    python benchmarks/scale_bench.py --quick               # a tenth of every size, short runs
    python benchmarks/scale_bench.py --db sqlite           # one database only

Every measured call goes through a real server (gRPC, authentication and the audit trail on,
as served). Figures:
- get_table_rps (--clients processes), get_table_p50_ms / get_table_p99_ms (one client).
- audit_overhead_ratio: a mixed workload (GetTable, GetPartitions, UpdateTable with VersionId,
  BatchCreatePartition of 100) from --clients processes, timed from the first call until the
  audit writer's backlog is drained (a marker call made after all the others is found by
  QueryAuditEvents; the writer sequences in order), on a server with auth and audit on, divided
  by the same workload's time on a server started with --insecure-no-auth (nothing audited).
- batch_create_partitions_per_s: 100 a call (Glue's limit), audit on, into an empty table.
- Scale: a table of --partitions (1,000,000) partitions: scale_batch_create_partitions_per_s
  (100 a call, audit on, into the loaded table) and get_partitions_selective_p99_ms (about 30
  partitions by region and date range); --tables (100,000) tables across --databases (1,000):
  search_tables_p99_ms (a text that matches a few tables); --runs (10,000) finished runs of one
  job: get_job_runs_p99_ms (the first page, 100 runs).

To save time the scale loads are inserted directly through the server's own stores (the same
SqlCatalogStore as the server, on its database, in this process, 100 partitions a call; runs as
finished rows of the job, one statement per 1,000), never through the measured path. On
PostgreSQL each load is followed by ANALYZE, which autovacuum would run within a minute or so.
*_load_1m is the load average read after each figure; the machine is shared, read them together.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
from catalog_bench import (
    DB,
    TABLE,
    TOKEN,
    _channel,
    _free_port,
    _get_table_latency,
    _get_table_rps,
    _percentile,
    _postgres_schema,
    _setup,
    _wait_serving,
)
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.catalog.v1 import catalog_pb2 as pb
from sluice.catalog.v1 import catalog_pb2_grpc as pb_grpc
from sluice.catalog.v1 import types_pb2 as t
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from sluice.jobs.v1 import types_pb2 as jt

REGIONS = [f"r{i}" for i in range(10)]
FIRST_DAY = date(2000, 1, 1)
BIG = "big"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def _load() -> float:
    return round(os.getloadavg()[0], 2)


@contextmanager
def _server(data_dir: str, db_url: str | None, *, auth: bool = True) -> Iterator[str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "control_plane", "--port", str(port), "--data-dir", data_dir]
    cmd += ["--plaintext", "--pool-size", "0", "--log-level", "WARNING"]
    if db_url:
        cmd += ["--db", db_url]
    if not auth:
        cmd += ["--insecure-no-auth"]
    env = {**os.environ, "SLUICE_BOOTSTRAP_TOKEN": TOKEN}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    address = f"127.0.0.1:{port}"
    try:
        _wait_serving(address, proc, 120)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _partition(region: str, day: date) -> t.PartitionInput:
    value = day.isoformat()
    return t.PartitionInput(
        values=[region, value],
        storage_descriptor=t.StorageDescriptor(location=f"file:///d/region={region}/dt={value}"),
    )


def _create_table(stub: pb_grpc.CatalogServiceStub, name: str) -> None:
    stub.CreateTable(
        pb.CreateTableRequest(
            database_name=DB,
            table_input=t.TableInput(
                name=name,
                table_type="EXTERNAL_TABLE",
                storage_descriptor=t.StorageDescriptor(
                    columns=[t.Column(name="c0", type="string")], location=f"file:///d/{name}"
                ),
                partition_keys=[
                    t.Column(name="region", type="string"),
                    t.Column(name="dt", type="date"),
                ],
            ),
        )
    )


def _batch_create(stub: pb_grpc.CatalogServiceStub, table: str, first: date, n: int) -> float:
    """n partitions (n/10 days in each region from first) 100 a call; partitions per second."""
    days = [first + timedelta(days=i) for i in range(n // len(REGIONS))]
    inputs = [_partition(r, d) for r in REGIONS for d in days]
    start = time.perf_counter()
    for i in range(0, len(inputs), 100):
        reply = stub.BatchCreatePartition(
            pb.BatchCreatePartitionRequest(
                database_name=DB, table_name=table, partition_input_list=inputs[i : i + 100]
            )
        )
        if reply.errors:
            raise SystemExit(f"unexpected partition errors: {reply.errors[0]}")
    return len(inputs) / (time.perf_counter() - start)


# --- audit overhead: a mixed workload timed until the audit backlog is drained -------------


def _mixed_worker(address: str, worker: int, rounds: int, start_at: float, out: mp.Queue) -> None:
    with _channel(address) as channel:
        stub = pb_grpc.CatalogServiceStub(channel)
        table = f"mixed{worker}"
        get_table = pb.GetTableRequest(database_name=DB, name=table)
        version = stub.GetTable(get_table).table.version_id
        while time.time() < start_at:
            time.sleep(0.001)
        day = FIRST_DAY
        for i in range(rounds):
            for _ in range(8):
                stub.GetTable(get_table)
            expression = f"region = 'r{i % 10}' AND dt BETWEEN '{FIRST_DAY}' AND '{day}'"
            stub.GetPartitions(
                pb.GetPartitionsRequest(
                    database_name=DB, table_name=table, expression=expression, max_results=100
                )
            )
            stub.UpdateTable(
                pb.UpdateTableRequest(
                    database_name=DB,
                    table_input=t.TableInput(
                        name=table,
                        table_type="EXTERNAL_TABLE",
                        storage_descriptor=t.StorageDescriptor(
                            columns=[t.Column(name="c0", type="string")],
                            location=f"file:///d/{table}",
                        ),
                        partition_keys=[
                            t.Column(name="region", type="string"),
                            t.Column(name="dt", type="date"),
                        ],
                        parameters={"round": str(i)},
                    ),
                    version_id=version,
                    skip_archive=True,
                )
            )
            version = stub.GetTable(get_table).table.version_id
            days = [day + timedelta(days=k) for k in range(10)]
            stub.BatchCreatePartition(
                pb.BatchCreatePartitionRequest(
                    database_name=DB,
                    table_name=table,
                    partition_input_list=[_partition(r, d) for r in REGIONS for d in days],
                )
            )
            day += timedelta(days=10)
        out.put(rounds)


def _mixed_seconds(address: str, clients: int, rounds: int, auth: bool) -> float:
    with _channel(address) as channel:
        stub = pb_grpc.CatalogServiceStub(channel)
        _setup(stub)
        for worker in range(clients):
            _create_table(stub, f"mixed{worker}")
        ctx = mp.get_context("spawn")
        out: mp.Queue = ctx.Queue()
        start_at = time.time() + 3
        procs = [
            ctx.Process(target=_mixed_worker, args=(address, w, rounds, start_at, out))
            for w in range(clients)
        ]
        for p in procs:
            p.start()
        for _ in procs:
            out.get(timeout=1800)
        for p in procs:
            p.join()
        if auth:
            _drain(channel)
        return time.time() - start_at


def _drain(channel: grpc.Channel) -> None:
    """Returns once the audit trail holds a marker call made after every other: the writer
    writes in order, so the backlog before it is written too."""
    catalog = pb_grpc.CatalogServiceStub(channel)
    audit = audit_pb2_grpc.AuditServiceStub(channel)
    marker = f"drain-{uuid.uuid4().hex[:12]}"
    since = Timestamp()
    since.FromDatetime(datetime.now(UTC) - timedelta(seconds=5))
    with suppress(grpc.RpcError):
        catalog.GetDatabase(pb.GetDatabaseRequest(name=marker))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        reply = audit.QueryAuditEvents(
            audit_pb2.QueryAuditEventsRequest(
                resource=f"*{marker}*", start_time=since, max_results=1
            )
        )
        if reply.events:
            return
        time.sleep(0.005)
    raise SystemExit("the audit backlog did not drain within 600 s")


# --- scale loads, straight through the server's stores -------------------------------------


def _catalog_store(data_dir: str, db_url: str | None):
    from sluice.catalog.core.store.sql import CatalogQuotas, SqlCatalogStore
    from sluice.common.paging import PageTokenCodec
    from sluice.common.secrets import load_secret_box
    from sluice.control_plane.app import PAGE_TOKEN_KEY_PURPOSE
    from sluice.control_plane.database import open_database

    secrets = load_secret_box(Path(data_dir))
    db = open_database(db_url or f"sqlite:///{data_dir}/sluice.db")
    codec = PageTokenCodec(secrets.derive_key(PAGE_TOKEN_KEY_PURPOSE))
    quotas = CatalogQuotas(databases_per_account=1_000_000, tables_per_database=1_000_000)
    return db, SqlCatalogStore(db, codec, secrets=secrets, quotas=quotas)


def _load_partitions(store, account: str, table: str, n: int) -> None:
    from sluice.catalog.core.model import PartitionInput, StorageDescriptor

    days = n // len(REGIONS)
    batch: list[PartitionInput] = []
    for d in range(days):
        value = (FIRST_DAY + timedelta(days=d)).isoformat()
        for r in REGIONS:
            sd = StorageDescriptor(location=f"file:///d/region={r}/dt={value}")
            batch.append(PartitionInput(values=(r, value), storage_descriptor=sd))
        if len(batch) >= 100:  # the store checks Glue's limit too
            if store.batch_create_partition(account, DB, table, batch):
                raise SystemExit("direct partition load failed")
            batch = []
    if batch and store.batch_create_partition(account, DB, table, batch):
        raise SystemExit("direct partition load failed")


def _load_tables(store, account: str, databases: int, tables: int) -> None:
    from sluice.catalog.core.model import Column, DatabaseInput, StorageDescriptor, TableInput

    per_db = tables // databases
    for d in range(databases):
        name = f"scale{d:04d}"
        store.create_database(account, DatabaseInput(name=name))
        for i in range(per_db):
            table = f"t{d:04d}_{i:03d}"
            store.create_table(
                account,
                name,
                TableInput(
                    name=table,
                    description=f"table {i} of {name}",
                    storage_descriptor=StorageDescriptor(
                        columns=(Column(name="id", type="bigint"), Column(name=f"col{i}")),
                        location=f"file:///d/{name}/{table}",
                    ),
                    parameters={"classification": "parquet"},
                ),
            )


def _load_runs(db, account: str, job_name: str, n: int) -> None:
    from sqlalchemy import insert, select

    from sluice.control_plane.jobs.rows import JOB_RUNS, JOBS
    from sluice.control_plane.jobs.sql_runs import run_values

    now = datetime.now(UTC) - timedelta(days=1)
    with db.write() as conn:
        job = conn.execute(
            select(JOBS).where(JOBS.c.account == account, JOBS.c.name == job_name)
        ).one()
        rows = []
        for i in range(n):
            started = now + timedelta(seconds=i)
            values = run_values(job, started, {})
            values.update(state="SUCCEEDED", completed_on=started + timedelta(seconds=1))
            rows.append(values)
            if len(rows) == 1000:
                conn.execute(insert(JOB_RUNS), rows)
                rows = []
        if rows:
            conn.execute(insert(JOB_RUNS), rows)


def _timed(call, n: int) -> tuple[float, float]:
    for _ in range(min(20, n)):
        call(0)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), _percentile(samples, 0.99)


def run(base_url: str | None, args: argparse.Namespace) -> dict[str, object]:
    with _schema(base_url) as db_url:
        figures = _scale(db_url, args)
    # The mixed workload, on and off one right after the other (the same machine load).
    on = _mixed(base_url, args, auth=True)
    off = _mixed(base_url, args, auth=False)
    figures["mixed_calls"] = args.clients * args.rounds * 12
    figures["mixed_s_audit_on_drained"] = round(on, 3)
    figures["mixed_s_audit_off"] = round(off, 3)
    figures["audit_overhead_ratio"] = round(on / off, 3)
    figures["audit_load_1m"] = _load()
    return figures


def _mixed(base_url: str | None, args: argparse.Namespace, *, auth: bool) -> float:
    with (
        tempfile.TemporaryDirectory(prefix="sluice-scale-") as data_dir,
        _schema(base_url) as url,
        _server(data_dir, url, auth=auth) as address,
    ):
        return _mixed_seconds(address, args.clients, args.rounds, auth=auth)


def _scale(db_url: str | None, args: argparse.Namespace) -> dict[str, object]:
    f: dict[str, object] = {"db": "postgresql" if db_url else "sqlite", "quick": args.quick}
    with (
        tempfile.TemporaryDirectory(prefix="sluice-scale-") as data_dir,
        _server(data_dir, db_url) as address,
        _channel(address) as channel,
    ):
        stub = pb_grpc.CatalogServiceStub(channel)
        _setup(stub)
        account = stub.GetTable(pb.GetTableRequest(database_name=DB, name=TABLE)).table
        account_id = account.catalog_id
        p50, p99 = _get_table_latency(stub, args.latency_calls)
        f.update(get_table_p50_ms=round(p50, 3), get_table_p99_ms=round(p99, 3))
        f["get_table_rps"] = round(_get_table_rps(address, args.clients, args.seconds), 1)
        f["get_table_clients"] = args.clients
        f["get_table_load_1m"] = _load()
        print(json.dumps(f), file=sys.stderr, flush=True)
        _create_table(stub, "fresh")
        f["batch_create_partitions_per_s"] = round(
            _batch_create(stub, "fresh", FIRST_DAY, args.fresh_partitions), 1
        )
        f["batch_create_load_1m"] = _load()

        # Scale: loads straight into the server's database, calls through the server.
        db, store = _catalog_store(data_dir, db_url)
        try:
            _create_table(stub, BIG)
            start = time.perf_counter()
            _load_partitions(store, account_id, BIG, args.partitions)
            f["scale_partitions"] = args.partitions
            f["scale_partitions_direct_load_s"] = round(time.perf_counter() - start, 1)
            _analyze(db, "partitions")
            days = args.partitions // len(REGIONS)
            f["scale_batch_create_partitions_per_s"] = round(
                _batch_create(stub, BIG, FIRST_DAY + timedelta(days=days), args.fresh_partitions),
                1,
            )

            def selective(i: int) -> None:
                first = FIRST_DAY + timedelta(days=(i * 37) % (days - 40))
                last = first + timedelta(days=29)
                expr = f"region = 'r{i % 10}' AND dt BETWEEN '{first}' AND '{last}'"
                reply = stub.GetPartitions(
                    pb.GetPartitionsRequest(
                        database_name=DB, table_name=BIG, expression=expr, max_results=1000
                    )
                )
                if len(reply.partitions) != 30:
                    raise SystemExit(f"selective call matched {len(reply.partitions)}")

            sel50, sel99 = _timed(selective, args.calls)
            f["get_partitions_selective_p50_ms"] = round(sel50, 3)
            f["get_partitions_selective_p99_ms"] = round(sel99, 3)
            f["scale_partitions_load_1m"] = _load()
            print(json.dumps(f), file=sys.stderr, flush=True)

            start = time.perf_counter()
            _load_tables(store, account_id, args.databases, args.tables)
            f["scale_tables"] = args.tables
            f["scale_databases"] = args.databases
            f["scale_tables_direct_load_s"] = round(time.perf_counter() - start, 1)
            _analyze(db, "databases", "tables", "table_parameters")

            def search(i: int) -> None:
                # t0042_007 and the like: one table's name (and its own column) match.
                text = f"t{(i * 7) % args.databases:04d}_{i % 10:03d}"
                reply = stub.SearchTables(pb.SearchTablesRequest(search_text=text))
                if not reply.table_list:
                    raise SystemExit(f"search {text} found nothing")

            s50, s99 = _timed(search, args.calls)
            f["search_tables_p50_ms"] = round(s50, 3)
            f["search_tables_p99_ms"] = round(s99, 3)
            f["scale_tables_load_1m"] = _load()
            print(json.dumps(f), file=sys.stderr, flush=True)

            jobs = jobs_pb2_grpc.JobServiceStub(channel)
            jobs.CreateJob(
                jobs_pb2.CreateJobRequest(
                    name="scale-job",
                    role="arn:sluice:role/etl",
                    command=jt.JobCommand(
                        name="pythonshell", script_location="sluice://scripts/scale.py"
                    ),
                )
            )
            start = time.perf_counter()
            _load_runs(db, account_id, "scale-job", args.runs)
            f["scale_runs"] = args.runs
            f["scale_runs_direct_load_s"] = round(time.perf_counter() - start, 1)
            _analyze(db, "job_runs")

            def runs(_i: int) -> None:
                reply = jobs.GetJobRuns(
                    jobs_pb2.GetJobRunsRequest(job_name="scale-job", max_results=100)
                )
                if len(reply.job_runs) != 100:
                    raise SystemExit(f"GetJobRuns returned {len(reply.job_runs)}")

            r50, r99 = _timed(runs, args.calls)
            f["get_job_runs_p50_ms"] = round(r50, 3)
            f["get_job_runs_p99_ms"] = round(r99, 3)
            f["scale_runs_load_1m"] = _load()
        finally:
            db.dispose()
    return f


def _analyze(db, *tables: str) -> None:
    """On PostgreSQL, statistics of the tables a direct load just filled, as autovacuum would
    gather them within a minute or so of a bulk change (its nap time), so that the queries
    measured next are planned as on a server that has been running. Only those tables: stats
    of a table taken while it is still nearly empty would mislead the plans of the next load
    (where autovacuum is off, as on the machine these figures were first taken on, nothing
    would correct them). SQLite gathers none by itself, and the server never asks it to."""
    if db.is_sqlite:
        return
    with db.engine.connect() as conn:
        conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
        conn.commit()


def _schema(db_url: str | None):
    return _postgres_schema(db_url) if db_url else nullcontext(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="both", help="sqlite, both, or a postgresql://... URL")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, short runs")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    args.seconds = 3.0 if args.quick else 10.0
    args.latency_calls = 300 if args.quick else 2000
    args.calls = 100 if args.quick else 300
    args.rounds = 20 if args.quick else 100
    args.fresh_partitions = 10_000 if args.quick else 50_000
    args.partitions = 1_000_000 // scale
    args.tables = 100_000 // scale
    args.databases = 1_000 // scale
    args.runs = 10_000 // scale
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    targets: list[str | None]
    if args.db == "sqlite":
        targets = [None]
    elif args.db == "both":
        targets = [None, PG_DEFAULT]
    else:
        targets = [args.db]
    for target in targets:
        figures = run(target, args)
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
