"""Glue scripts as real runs on Ray, each run's own token doing everything through the API under
policies of its role:

- GlueContext, from_catalog with push_down_predicate, ApplyMapping, write_dynamic_frame.from_catalog
  with partitionKeys, Job.commit, with job bookmarks: the second run reads only the new file, a
  run that fails after committing does not advance the bookmark;
- joining and relationalizing nested JSON into catalog tables (sinks with enableUpdateCatalog);
- cleaning mixed-type JSON with ResolveChoice (cast, project, make_cols, make_struct,
  match_catalog) into a catalog table;
- a JDBC source from a catalog connection to the local PostgreSQL (extract_jdbc_conf, from_catalog
  on a JDBC catalog table with bookmark keys, from_options postgresql) and a JDBC catalog sink.

Every job acts as one role, so their runs share one environment. Shares the session's
`ray_server`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.sdk import Client, connect
from sluice.sdk.jobs import RunState
from tests.integration.conftest import OPERATOR_TOKEN, ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

CLI = Path(sys.executable).parent / "sluice"
# A cold environment may take a minute on a busy two-core machine.
RUN_TIMEOUT_S = 300.0
# Every job here acts as this role: their runs share one environment rather than each taking
# one from the pool (and the pool starting another).
SCRIPTS_ROLE = f"glue-scripts-{uuid.uuid4().hex[:8]}"

GLUE_SCRIPT = """
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ApplyMapping
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "fail"])
sc = SparkContext()
glue_context = GlueContext(sc)
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

orders = glue_context.create_dynamic_frame.from_catalog(
    database=args["database"],
    table_name="orders",
    push_down_predicate="region = 'eu'",
    transformation_ctx="orders",
)
print(f"READ {orders.count()}", flush=True)
clean = ApplyMapping.apply(
    frame=orders,
    mappings=[
        ("order_id", "long", "order_id", "long"),
        ("amount", "string", "amount", "double"),
        ("region", "string", "region", "string"),
        ("day", "string", "day", "string"),
    ],
    transformation_ctx="clean",
)
glue_context.write_dynamic_frame.from_catalog(
    frame=clean,
    database=args["database"],
    table_name="orders_clean",
    additional_options={"partitionKeys": ["day"]},
    transformation_ctx="out",
)
job.commit()
if args["fail"] == "yes":
    raise RuntimeError("failing after the commit")
