"""Sluice's awsglue against a real server, without Ray: examples/glue_style_etl.py run as a
local PySpark process (PYTHONPATH from `python -m sluice.agents.glue_api`, as the docs say)
creates its catalog table and partitions through the sink, and a second script reads them back
with from_catalog and a push_down_predicate; a JDBC source from a catalog connection to the
local PostgreSQL, with bookmark keys, and a from_jdbc_conf sink."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from sluice.agents.glue_api import PATH
from sluice.sdk import connect
from tests.integration.conftest import PG_ADMIN_URL, REPO_ROOT, ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

SCRIPT_TIMEOUT_S = 300.0

READER = """
import sys
from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["database", "table"])
glue = GlueContext(SparkContext.getOrCreate())
march = glue.create_dynamic_frame.from_catalog(
    database=args["database"], table_name=args["table"],
    push_down_predicate="year = 2024 AND month = 3",
)
rows = march.toDF().collect()
print("MARCH " + ",".join(sorted(f"{r['region']}:{r['orders']}:{r['month']}" for r in rows)))
everything = glue.create_data_frame.from_catalog(
    database=args["database"], table_name=args["table"]
)
print(f"ALL {everything.count()}")
"""


def _run(script: Path, server: ServerProcess, *args: str, jars: Path | None = None) -> str:
    submit = "--master local[1] --conf spark.ui.enabled=false"
    if jars is not None:
        submit += f" --jars {jars}"
    env = {
        **os.environ,
        "PYTHONPATH": PATH,
        "SLUICE_ADDRESS": server.address,
        "PYSPARK_SUBMIT_ARGS": f"{submit} pyspark-shell",
    }
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=SCRIPT_TIMEOUT_S,
        cwd=script.parent,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_glue_style_example_keeps_its_table_in_the_catalog(
    server: ServerProcess, tmp_path: Path
) -> None:
    database = f"sales_{uuid.uuid4().hex[:8]}"
    with connect(server.address) as client:
        client.catalog.create_database({"name": database})
    source = tmp_path / "in"
    source.mkdir()
    (source / "orders.csv").write_text(
        "order_id,order_date,region,product,quantity,unit_price\n"
        "1,2024-03-02,eu,a,2,1.5\n"
        "2,2024-03-09,eu,b,1,10\n"
        "3,2024-03-10,us,a,3,2\n"
        "4,2024-04-01,eu,a,1,1\n"
    )
    output = tmp_path / "out"

    stdout = _run(
        REPO_ROOT / "examples" / "glue_style_etl.py",
        server,
        "--JOB_NAME",
        "sales",
        "--input_path",
        str(source),
        "--output_path",
        output.as_uri(),
        "--database",
        database,
        "--table",
        "revenue",
    )
    assert "read 4 orders" in stdout

    with connect(server.address) as client:
        table = client.catalog.get_table(database, "revenue")
        assert [k.name for k in table.partition_keys] == ["year", "month"]
        assert [c.name for c in table.storage_descriptor.columns] == [
            "region",
            "orders",
            "units",
            "revenue",
        ]
        assert table.parameters["classification"] == "parquet"
        partitions = {tuple(p.values) for p in client.catalog.get_partitions(database, "revenue")}
    assert partitions == {("2024", "3"), ("2024", "4")}

    reader = tmp_path / "reader.py"
    reader.write_text(READER)
    stdout = _run(reader, server, "--database", database, "--table", "revenue")
    assert "MARCH eu:2:3,us:1:3" in stdout.splitlines()
    assert "ALL 3" in stdout.splitlines()


JDBC_SCRIPT = """
import sys
from pathlib import Path

from awsglue.bookmarks import Bookmarks
from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["connection", "table", "bookmark"])
glue = GlueContext(SparkContext.getOrCreate())
conf = glue.extract_jdbc_conf(args["connection"])
print("CONF", conf["vendor"], conf["url"], conf["user"])
state = Path(args["bookmark"])
glue.bookmarks = Bookmarks.from_json("job-bookmark-enable", state.read_text())
rows = glue.create_dynamic_frame.from_options(
    connection_type="postgresql",
    connection_options={
        "useConnectionProperties": "true",
        "connectionName": args["connection"],
        "dbtable": args["table"],
        "jobBookmarkKeys": ["id"],
    },
    transformation_ctx="rows",
)
print("IDS " + ",".join(str(r["id"]) for r in sorted(rows.toDF().collect())))
glue.write_dynamic_frame.from_jdbc_conf(
    frame=rows,
    catalog_connection=args["connection"],
    connection_options={"dbtable": args["table"] + "_copy"},
)
state.write_text(glue.bookmarks.document())
"""


def test_jdbc_source_from_a_catalog_connection_with_bookmark_keys(
    server: ServerProcess, tmp_path: Path
) -> None:
    jars = sorted(Path.home().glob(".m2/repository/org/postgresql/postgresql/*/postgresql-*.jar"))
    if not jars:
        pytest.skip("no PostgreSQL JDBC driver jar in ~/.m2")
    table = f"glue_items_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
        pg.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text)")
        pg.execute(f"CREATE TABLE {table}_copy (id int, name text)")
        pg.execute(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
    connection = f"pg-{uuid.uuid4().hex[:8]}"
    with connect(server.address) as client:
        client.catalog.create_connection(
            {
                "name": connection,
                "connection_type": "JDBC",
                "connection_properties": {
                    "JDBC_CONNECTION_URL": "jdbc:postgresql://127.0.0.1:5432/test",
                    "USERNAME": "postgres",
                    # Trust authentication: any password will do.
                    "PASSWORD": "unused",
                },
            }
        )
    script = tmp_path / "jdbc.py"
    script.write_text(JDBC_SCRIPT)
    bookmark = tmp_path / "bookmark.json"
    bookmark.write_text("")
    args = ("--connection", connection, "--table", table, "--bookmark", str(bookmark))
    try:
        first = _run(script, server, *args, jars=jars[-1])
        assert "CONF postgresql jdbc:postgresql://127.0.0.1:5432 postgres" in first
        assert "IDS 1,2" in first.splitlines()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            pg.execute(f"INSERT INTO {table} VALUES (3, 'c')")
        second = _run(script, server, *args, jars=jars[-1])
        assert "IDS 3" in second.splitlines()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            copied = pg.execute(f"SELECT id FROM {table}_copy ORDER BY id").fetchall()
        assert [row[0] for row in copied] == [1, 2, 3]
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            pg.execute(f"DROP TABLE IF EXISTS {table}, {table}_copy")
