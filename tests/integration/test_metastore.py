"""Spark SQL on the Sluice catalog through `sluice metastore`, PySpark's own Hive client.

One door (a real `sluice metastore` process acting as a principal of a fresh account) and one
PySpark process (local[1], Hive support, no Ray) for the module: the Spark script creates,
writes, repairs and queries tables with plain Spark SQL, and the test checks what landed in the
catalog through the SDK, that the pruned query reached GetPartitions as a Glue expression, and
that the audit trail names the door's principal.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sluice.sdk import connect
from sluice.sdk.client import Client
from sluice.sdk.config import ClientOptions
from tests.integration.conftest import (
    OPERATOR_TOKEN,
    REPO_ROOT,
    ServerProcess,
    free_port,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PRINCIPAL = "hive-engine"
PARQUET = {
    "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "serde_info": {
        "serialization_library": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    },
}

# Runs in its own process: a PySpark session whose catalog is the door.
SPARK_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pyspark.sql import SparkSession

    started = time.monotonic()

    uri, warehouse, scratch, data = sys.argv[1:5]
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.hadoop.hive.metastore.uris", uri)
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.hadoop.hive.exec.scratchdir", scratch + "/hive")
        .config("spark.hadoop.hive.exec.local.scratchdir", scratch + "/hive-local")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    out = {"session_s": time.monotonic() - started}
    # sales.orders was registered through the API, with its files written beforehand.
    out["pruned"] = spark.sql(
        "SELECT id, amount FROM sales.orders WHERE year = 2024 ORDER BY id"
    ).collect()
    out["all_rows"] = spark.table("sales.orders").count()
    out["databases"] = [r[0] for r in spark.sql("SHOW DATABASES").collect()]
    spark.sql(
        "CREATE TABLE sales.events (id BIGINT, kind STRING) PARTITIONED BY (day STRING) "
        "STORED AS PARQUET"
    )
    spark.sql("INSERT INTO sales.events PARTITION (day='2024-05-01') VALUES (1, 'a'), (2, 'b')")
    spark.sql("ALTER TABLE sales.events ADD PARTITION (day='2024-05-02')")
    out["events_partitions"] = [r[0] for r in spark.sql("SHOW PARTITIONS sales.events").collect()]
    (
        spark.table("sales.orders").groupBy("region").count()
        .write.mode("overwrite").saveAsTable("sales.orders_by_region")
    )
    out["by_region"] = sorted(tuple(r) for r in spark.table("sales.orders_by_region").collect())
    # Overwriting a managed table drops it; the door deletes its files, as Hive's would.
    (
        spark.table("sales.orders").where("region = 'eu'").groupBy("region").count()
        .write.mode("overwrite").saveAsTable("sales.orders_by_region")
    )
    out["overwritten"] = spark.table("sales.orders_by_region").count()
    spark.sql(
        "CREATE TABLE sales.raw (id BIGINT) PARTITIONED BY (day STRING) STORED AS PARQUET "
        f"LOCATION '{data}/raw'"
    )
    spark.range(3).write.parquet(f"{data}/raw/day=2024-01-01")
    spark.range(2).write.parquet(f"{data}/raw/day=2024-01-02")
    spark.sql("MSCK REPAIR TABLE sales.raw")
    out["raw_rows"] = spark.sql("SELECT count(*) FROM sales.raw").collect()[0][0]
    try:
        spark.sql("SELECT * FROM sales.missing").collect()
    except Exception as exc:
        out["missing"] = type(exc).__name__
    out["total_s"] = time.monotonic() - started
    spark.stop()
    print("RESULT " + json.dumps(out, default=list))
    """
)