"""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Input and output the run's sandbox OS user can read and write."""
    path = Path(tempfile.mkdtemp(prefix="sluice-glue-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def client(ray_server: ServerProcess) -> Iterator[Client]:
    with connect(ray_server.address) as made:
        yield made


def _write(data: Path, relative: str, text: str) -> None:
    """A file under data, its folders and itself open to the run's OS user."""
    path = data / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in path.relative_to(data).parents:
        (data / folder).chmod(0o777)
    path.write_text(text)
    path.chmod(0o666)


def _catalog(client: Client, database: str, data: Path) -> None:
    client.catalog.create_database({"name": database})
    client.catalog.create_table(
        database,
        {
            "name": "orders",
            "table_type": "EXTERNAL_TABLE",
            "parameters": {"classification": "csv", "skip.header.line.count": "1"},
            "partition_keys": [{"name": "region", "type": "string"}],
            "storage_descriptor": {
                "location": f"file://{data}/orders",
                "columns": [
                    {"name": "order_id", "type": "bigint"},
                    {"name": "amount", "type": "string"},
                    {"name": "day", "type": "string"},
                ],
                "input_format": "org.apache.hadoop.mapred.TextInputFormat",
                "serde_info": {
                    "serialization_library": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "parameters": {"field.delim": ","},
                },
            },
        },
    )
    client.catalog.batch_create_partition(
        database,
        "orders",
        [
            {
                "values": [region],
                "storage_descriptor": {"location": f"file://{data}/orders/region={region}"},
            }
            for region in ("eu", "us")
        ],
    )
    (data / "clean").mkdir(mode=0o777)
    (data / "clean").chmod(0o777)
    client.catalog.create_table(
        database,
        {
            "name": "orders_clean",
            "table_type": "EXTERNAL_TABLE",
            "parameters": {"classification": "parquet"},
            "partition_keys": [{"name": "day", "type": "string"}],
            "storage_descriptor": {
                "location": f"file://{data}/clean",
                "columns": [
                    {"name": "order_id", "type": "bigint"},
                    {"name": "amount", "type": "double"},
                    {"name": "region", "type": "string"},
                ],
                "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            },
        },
    )


def _run(client: Client, job: str, fail: bool) -> tuple[RunState, str, list[str]]:
    """A run's end state, id, and its output lines, then its error message."""
    run_id = client.jobs.start_run(job, {"--fail": "yes" if fail else "no"})
    run = client.jobs.wait_for_run(job, run_id, timeout_s=RUN_TIMEOUT_S)
    lines = [entry.message for entry in client.jobs.get_logs(job, run_id, stream="stdout")]
    return RunState.of(run), run_id, [*lines, run.error_message]


def _read(lines: list[str]) -> int:
    counts = [int(line.split()[1]) for line in lines if line.startswith("READ ")]
    assert len(counts) == 1, lines
    return counts[0]


def test_a_bookmarked_glue_script_reads_only_new_files(
    ray_server: ServerProcess, client: Client, data_dir: Path
) -> None:
    database = f"glue_{uuid.uuid4().hex[:8]}"
    job = f"glue-etl-{uuid.uuid4().hex[:8]}"
    role = SCRIPTS_ROLE
    eu_rows = "order_id,amount,day\n1,2.50,2024-05-01\n2,4,2024-05-01\n"
    _write(data_dir, "orders/region=eu/1.csv", eu_rows)
    _write(data_dir, "orders/region=us/1.csv", "order_id,amount,day\n3,9,2024-05-01\n")
    _catalog(client, database, data_dir)
    # What the runs' scoped token may do: read and add partitions, use the job's bookmark.
    client.iam.put_policy(
        f"{role}-policy",
        [
            {
                "effect": "Allow",
                "actions": ["glue:GetTable", "glue:GetPartitions", "glue:BatchCreatePartition"],
                "resources": [f"table/{database}/*"],
            },
            {
                "effect": "Allow",
                "actions": ["glue:GetJobBookmark", "sluice:CommitJobBookmark"],
                "resources": [f"job/{job}", f"jobrun/{job}/*"],
            },
        ],
        roles=[role],
    )
    location = client.jobs.upload_script(f"{job}.py", content=GLUE_SCRIPT.encode())
    client.jobs.create(
        {
            "name": job,
            "role": role,
            "command": {"name": "glueetl", "script_location": location},
            "default_arguments": {
                "--database": database,
                "--job-bookmark-option": "job-bookmark-enable",
            },
        }
    )

    state, first, lines = _run(client, job, fail=False)
    assert state == RunState.SUCCEEDED, lines
    # Only the eu partition (push_down_predicate), both of its rows.
    assert _read(lines) == 2
    assert client.jobs.get_job_bookmark(job).run_id == first
    partitions = {tuple(p.values) for p in client.catalog.get_partitions(database, "orders_clean")}
    assert partitions == {("2024-05-01",)}

    _write(data_dir, "orders/region=eu/2.csv", "order_id,amount,day\n4,1,2024-05-02\n")
    state, _, lines = _run(client, job, fail=True)
    assert state == RunState.FAILED, lines
    assert _read(lines) == 1
    # It committed, then failed: the bookmark is still the first run's.
    assert client.jobs.get_job_bookmark(job).run_id == first

    state, third, lines = _run(client, job, fail=False)
    assert state == RunState.SUCCEEDED, lines
    assert _read(lines) == 1
    entry = client.jobs.get_job_bookmark(job)
    assert (entry.run_id, entry.previous_run_id, entry.run) == (third, first, 2)
    files = json.loads(entry.job_bookmark)["contexts"]["orders"]["files"]
    assert sorted(Path(f).name for f in files) == ["1.csv", "2.csv"]
    partitions = {tuple(p.values) for p in client.catalog.get_partitions(database, "orders_clean")}
    assert partitions == {("2024-05-01",), ("2024-05-02",)}

    # The CLI shows and resets it.
    env = {**os.environ, "SLUICE_TOKEN": OPERATOR_TOKEN}
    cli = [str(CLI), "--server", ray_server.address, "-o", "json", "jobs", "bookmark"]
    shown = subprocess.run([*cli, "get", job], capture_output=True, text=True, env=env, check=True)
    assert json.loads(shown.stdout)["run_id"] == third
    reset = subprocess.run(
        [*cli, "reset", job], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(reset.stdout).get("job_bookmark", "") == ""
    assert client.jobs.get_job_bookmark(job).job_bookmark == ""


# Well-known kinds of Glue script, one or two runs each.

RELATIONALIZE_SCRIPT = """
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import Join, Relationalize
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "input", "output"])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

def source(name):
    return glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [args["input"] + "/" + name]},
        format="json",
        transformation_ctx=name,
    )

people = Join.apply(source("persons"), source("orgs"), "org_id", "org_id")
tables = Relationalize.apply(frame=people, staging_path=args["TempDir"] or "", name="people")
for name in sorted(tables.keys()):
    sink = glue_context.getSink(
        connection_type="s3",
        path=args["output"] + "/" + name,
        enableUpdateCatalog=True,
        updateBehavior="UPDATE_IN_DATABASE",
        transformation_ctx=name,
    )
    sink.setFormat("glueparquet")
    sink.setCatalogInfo(catalogDatabase=args["database"], catalogTableName=name)
    sink.writeFrame(tables.select(name))
    print(f"TABLE {name} {tables.select(name).count()}", flush=True)
job.commit()
"""

RESOLVE_CHOICE_SCRIPT = """
import json
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ResolveChoice
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "input"])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

items = glue_context.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["input"]]},
    format="json",
    transformation_ctx="items",
)

def show(label, frame):
    rows = [r.asDict(recursive=True) for r in frame.toDF().orderBy("id").collect()]
    print(label + " " + json.dumps(rows, sort_keys=True), flush=True)

print("CHOICES " + json.dumps(
    {f.name: [m.name for m in f.dataType.fields] for f in items.schema().fields
     if f.metadata.get("sluice.glue.choice")}, sort_keys=True), flush=True)
show("CAST", items.resolveChoice(specs=[("price", "cast:double")]).select_fields(["id", "price"]))
projected = ResolveChoice.apply(items, specs=[("qty", "project:long")])
show("PROJECT", projected.select_fields(["id", "qty"]))
show("COLS", items.resolveChoice(specs=[("code", "make_cols")]).drop_fields(["price", "qty"]))
show("STRUCT", items.resolveChoice(choice="make_struct").select_fields(["id", "price"]))
clean = ResolveChoice.apply(
    frame=items, choice="match_catalog", database=args["database"], table_name="items_clean"
)
show("CATALOG", clean)
glue_context.write_dynamic_frame.from_catalog(
    frame=clean, database=args["database"], table_name="items_clean", transformation_ctx="out"
)
job.commit()
"""

JDBC_SCRIPT = """
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "table", "connection", "pgtable"])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

conf = glue_context.extract_jdbc_conf(args["connection"])
print(f"CONF {conf['vendor']} {conf['url']} {conf['user']}", flush=True)
items = glue_context.create_dynamic_frame.from_catalog(
    database=args["database"],
    table_name=args["table"],
    additional_options={"jobBookmarkKeys": ["id"], "jobBookmarkKeysSortOrder": "asc"},
    transformation_ctx="items",
)
print("IDS " + ",".join(str(r["id"]) for r in items.toDF().orderBy("id").collect()), flush=True)
direct = glue_context.create_dynamic_frame.from_options(
    connection_type="postgresql",
    connection_options={
        "useConnectionProperties": "true",
        "connectionName": args["connection"],
        "dbtable": "public." + args["pgtable"],
    },
)
print(f"ALL {direct.count()}", flush=True)
glue_context.write_dynamic_frame.from_catalog(
    frame=items, database=args["database"], table_name=args["table"] + "_copy"
)
job.commit()
"""


def _job(client: Client, name: str, script: str, arguments: dict[str, str]) -> None:
    location = client.jobs.upload_script(f"{name}.py", content=script.encode())
    client.jobs.create(
        {
            "name": name,
            "role": SCRIPTS_ROLE,
            "command": {"name": "glueetl", "script_location": location},
            "default_arguments": arguments,
        }
    )


def _allow(client: Client, name: str, actions: list[str], resources: list[str]) -> None:
    client.iam.put_policy(
        name,
        [{"effect": "Allow", "actions": actions, "resources": resources}],
        roles=[SCRIPTS_ROLE],
    )


def _marked(lines: list[str], label: str) -> str:
    found = [line[len(label) + 1 :] for line in lines if line.startswith(label + " ")]
    assert len(found) == 1, (label, lines)
    return found[0]


def test_a_glue_script_joins_and_relationalizes_nested_json_into_catalog_tables(
    client: Client, data_dir: Path
) -> None:
    import pyarrow.parquet as pq

    database = f"people_{uuid.uuid4().hex[:8]}"
    job = f"relationalize-{uuid.uuid4().hex[:8]}"
    persons = [
        {"id": 1, "name": {"first": "Ada", "last": "Byron"}, "org_id": 10, "tags": ["x", "y"],
         "phones": [{"kind": "home", "number": "11"}, {"kind": "work", "number": "12"}]},
        {"id": 2, "name": {"first": "Alan", "last": "Turing"}, "org_id": 20, "tags": [],
         "phones": [{"kind": "home", "number": "21"}]},
        # No such organisation: the join leaves it out.
        {"id": 3, "name": {"first": "Nobody", "last": "Else"}, "org_id": 99, "tags": ["z"],
         "phones": []},
    ]  # fmt: skip
    orgs = [
        {"org_id": 10, "org_name": "Analytical", "address": {"city": "London"}},
        {"org_id": 20, "org_name": "Bletchley", "address": {"city": "Milton Keynes"}},
    ]
    _write(data_dir, "in/persons/p.json", "\n".join(json.dumps(p) for p in persons) + "\n")
    _write(data_dir, "in/orgs/o.json", "\n".join(json.dumps(o) for o in orgs) + "\n")
    (data_dir / "out").mkdir(mode=0o777)
    (data_dir / "out").chmod(0o777)
    client.catalog.create_database({"name": database})
    _allow(
        client,
        f"{job}-catalog",
        ["glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:GetPartitions"],
        [f"table/{database}/*"],
    )
    _job(
        client,
        job,
        RELATIONALIZE_SCRIPT,
        {"--database": database, "--input": f"{data_dir}/in", "--output": f"file://{data_dir}/out"},
    )

    state, _, lines = _run(client, job, fail=False)

    assert state == RunState.SUCCEEDED, lines
    assert [line for line in lines if line.startswith("TABLE ")] == [
        "TABLE people 2",
        "TABLE people_phones 3",
        "TABLE people_tags 2",
    ]
    tables = {t.name: t for t in client.catalog.get_tables(database)}
    assert sorted(tables) == ["people", "people_phones", "people_tags"]
    columns = {name: [c.name for c in t.storage_descriptor.columns] for name, t in tables.items()}
    assert sorted(columns["people"]) == sorted(
        ["org_id", "id", "name.first", "name.last", "phones", "tags", "org_name", "address.city"]
    )
    assert columns["people_phones"] == ["id", "index", "phones.val.kind", "phones.val.number"]
    assert columns["people_tags"] == ["id", "index", "tags.val"]
    assert tables["people"].parameters["classification"] == "parquet"

    def rows(name: str) -> list[dict]:
        return pq.read_table(
            tables[name].storage_descriptor.location.removeprefix("file://")
        ).to_pylist()

    people = {r["id"]: r for r in rows("people")}
    assert {i: (r["name.first"], r["org_name"], r["address.city"]) for i, r in people.items()} == {
        1: ("Ada", "Analytical", "London"),
        2: ("Alan", "Bletchley", "Milton Keynes"),
    }
    # Each array's rows point back at their record through the id its column holds.
    phones: dict[int, list[tuple]] = {}
    for phone in rows("people_phones"):
        owner = next(i for i, r in people.items() if r["phones"] == phone["id"])
        phones.setdefault(owner, []).append(
            (phone["index"], phone["phones.val.kind"], phone["phones.val.number"])
        )
    assert {i: sorted(p) for i, p in phones.items()} == {
        1: [(0, "home", "11"), (1, "work", "12")],
        2: [(0, "home", "21")],
    }
    tags = {(r["id"], r["index"], r["tags.val"]) for r in rows("people_tags")}
    assert tags == {(people[1]["tags"], 0, "x"), (people[1]["tags"], 1, "y")}


def test_a_glue_script_cleans_mixed_type_data_with_resolve_choice(
    client: Client, data_dir: Path
) -> None:
    import pyarrow.parquet as pq

    database = f"items_{uuid.uuid4().hex[:8]}"
    job = f"resolve-choice-{uuid.uuid4().hex[:8]}"
    items = [
        {"id": 1, "price": 10, "qty": 2, "code": "A1"},
        {"id": 2, "price": 2.5, "qty": "3", "code": 7},
        {"id": 3, "price": "n/a", "qty": 4, "code": "B2"},
    ]
    _write(data_dir, "items/i.json", "\n".join(json.dumps(i) for i in items) + "\n")
    (data_dir / "clean").mkdir(mode=0o777)
    (data_dir / "clean").chmod(0o777)
    client.catalog.create_database({"name": database})
    client.catalog.create_table(
        database,
        {
            "name": "items_clean",
            "table_type": "EXTERNAL_TABLE",
            "parameters": {"classification": "parquet"},
            "storage_descriptor": {
                "location": f"file://{data_dir}/clean",
                "columns": [
                    {"name": "id", "type": "bigint"},
                    {"name": "price", "type": "double"},
                    {"name": "qty", "type": "int"},
                    {"name": "code", "type": "string"},
                ],
                "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            },
        },
    )
    _allow(
        client, f"{job}-catalog", ["glue:GetTable", "glue:GetPartitions"], [f"table/{database}/*"]
    )
    _job(
        client, job, RESOLVE_CHOICE_SCRIPT, {"--database": database, "--input": f"{data_dir}/items"}
    )

    state, _, lines = _run(client, job, fail=False)

    assert state == RunState.SUCCEEDED, lines
    assert json.loads(_marked(lines, "CHOICES")) == {
        "code": ["long", "string"],
        "price": ["long", "double", "string"],
        "qty": ["long", "string"],
    }
    assert json.loads(_marked(lines, "CAST")) == [
        {"id": 1, "price": 10.0},
        {"id": 2, "price": 2.5},
        {"id": 3, "price": None},
    ]
    assert json.loads(_marked(lines, "PROJECT")) == [
        {"id": 1, "qty": 2},
        {"id": 2, "qty": None},
        {"id": 3, "qty": 4},
    ]
    assert json.loads(_marked(lines, "COLS")) == [
        {"id": 1, "code_long": None, "code_string": "A1"},
        {"id": 2, "code_long": 7, "code_string": None},
        {"id": 3, "code_long": None, "code_string": "B2"},
    ]
    assert json.loads(_marked(lines, "STRUCT")) == [
        {"id": 1, "price": {"long": 10, "double": None, "string": None}},
        {"id": 2, "price": {"long": None, "double": 2.5, "string": None}},
        {"id": 3, "price": {"long": None, "double": None, "string": "n/a"}},
    ]
    cleaned = [
        {"id": 1, "price": 10.0, "qty": 2, "code": "A1"},
        {"id": 2, "price": 2.5, "qty": 3, "code": "7"},
        {"id": 3, "price": None, "qty": 4, "code": "B2"},
    ]
    assert sorted(json.loads(_marked(lines, "CATALOG")), key=lambda r: r["id"]) == cleaned
    written = pq.read_table(data_dir / "clean")
    assert str(written.schema.field("qty").type) == "int32"
    assert sorted(written.to_pylist(), key=lambda r: r["id"]) == cleaned


def test_a_glue_script_reads_postgresql_through_a_catalog_connection_with_bookmark_keys(
    client: Client, data_dir: Path
) -> None:
    import psycopg

    from tests.integration.conftest import PG_ADMIN_URL

    if not Path("/usr/share/java/postgresql.jar").is_file():
        pytest.skip("no PostgreSQL JDBC driver (scripts/system_packages.sh installs it)")
    suffix = uuid.uuid4().hex[:8]
    database, job, connection = f"pg_{suffix}", f"jdbc-{suffix}", f"pg-{suffix}"
    pgtable = f"glue_items_{suffix}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
        pg.execute(f"CREATE TABLE {pgtable} (id int PRIMARY KEY, name text)")
        pg.execute(f"CREATE TABLE {pgtable}_copy (id int, name text)")
        pg.execute(f"INSERT INTO {pgtable} VALUES (1, 'a'), (2, 'b')")
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
    client.catalog.create_database({"name": database})
    for name in (pgtable, f"{pgtable}_copy"):
        # As a JDBC crawler catalogs a database table (Glue's shape).
        client.catalog.create_table(
            database,
            {
                "name": name,
                "parameters": {"classification": "postgresql", "connectionName": connection,
                               "typeOfData": "table"},
                "storage_descriptor": {
                    "location": f"test.public.{name}",
                    "columns": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}],
                },
            },
        )  # fmt: skip
    _allow(
        client,
        f"{job}-connection",
        ["glue:GetConnection", "sluice:ReadSecrets"],
        [f"connection/{connection}"],
    )
    _allow(client, f"{job}-tables", ["glue:GetTable"], [f"table/{database}/*"])
    _allow(
        client,
        f"{job}-bookmark",
        ["glue:GetJobBookmark", "sluice:CommitJobBookmark"],
        [f"job/{job}", f"jobrun/{job}/*"],
    )
    _job(
        client,
        job,
        JDBC_SCRIPT,
        {
            "--database": database,
            "--table": pgtable,
            "--connection": connection,
            "--pgtable": pgtable,
            "--job-bookmark-option": "job-bookmark-enable",
        },
    )
    try:
        state, first, lines = _run(client, job, fail=False)
        assert state == RunState.SUCCEEDED, lines
        assert _marked(lines, "CONF") == "postgresql jdbc:postgresql://127.0.0.1:5432 postgres"
        assert (_marked(lines, "IDS"), _marked(lines, "ALL")) == ("1,2", "2")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            pg.execute(f"INSERT INTO {pgtable} VALUES (3, 'c')")

        state, second, lines = _run(client, job, fail=False)

        assert state == RunState.SUCCEEDED, lines
        # Only the row past the bookmark's key; the source without a transformation_ctx reads all.
        assert (_marked(lines, "IDS"), _marked(lines, "ALL")) == ("3", "3")
        entry = client.jobs.get_job_bookmark(job)
        assert (entry.run_id, entry.previous_run_id) == (second, first)
        assert json.loads(entry.job_bookmark)["contexts"]["items"] == {"keys": {"id": 3}}
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            copied = pg.execute(f"SELECT id, name FROM {pgtable}_copy ORDER BY id").fetchall()
        assert copied == [(1, "a"), (2, "b"), (3, "c")]
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            pg.execute(f"DROP TABLE IF EXISTS {pgtable}, {pgtable}_copy")
