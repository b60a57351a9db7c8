"""Catalog benchmark: starts a real control plane and prints one JSON line of figures.

    python benchmarks/catalog_bench.py                  # embedded SQLite in a temporary data dir
    python benchmarks/catalog_bench.py --db postgresql://postgres@127.0.0.1:5432/test

With --db postgresql://..., a fresh schema is created for the run and dropped afterwards.
Figures: GetTable latency (one client) and throughput (4 client processes), loading 100,000
partitions with BatchCreatePartition (100 a call, Glue's limit), a selective GetPartitions
(about 30 of the 100,000) and paging through all of them, all with authentication and the audit
trail on (as served). Then
`audit_overhead_ratio`: GetTable throughput of a server with authentication and audit off
(--insecure-no-auth) divided by that of the same server with them on.

The same GetTable and a selective GetPartitions through boto3 and the Glue door (AWS JSON 1.1,
SigV4) come from benchmarks/glue_bench.py on a server of their own: glue_get_table_p50_ms,
glue_get_table_p99_ms, glue_get_table_rps (--clients boto3 processes), glue_get_partitions_*,
and the CPU per call of the server through the door and over plain gRPC and of the boto3 client
(--no-glue leaves them out). glue_load_average_1m says how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluice.catalog.v1 import catalog_pb2 as pb
from sluice.catalog.v1 import catalog_pb2_grpc as pb_grpc
from sluice.catalog.v1 import types_pb2 as t
from sluice.common.limits import limits_of
from sluice.sdk.auth import BearerToken

REGIONS = [f"r{i}" for i in range(10)]
DAYS = 10_000
FIRST_DAY = date(2000, 1, 1)
DB, TABLE = "bench", "events"
TOKEN = "slk_00000000000000bb_" + "b" * 43


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _postgres_schema(url: str) -> Iterator[str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _channel(address: str) -> grpc.Channel:
    raw = grpc.insecure_channel(address)
    return grpc.intercept_channel(raw, BearerToken(TOKEN))


@contextmanager
def _server(db_url: str | None, auth: bool = True) -> Iterator[str]:
    with _server_process(db_url, auth=auth) as (address, _proc):
        yield address


@contextmanager
def _server_process(
    db_url: str | None,
    *,
    auth: bool = True,
    wrapper: Sequence[str] = (),
    start_timeout_s: float = 60.0,
    stop_timeout_s: float = 20.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A server on a free loopback port with a temporary data dir, SERVING; yields its address
    and process. wrapper prefixes the command (e.g. valgrind and its options)."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as data_dir:
        cmd = [
            *wrapper,
            sys.executable,
            "-m",
            "control_plane",
            "--port",
            str(port),
            "--data-dir",
            data_dir,
            "--plaintext",
            "--pool-size",
            "0",
        ]
        cmd += ["--log-level", "WARNING"]
        if db_url:
            cmd += ["--db", db_url]
        if not auth:
            cmd += ["--insecure-no-auth"]
        env = {**os.environ, "SLUICE_BOOTSTRAP_TOKEN": TOKEN}
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        address = f"127.0.0.1:{port}"
        try:
            _wait_serving(address, proc, start_timeout_s)
            yield address, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_serving(address: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                detail = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"server exited: {detail}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise SystemExit(f"server did not become healthy within {timeout_s:.0f} s")


def _setup(stub: pb_grpc.CatalogServiceStub) -> None:
    try:
        stub.GetTable(pb.GetTableRequest(database_name=DB, name=TABLE))
        return  # a server sharing the PostgreSQL schema made it already
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
    stub.CreateDatabase(pb.CreateDatabaseRequest(database_input=t.DatabaseInput(name=DB)))
    columns = [t.Column(name=f"c{i}", type="string") for i in range(8)]
    stub.CreateTable(
        pb.CreateTableRequest(
            database_name=DB,
            table_input=t.TableInput(
                name=TABLE,
                table_type="EXTERNAL_TABLE",
                storage_descriptor=t.StorageDescriptor(
                    columns=columns,
                    location="file:///data/events",
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    serde_info=t.SerDeInfo(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    ),
                ),
                partition_keys=[
                    t.Column(name="region", type="string"),
                    t.Column(name="dt", type="date"),
                ],
                parameters={"classification": "parquet"},
            ),
        )
    )


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _get_table_latency(stub: pb_grpc.CatalogServiceStub, n: int) -> tuple[float, float]:
    request = pb.GetTableRequest(database_name=DB, name=TABLE)
    for _ in range(200):
        stub.GetTable(request)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        stub.GetTable(request)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), _percentile(samples, 0.99)


def _throughput_worker(address: str, seconds: float, start_at: float, out: mp.Queue) -> None:
    with _channel(address) as channel:
        stub = pb_grpc.CatalogServiceStub(channel)
        request = pb.GetTableRequest(database_name=DB, name=TABLE)
        stub.GetTable(request)
        while time.time() < start_at:
            time.sleep(0.001)
        calls = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            stub.GetTable(request)
            calls += 1
        out.put(calls)


def _get_table_rps(address: str, clients: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 3
    procs = [
        ctx.Process(target=_throughput_worker, args=(address, seconds, start_at, out))
        for _ in range(clients)
    ]
    for p in procs:
        p.start()
    total = sum(out.get(timeout=seconds + 60) for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def _partition(region: str, day: date) -> t.PartitionInput:
    value = day.isoformat()
    return t.PartitionInput(
        values=[region, value],
        storage_descriptor=t.StorageDescriptor(
            location=f"file:///data/events/region={region}/dt={value}"
        ),
    )


def _load_partitions(stub: pb_grpc.CatalogServiceStub, batch: int) -> float:
    days = [FIRST_DAY + timedelta(days=i) for i in range(DAYS)]
    inputs = [_partition(r, d) for r in REGIONS for d in days]
    start = time.perf_counter()
    for i in range(0, len(inputs), batch):
        reply = stub.BatchCreatePartition(
            pb.BatchCreatePartitionRequest(
                database_name=DB, table_name=TABLE, partition_input_list=inputs[i : i + batch]
            )
        )
        if reply.errors:
            raise SystemExit(f"unexpected partition errors: {reply.errors[0]}")
    return len(inputs) / (time.perf_counter() - start)


def _selective(stub: pb_grpc.CatalogServiceStub, n: int) -> tuple[float, float, int]:
    samples = []
    matched = 0
    for i in range(n):
        first = FIRST_DAY + timedelta(days=(i * 37) % (DAYS - 40))
        last = first + timedelta(days=29)
        expression = f"region = 'r{i % 10}' AND dt BETWEEN '{first}' AND '{last}'"
        request = pb.GetPartitionsRequest(
            database_name=DB, table_name=TABLE, expression=expression, max_results=1000
        )
        start = time.perf_counter()
        reply = stub.GetPartitions(request)
        samples.append((time.perf_counter() - start) * 1000)
        matched = len(reply.partitions)
    return statistics.median(samples), _percentile(samples, 0.99), matched


def _full_scan(stub: pb_grpc.CatalogServiceStub) -> tuple[float, int]:
    start = time.perf_counter()
    token, seen = "", 0
    while True:
        reply = stub.GetPartitions(
            pb.GetPartitionsRequest(
                database_name=DB, table_name=TABLE, next_token=token, max_results=1000
            )
        )
        seen += len(reply.partitions)
        token = reply.next_token
        if not token:
            break
    return time.perf_counter() - start, seen


def _rps(db_url: str | None, args: argparse.Namespace, auth: bool) -> float:
    with _server(db_url, auth=auth) as address, _channel(address) as channel:
        _setup(pb_grpc.CatalogServiceStub(channel))
        return _get_table_rps(address, args.clients, args.seconds)


def run(db_url: str | None, args: argparse.Namespace) -> dict[str, object]:
    with _server(db_url) as address, _channel(address) as channel:
        stub = pb_grpc.CatalogServiceStub(channel)
        _setup(stub)
        p50, p99 = _get_table_latency(stub, args.latency_calls)
        rps = _get_table_rps(address, args.clients, args.seconds)
        load = _load_partitions(stub, args.batch)
        sel50, sel99, matched = _selective(stub, args.selective_calls)
        scan_s, scanned = _full_scan(stub)
        if scanned != len(REGIONS) * DAYS:
            raise SystemExit(f"full scan saw {scanned} partitions")
    # Measured again, one right after the other, so both see the same machine load.
    rps_on = _rps(db_url, args, auth=True)
    rps_off = _rps(db_url, args, auth=False)
    return {
        "db": "postgresql" if db_url else "sqlite",
        "get_table_p50_ms": round(p50, 3),
        "get_table_p99_ms": round(p99, 3),
        "get_table_rps": round(rps, 1),
        "get_table_clients": args.clients,
        "batch_create_partitions_per_s": round(load, 1),
        "batch_size": args.batch,
        "get_partitions_selective_p50_ms": round(sel50, 3),
        "get_partitions_selective_p99_ms": round(sel99, 3),
        "get_partitions_selective_matched": matched,
        "get_partitions_full_scan_s": round(scan_s, 3),
        "partitions": scanned,
        "get_table_rps_auth_audit_on": round(rps_on, 1),
        "get_table_rps_auth_audit_off": round(rps_off, 1),
        "audit_overhead_ratio": round(rps_off / rps_on, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="postgresql://... (default: embedded SQLite)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-calls", type=int, default=2000)
    parser.add_argument("--selective-calls", type=int, default=200)
    parser.add_argument(
        "--no-glue", action="store_true", help="leave out the Glue door's figures (boto3)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=limits_of("BatchCreatePartition").max_items,
        help="partitions per BatchCreatePartition call (Glue's limit, 100, by default)",
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if args.db:
        with _postgres_schema(args.db) as url:
            figures = run(url, args)
    else:
        figures = run(None, args)
    if not args.no_glue:
        figures.update(_glue_figures(args))
    print(json.dumps(figures))


def _glue_figures(args: argparse.Namespace) -> dict[str, object]:
    """glue_bench's figures (GetTable and GetPartitions through boto3 and the Glue door) on a
    database like this run's."""
    import glue_bench  # beside this file; it imports this module, so not at the top

    glue_args = argparse.Namespace(
        calls=args.latency_calls, clients=args.clients, seconds=args.seconds
    )
    if args.db:
        with _postgres_schema(args.db) as url:
            figures = glue_bench.run(url, glue_args)
    else:
        figures = glue_bench.run(None, glue_args)
    kept = {
        key: value for key, value in figures.items() if key.startswith(("glue_", "grpc_", "boto3_"))
    }
    kept["glue_load_average_1m"] = figures["load_average_1m"]
    return kept


if __name__ == "__main__":
    main()
