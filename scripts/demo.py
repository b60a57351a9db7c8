"""The main job on embedded defaults: start a Sluice server (SQLite in a fresh data dir), then
use the `sluice` command line to build and query a Glue-style catalog, and stop the server.

Run it with scripts/demo.sh, which installs everything first.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
SLUICE = str(Path(sys.executable).parent / "sluice")

ORDERS_TABLE = {
    "name": "orders",
    "description": "Orders by day and region",
    "table_type": "EXTERNAL_TABLE",
    "parameters": {"classification": "parquet"},
    "storage_descriptor": {
        "columns": [
            {"name": "order_id", "type": "bigint"},
            {"name": "customer", "type": "string"},
            {"name": "amount", "type": "decimal(10,2)"},
        ],
        "location": "file:///data/sales/orders/",
        "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "serde_info": {
            "serialization_library": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        },
    },
    "partition_keys": [
        {"name": "year", "type": "int"},
        {"name": "month", "type": "int"},
        {"name": "region", "type": "string"},
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_serving(address: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit("demo: the server exited; see its log above")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.1)
    raise SystemExit("demo: the server did not become healthy")


def sluice(address: str, *args: str) -> None:
    print(f"\n$ sluice {shlex.join(args)}", flush=True)
    subprocess.run([SLUICE, "--server", address, *args], check=True)


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
        table_file = data_dir / "orders.json"
        table_file.write_text(json.dumps(ORDERS_TABLE, indent=2))
        partitions = [
            {
                "values": [str(year), str(month), region],
                "storage_descriptor": {
                    "location": f"file:///data/sales/orders/year={year}/month={month}/region={region}/"
                },
            }
            for year in (2023, 2024, 2025)
            for month in range(1, 13)
            for region in ("eu", "us", "apac")
        ]
        partitions_file = data_dir / "partitions.json"
        partitions_file.write_text(json.dumps(partitions))

        sluice(address, "databases", "create", "sales", "--description", "Sales data")
        sluice(address, "tables", "create", "sales", "-f", str(table_file))
        sluice(address, "partitions", "batch-create", "sales", "orders", "-f", str(partitions_file))
        sluice(address, "databases", "list")
        sluice(address, "tables", "get", "sales", "orders")
        sluice(
            address,
            "partitions",
            "list",
            "sales",
            "orders",
            "--expression",
            "year = 2024 AND month BETWEEN 3 AND 5 AND region IN ('eu', 'apac')",
        )
        sluice(
            address,
            "-o",
            "json",
            "partitions",
            "get",
            "sales",
            "orders",
            "2025",
            "12",
            "us",
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    print(f"\ndemo: done; the server stopped cleanly (exit {server.returncode})")


if __name__ == "__main__":
    main()