@dataclass
class Door:
    uri: str
    warehouse: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    account: str
    client: Client

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def door(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    base = tmp_path_factory.mktemp("metastore")
    account = f"it-{uuid.uuid4().hex[:16]}"
    with connect(server.address, options=ClientOptions(token=OPERATOR_TOKEN)) as admin:
        admin.iam.create_principal(PRINCIPAL, roles=["admin"], account=account)
        token = admin.iam.create_token(PRINCIPAL, account=account).token
    port = free_port()
    log_path = base / "door.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                # The console script: `python -m` from the checkout would read its stale egg-info.
                str(Path(sys.executable).with_name("sluice")),
                "--server",
                server.address,
                "metastore",
                "--port",
                str(port),
                "--warehouse",
                _uri(base / "warehouse"),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "SLUICE_TOKEN": token},
        )
    client = connect(server.address, options=ClientOptions(token=token))
    try:
        wait_until(lambda: _listening(port) or process.poll() is not None, 30, "the metastore door")
        assert process.poll() is None, log_path.read_text()
        yield Door(
            f"thrift://127.0.0.1:{port}", base / "warehouse", process, log_path, account, client
        )
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def spark_run(door: Door, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Registers sales.orders through the API, then runs the Spark script once."""
    base = tmp_path_factory.mktemp("spark")
    data = base / "data"
    catalog = door.client.catalog
    catalog.create_database({"name": "sales", "location_uri": _uri(door.warehouse / "sales.db")})
    orders = data / "orders"
    catalog.create_table(
        "sales",
        {
            "name": "orders",
            "table_type": "EXTERNAL_TABLE",
            "storage_descriptor": {
                "columns": [{"name": "id", "type": "bigint"}, {"name": "amount", "type": "double"}],
                "location": _uri(orders),
                **PARQUET,
            },
            "partition_keys": [
                {"name": "year", "type": "int"},
                {"name": "region", "type": "string"},
            ],
        },
    )
    rows = {
        (2024, "eu"): [(1, 10.0), (2, 20.0)],
        (2024, "us"): [(3, 5.0)],
        (2023, "eu"): [(4, 1.0)],
    }
    _write_parquet(orders, rows)
    catalog.batch_create_partition(
        "sales",
        "orders",
        [
            {
                "values": [str(year), region],
                "storage_descriptor": {
                    "location": _uri(orders / f"year={year}" / f"region={region}")
                },
            }
            for year, region in rows
        ],
    )
    script = base / "spark_sql.py"
    script.write_text(SPARK_SCRIPT)
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            door.uri,
            _uri(door.warehouse),
            str(base / "scratch"),
            _uri(data),
        ],
        cwd=base,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-6000:] + door.log_text()[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def _uri(path: Path) -> str:
    # Not Path.as_uri(): it escapes '=', and Hive's partition folders are named key=value.
    return f"file:{path}"


def _write_parquet(root: Path, rows: dict[tuple[int, str], list[tuple[int, float]]]) -> None:
    """Parquet files per partition, written without Spark (pyarrow comes with Ray)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for (year, region), values in rows.items():
        folder = root / f"year={year}" / f"region={region}"
        folder.mkdir(parents=True)
        table = pa.table(
            {
                "id": pa.array([v[0] for v in values], pa.int64()),
                "amount": pa.array([v[1] for v in values], pa.float64()),
            }
        )
        pq.write_table(table, folder / "part-0.parquet")


def test_a_pruned_query_reads_only_matching_partitions(spark_run: dict, door: Door) -> None:
    assert spark_run["pruned"] == [[1, 10.0], [2, 20.0], [3, 5.0]]
    assert spark_run["all_rows"] == 4
    # The door was asked for the partitions by filter, and passed it on as a Glue expression.
    assert "served as Glue expression 'year = 2024'" in door.log_text()


def test_spark_sees_databases_and_missing_tables(spark_run: dict) -> None:
    assert {"default", "sales"} <= set(spark_run["databases"])
    assert spark_run["missing"] == "AnalysisException"


def test_spark_writes_land_in_the_catalog(spark_run: dict, door: Door) -> None:
    catalog = door.client.catalog
    events = catalog.get_table("sales", "events")
    assert [k.name for k in events.partition_keys] == ["day"]
    assert [c.name for c in events.storage_descriptor.columns] == ["id", "kind"]
    days = sorted(p.values[0] for p in catalog.get_partitions("sales", "events"))
    assert days == ["2024-05-01", "2024-05-02"]
    assert spark_run["events_partitions"] == ["day=2024-05-01", "day=2024-05-02"]

    by_region = catalog.get_table("sales", "orders_by_region")
    assert by_region.parameters["spark.sql.sources.provider"] == "parquet"
    assert spark_run["by_region"] == [["eu", 3], ["us", 1]]
    assert spark_run["overwritten"] == 1

    raw_days = sorted(p.values[0] for p in catalog.get_partitions("sales", "raw"))
    assert raw_days == ["2024-01-01", "2024-01-02"]
    assert spark_run["raw_rows"] == 5


def test_the_door_acts_as_its_principal(spark_run: dict, door: Door) -> None:
    with connect(door.client.address, options=ClientOptions(token=OPERATOR_TOKEN)) as admin:
        events = list(admin.audit.query(account=door.account, action="glue:CreateTable", limit=50))
    creators = {event.principal_name for event in events}
    assert creators == {PRINCIPAL}
    assert {e.resource.rsplit("/", 1)[-1] for e in events} >= {"events", "raw"}
