"""The main job on embedded defaults: a real Spark ETL run by Sluice.

It starts `sluice server` (SQLite and an embedded Ray with a warm pool, in a fresh data dir),
writes a CSV dataset of sales, defines a job whose script (examples/sales_etl.py) reads it with
Spark, aggregates revenue by month and region, writes Parquet and registers the result as a
partitioned catalog table through the API; then runs it with `sluice jobs run --wait` and shows
the table, its partitions and the files. Then the same ETL written as an AWS Glue script
(examples/glue_style_etl.py: GlueContext, DynamicFrames, a sink that keeps its table in the
catalog), run unchanged as a second job on the same warm environment. Everything goes through
the `sluice` command line.

Run it with scripts/demo.sh, which installs everything first.
"""

from __future__ import annotations

import csv
import os
import random
import shlex
import shutil
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
SLUICE = str(Path(sys.executable).parent / "sluice")
JOB_SCRIPT = ROOT / "examples" / "sales_etl.py"
GLUE_SCRIPT = ROOT / "examples" / "glue_style_etl.py"
REGIONS = ("eu", "us", "apac", "latam")
PRODUCTS = ("widget", "gadget", "doohickey", "gizmo", "sprocket")
ROWS_PER_FILE = 50_000
FILES = 4
# Ray and the first warm Spark environment start in tens of seconds on two cores.
START_TIMEOUT_S = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_serving(address: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit("demo: the server exited; see its log")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise SystemExit("demo: the server did not become healthy")


def _wait_warm(address: str) -> None:
    """Wait for the pool's first environment, so the run shows a warm start."""
    from sluice.sdk import connect

    print("\nwaiting for the warm pool's first Spark environment ...", flush=True)
    started = time.monotonic()
    with connect(address) as client:
        while time.monotonic() - started < START_TIMEOUT_S:
            if client.jobs.pool_status().warm >= 1:
                print(f"warm after {time.monotonic() - started:.1f} s", flush=True)
                return
            time.sleep(0.5)
    raise SystemExit("demo: no warm environment; see the server log")


def sluice(address: str, *args: str) -> None:
    print(f"\n$ sluice {shlex.join(args)}", flush=True)
    subprocess.run([SLUICE, "--server", address, *args], check=True)


def write_sales(folder: Path) -> int:
    """CSV files of random orders over three years; the number of rows."""
    folder.mkdir(parents=True)
    rng = random.Random(7)
    first = date(2023, 1, 1)
    order_id = 0
    for index in range(FILES):
        with (folder / f"sales-{index}.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(
                ["order_id", "order_date", "region", "product", "quantity", "unit_price"]
            )
            for _ in range(ROWS_PER_FILE):
                order_id += 1
                writer.writerow(
                    [
                        order_id,
                        (first + timedelta(days=rng.randrange(3 * 365))).isoformat(),
                        rng.choice(REGIONS),
                        rng.choice(PRODUCTS),
                        rng.randint(1, 20),
                        f"{rng.uniform(2, 200):.2f}",
                    ]
                )
    return order_id


def main() -> None:
    data_dir = ROOT / ".sluice-demo"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    port = _free_port()
    address = f"127.0.0.1:{port}"
    print(f"$ sluice server --port {port} --data-dir {data_dir}", flush=True)
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(
        [SLUICE, "server", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=log,
        stderr=log,
        env={**os.environ, "SLUICE_ADDRESS": address},
    )
    try:
        _wait_serving(address, server)
        print(f"server is up on {address} (log: {data_dir / 'server.log'})")
        # Every call is authenticated: the CLI uses the operator token the server wrote.
        os.environ["SLUICE_TOKEN"] = (data_dir / "admin-token").read_text().strip()
        print(f"$ export SLUICE_TOKEN=$(cat {data_dir / 'admin-token'})")
        input_dir = data_dir / "input" / "sales"
        output_dir = data_dir / "output" / "revenue_by_month"
        glue_output_dir = data_dir / "output" / "revenue_glue"
        # The run's code acts as its sandbox's own OS user (when the server runs as root): it
        # writes the output in a directory anyone may write, like /tmp.
        output_dir.parent.mkdir()
        output_dir.parent.chmod(0o1777)
        rows = write_sales(input_dir)
        print(f"wrote {rows} orders in {FILES} CSV files under {input_dir}")

        sluice(
            address,
            "jobs",
            "create",
            "sales-etl",
            "--script",
            str(JOB_SCRIPT),
            "--role",
            "analytics",
            "--description",
            "Sales CSV to revenue by month and region (Parquet), registered in the catalog",
            "--arg",
            f"input_path={input_dir}",
            "--arg",
            f"output_path={output_dir}",
            "--arg",
            "database=sales",
            "--arg",
            "table=revenue_by_month",
        )
        # The job's runs act as role `analytics` with their own temporary token: allow them
        # exactly what the script does in the catalog.
        sluice(
            address,
            "policies",
            "put",
            "analytics-etl",
            "--role",
            "analytics",
            "--allow",
            "glue:CreateDatabase,glue:GetDatabase=database/sales",
            "--allow",
            "glue:GetTable,glue:CreateTable,glue:UpdateTable,glue:GetPartitions,"
            "glue:BatchCreatePartition=table/sales/revenue_by_month",
            "--allow",
            "glue:GetTable,glue:CreateTable,glue:UpdateTable,glue:GetPartitions,"
            "glue:BatchCreatePartition=table/sales/revenue_glue",
        )
        sluice(address, "jobs", "get", "sales-etl")
        _wait_warm(address)
        sluice(address, "pool", "status")
        sluice(address, "jobs", "run", "sales-etl", "--wait")
        sluice(address, "runs", "list", "sales-etl")
        # Who made what: the operator the job; the run, as its own principal run/<run id>, the
        # database, the table and its partitions (the rest of the trail is reads and polling).
        sluice(address, "audit", "--resource", "*sales*", "--action", "glue:*Create*")
        sluice(address, "tables", "get", "sales", "revenue_by_month")
        sluice(
            address,
            "partitions",
            "list",
            "sales",
            "revenue_by_month",
            "--expression",
            "year = 2025 AND month >= 10",
        )
        parquet = sorted(output_dir.glob("year=2025/month=12/*.parquet"))
        print(f"\n{len(parquet)} Parquet file(s) in {output_dir}/year=2025/month=12/")

        # The same ETL as an AWS Glue script, unchanged: Sluice's awsglue is on every run's path.
        print(f"\nthe same ETL written for AWS Glue: {GLUE_SCRIPT.relative_to(ROOT)}", flush=True)
        sluice(
            address,
            "jobs",
            "create",
            "sales-glue",
            "--script",
            str(GLUE_SCRIPT),
            "--role",
            "analytics",
            "--description",
            "The sales ETL as an AWS Glue script (GlueContext, DynamicFrames, a catalog sink)",
            "--arg",
            f"input_path={input_dir}",
            "--arg",
            f"output_path={glue_output_dir.as_uri()}",
            "--arg",
            "database=sales",
            "--arg",
            "table=revenue_glue",
        )
        # Same role, so the run takes the environment the first job's run left warm.
        # It prints what the script printed too.
        sluice(address, "jobs", "run", "sales-glue", "--wait")
        sluice(address, "tables", "get", "sales", "revenue_glue")
        sluice(
            address,
            "partitions",
            "list",
            "sales",
            "revenue_glue",
            "--expression",
            "year = 2025 AND month >= 10",
        )
    finally:
        # Stopping takes a while (the Spark environments, the sandboxes' agents and Ray stop
        # in turn): say so, rather than sit silent.
        print(
            f"\nstopping the server (SIGTERM to pid {server.pid}): it finishes its calls, then "
            "stops the Spark environments, the sandboxes and the embedded Ray (about 20 s) ...",
            flush=True,
        )
        stopping = time.monotonic()
        server.terminate()
        server.wait(timeout=120)
        log.close()
        print(f"stopped in {time.monotonic() - stopping:.1f} s (exit {server.returncode})")
    print(f"\ndemo: done; data, job output and the server log are under {data_dir}")


if __name__ == "__main__":
    main()
