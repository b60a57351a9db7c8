"""Every operation the Glue door serves, called through boto3 on SQLite and PostgreSQL.

The operations are those of the door's table (glue_operations of the served services) that
Glue's service model (botocore's `glue` model) has; each is called once with a valid input
(boto3 validates it against the model), on real resources made in dependency order, and its
raw response body is walked against the operation's output shape: every member is Glue's (or a
listed Sluice extension), of the shape's kind, enum values are Glue's, and required members are
there. A served operation this test does not call fails it. Runs (StartJobRun, StartTrigger,
StartWorkflowRun, StartCrawler) are accepted, never run: the server has no Ray to run them on.

Iceberg's Glue catalog (pyiceberg's GlueCatalog) on the same servers, with a local warehouse:
namespaces, tables, appends (UpdateTable with the version check), a commit that loses a race.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import botocore.exceptions
import botocore.session
import psycopg
import pyarrow as pa
import pytest
from botocore import xform_name
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import Shape
from pyiceberg.catalog.glue import GlueCatalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.control_plane.app import GLUE_SERVED
from sluice.control_plane.glue.operations import glue_operations
from tests.integration.conftest import wait_until
from tests.integration.test_glue_door import (
    ACCOUNT,
    REGION,
    AccessKey,
    GlueServer,
    client,
    glue_server,
    make_key,
)

pytestmark = pytest.mark.integration

__all__ = ["glue_server"]  # the module's server pair (SQLite, PostgreSQL), as test_glue_door's

MODEL = botocore.session.get_session().get_service_model("glue")
SERVED = sorted(set(glue_operations(GLUE_SERVED)) & set(MODEL.operation_names))
# Response members Glue's shapes do not have: Sluice's additions (botocore ignores them), by
# shape and member.
EXTENSIONS = frozenset(
    {
        ("Connection", "CatalogId"),
        ("Job", "Tags"),
        ("JobRun", "EnvironmentId"),
        ("JobRun", "WarmStart"),
        ("Trigger", "ScheduleTimeZone"),
        ("Trigger", "NextFireTime"),
        ("CrawlerMetrics", "FilesTotal"),
        ("CrawlerMetrics", "FilesDone"),
    }
)
_JSON_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "float": (int, float),
    "timestamp": (int, float),
    "blob": (str,),
}


def shape_problems(value: Any, shape: Shape, path: str) -> Iterator[str]:
    """Where value (a response body's JSON) is not of shape."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            yield f"{path}: {type(value).__name__}, Glue's {shape.name} is a structure"
            return
        if shape.metadata.get("document"):
            return
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                if (shape.name, name) not in EXTENSIONS:
                    yield f"{path}.{name}: not a member of Glue's {shape.name}"
                continue
            yield from shape_problems(item, member, f"{path}.{name}")
        for name in shape.required_members:
            if name not in value:
                yield f"{path}: {shape.name}'s required {name} is missing"
    elif kind == "list":
        if not isinstance(value, list):
            yield f"{path}: {type(value).__name__}, Glue's is a list"
            return
        for index, item in enumerate(value):
            yield from shape_problems(item, shape.member, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            yield f"{path}: {type(value).__name__}, Glue's is a map"
            return
        for key, item in value.items():
            yield from shape_problems(key, shape.key, f"{path} key")
            yield from shape_problems(item, shape.value, f"{path}.{key}")
    else:
        kinds = _JSON_KINDS[kind]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            yield f"{path}: {value!r} is not a {kind}"
        elif kind == "string" and shape.enum and value not in shape.enum:
            yield f"{path}: {value!r} is not one of Glue's {shape.name}"


def test_shape_walker_finds_what_is_not_glues() -> None:
    output = MODEL.operation_model("GetTable").output_shape
    good = {"Table": {"Name": "t", "CreateTime": 1.5, "StorageDescriptor": {"Columns": []}}}
    assert list(shape_problems(good, output, "GetTable")) == []
    bad = {
        "Table": {
            "CreateTime": "yesterday",
            "Invented": 1,
            "StorageDescriptor": {"Columns": [{"Name": 7}], "NumberOfBuckets": 1.5},
            "Parameters": {"k": 1},
        }
    }
    assert sorted(shape_problems(bad, output, "GetTable")) == [
        "GetTable.Table.CreateTime: 'yesterday' is not a timestamp",
        "GetTable.Table.Invented: not a member of Glue's Table",
        "GetTable.Table.Parameters.k: 1 is not a string",
        "GetTable.Table.StorageDescriptor.Columns[0].Name: 7 is not a string",
        "GetTable.Table.StorageDescriptor.NumberOfBuckets: 1.5 is not a integer",
        "GetTable.Table: Table's required Name is missing",
    ]
    run = MODEL.operation_model("GetJobRun").output_shape
    assert list(shape_problems({"JobRun": {"JobRunState": "DANCING"}}, run, "r")) == [
        "r.JobRun.JobRunState: 'DANCING' is not one of Glue's JobRunState"
    ]


def test_glue_has_no_waiters() -> None:
    # README says so: botocore ships no waiters for Glue, so the door has none to serve. When
    # a botocore release adds some, this fails: call each waiter here against the door.
    with pytest.raises(botocore.exceptions.DataNotFoundError):
        botocore.session.get_session().get_waiter_model("glue")


class Caller:
    """Calls operations through a boto3 client and checks each raw response body."""

    def __init__(self, glue: Any) -> None:
        self.glue = glue
        self.called: set[str] = set()
        self.problems: list[str] = []
        self._bodies: dict[str, bytes] = {}
        glue.meta.events.register("after-call.glue", self._keep_body)

    def _keep_body(self, http_response: Any, model: Any, **_: Any) -> None:
        self._bodies[model.name] = http_response.content

    def __call__(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = getattr(self.glue, xform_name(operation))(**kwargs)
        self.called.add(operation)
        body = json.loads(self._bodies.pop(operation) or b"{}")
        output = MODEL.operation_model(operation).output_shape
        if output is None:
            if body:
                self.problems.append(f"{operation}: Glue's output is empty, Sluice's is {body}")
        else:
            self.problems += shape_problems(body, output, operation)
        return response


PARTITION_KEYS = [{"Name": "year", "Type": "string"}, {"Name": "region", "Type": "string"}]


def table_input(name: str, description: str = "") -> dict[str, Any]:
    return {
        "Name": name,
        "Description": description,
        "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"}],
            "Location": f"s3://bucket/{name}/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
        },
        "PartitionKeys": PARTITION_KEYS,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "json"},
    }


def partition_input(values: list[str], location: str = "") -> dict[str, Any]:
    return {
        "Values": values,
        "StorageDescriptor": {"Location": location or f"s3://bucket/p/{'/'.join(values)}/"},
        "Parameters": {"k": "v"},
    }


def catalog(call: Caller, n: str) -> None:
    db, table = f"db_{n}", "orders"
    call("CreateDatabase", DatabaseInput={"Name": db, "Description": "d"}, Tags={"team": "a"})
    call("GetDatabase", Name=db)
    call("GetDatabases")
    call("UpdateDatabase", Name=db, DatabaseInput={"Name": db, "Description": "d2"})
    call("CreateTable", DatabaseName=db, TableInput=table_input(table))
    call("CreateTable", DatabaseName=db, TableInput=table_input("spare"))
    call("CreateTable", DatabaseName=db, TableInput=table_input("spare2"))
    version = call("GetTable", DatabaseName=db, Name=table)["Table"]["VersionId"]
    call("GetTables", DatabaseName=db, Expression="sp.*")
    call(
        "UpdateTable",
        DatabaseName=db,
        TableInput=table_input(table, "second version"),
        VersionId=version,
    )
    versions = call("GetTableVersions", DatabaseName=db, TableName=table)["TableVersions"]
    assert len(versions) == 2
    oldest = min((v["VersionId"] for v in versions), key=int)
    call("GetTableVersion", DatabaseName=db, TableName=table, VersionId=oldest)
    call("DeleteTableVersion", DatabaseName=db, TableName=table, VersionId=oldest)
    call(
        "SearchTables",
        SearchText="orders",
        Filters=[{"Key": "DatabaseName", "Value": db, "Comparator": "EQUALS"}],
    )

    first = partition_input(["2024", "eu"])
    call("CreatePartition", DatabaseName=db, TableName=table, PartitionInput=first)
    made = call(
        "BatchCreatePartition",
        DatabaseName=db,
        TableName=table,
        PartitionInputList=[
            partition_input([str(year), region]) for year in (2022, 2023) for region in ("eu", "us")
        ],
    )
    assert made["Errors"] == []
    call("GetPartition", DatabaseName=db, TableName=table, PartitionValues=["2024", "eu"])
    found = call("GetPartitions", DatabaseName=db, TableName=table, Expression="year >= '2023'")[
        "Partitions"
    ]
    assert len(found) == 3
    got = call(
        "BatchGetPartition",
        DatabaseName=db,
        TableName=table,
        PartitionsToGet=[{"Values": ["2022", "us"]}, {"Values": ["1999", "eu"]}],
    )
    assert len(got["Partitions"]) == 1
    call(
        "UpdatePartition",
        DatabaseName=db,
        TableName=table,
        PartitionValueList=["2024", "eu"],
        PartitionInput=partition_input(["2024", "eu"], "s3://bucket/moved/"),
    )
    updated = call(
        "BatchUpdatePartition",
        DatabaseName=db,
        TableName=table,
        Entries=[
            {
                "PartitionValueList": ["2022", "eu"],
                "PartitionInput": partition_input(["2022", "eu"], "s3://bucket/moved2/"),
            }
        ],
    )
    assert updated["Errors"] == []
    call("DeletePartition", DatabaseName=db, TableName=table, PartitionValues=["2024", "eu"])
    deleted = call(
        "BatchDeletePartition",
        DatabaseName=db,
        TableName=table,
        PartitionsToDelete=[{"Values": ["2022", "eu"]}, {"Values": ["2022", "us"]}],
    )
    assert deleted["Errors"] == []

    function = {
        "FunctionName": "upper_all",
        "ClassName": "com.example.UpperAll",
        "OwnerName": "alice",
        "OwnerType": "USER",
        "ResourceUris": [{"ResourceType": "JAR", "Uri": "s3://bucket/udf.jar"}],
    }
    call("CreateUserDefinedFunction", DatabaseName=db, FunctionInput=function)
    call("GetUserDefinedFunction", DatabaseName=db, FunctionName="upper_all")
    call("GetUserDefinedFunctions", DatabaseName=db, Pattern="upper.*")
    call(
        "UpdateUserDefinedFunction",
        DatabaseName=db,
        FunctionName="upper_all",
        FunctionInput={**function, "ClassName": "com.example.UpperAll2"},
    )
    call("DeleteUserDefinedFunction", DatabaseName=db, FunctionName="upper_all")

    connection = {
        "Name": f"conn_{n}",
        "ConnectionType": "JDBC",
        "ConnectionProperties": {
            "JDBC_CONNECTION_URL": "jdbc:postgresql://db.example:5432/sales",
            "USERNAME": "etl",
            "PASSWORD": "secret",
        },
    }
    call("CreateConnection", ConnectionInput=connection)
    call("GetConnection", Name=f"conn_{n}", HidePassword=True)
    call("GetConnections", HidePassword=True)
    call("UpdateConnection", Name=f"conn_{n}", ConnectionInput={**connection, "Description": "x"})
    call("DeleteConnection", ConnectionName=f"conn_{n}")

    grok = {"Classification": "logs", "Name": f"grok_{n}", "GrokPattern": "%{WORD:word}"}
    call("CreateClassifier", GrokClassifier=grok)
    call("GetClassifier", Name=f"grok_{n}")
    call("GetClassifiers")
    call("UpdateClassifier", GrokClassifier={**grok, "Classification": "logs2"})
    call("DeleteClassifier", Name=f"grok_{n}")

    database_arn = f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{db}"
    call("TagResource", ResourceArn=database_arn, TagsToAdd={"env": "dev"})
    call("UntagResource", ResourceArn=database_arn, TagsToRemove=["team"])
    assert call("GetTags", ResourceArn=database_arn)["Tags"] == {"env": "dev"}

    source = {"DatabaseName": db, "TableName": table}
    mapping = call("GetMapping", Source=source)["Mapping"]
    assert mapping
    call(
        "GetPlan",
        Mapping=mapping,
        Source=source,
        Sinks=[{"DatabaseName": db, "TableName": "spare"}],
        Language="PYTHON",
    )
    script = call(
        "CreateScript",
        DagNodes=[
            {
                "Id": "datasource0",
                "NodeType": "DataSource",
                "Args": [
                    {"Name": "database", "Value": json.dumps(db)},
                    {"Name": "table_name", "Value": json.dumps(table)},
                ],
            },
            {
                "Id": "datasink1",
                "NodeType": "DataSink",
                "Args": [
                    {"Name": "path", "Value": '"s3://bucket/out"'},
                    {"Name": "format", "Value": '"json"'},
                ],
            },
        ],
        DagEdges=[{"Source": "datasource0", "Target": "datasink1", "TargetParameter": "frame"}],
        Language="PYTHON",
    )["PythonScript"]
    call("GetDataflowGraph", PythonScript=script)

    deleted_tables = call("BatchDeleteTable", DatabaseName=db, TablesToDelete=["spare", "absent"])
    assert [e["TableName"] for e in deleted_tables["Errors"]] == ["absent"]
    call("DeleteTable", DatabaseName=db, Name="spare2")
    # The database (and its table) stay: the crawler below writes to it.


def jobs(call: Caller, glue_server: GlueServer, key: AccessKey, n: str) -> None:
    job = f"job_{n}"
    # The script exists, so that runs wait for Ray (which this server never reaches) and a
    # workflow's run stays RUNNING until it is stopped.
    sluice_call(glue_server, key, "UploadScript", {"Name": f"{job}.py", "Content": "print(1)\n"})
    command = {"Name": "glueetl", "ScriptLocation": f"sluice://scripts/{job}.py"}
    # Room for the run BatchStopJobRun leaves STOPPING (no agent ends it) and a workflow's.
    definition = {"Role": "etl", "Command": command, "ExecutionProperty": {"MaxConcurrentRuns": 5}}
    call("CreateJob", Name=job, **definition)
    call("GetJob", JobName=job)
    call("GetJobs")
    call("ListJobs")
    call("UpdateJob", JobName=job, JobUpdate={**definition, "Description": "d"})
    run_id = call("StartJobRun", JobName=job, Arguments={"--day": "1"})["JobRunId"]
    call("GetJobRun", JobName=job, RunId=run_id)
    call("GetJobRuns", JobName=job)
    call("BatchStopJobRun", JobName=job, JobRunIds=[run_id])
    # No API writes a bookmark but a succeeded run's commit (and nothing runs here).
    put_bookmark(glue_server, job)
    call("GetJobBookmark", JobName=job)
    call("ResetJobBookmark", JobName=job)

    scheduled, on_demand = f"nightly_{n}", f"now_{n}"
    actions = [{"JobName": job}]
    call(
        "CreateTrigger",
        Name=scheduled,
        Type="SCHEDULED",
        Schedule="cron(0 3 * * ? *)",
        Actions=actions,
        Tags={"team": "a"},
    )
    call("CreateTrigger", Name=on_demand, Type="ON_DEMAND", Actions=actions)
    call("GetTrigger", Name=scheduled)
    call("GetTriggers", DependentJobName=job)
    call("ListTriggers")
    call("BatchGetTriggers", TriggerNames=[scheduled, "absent"])
    call("UpdateTrigger", Name=scheduled, TriggerUpdate={"Description": "at three"})
    call("StartTrigger", Name=scheduled)
    call("StopTrigger", Name=scheduled)
    call("DeleteTrigger", Name=on_demand)

    workflow = f"wf_{n}"
    call("CreateWorkflow", Name=workflow, DefaultRunProperties={"day": "1"})
    call(
        "CreateTrigger",
        Name=f"wf_start_{n}",
        WorkflowName=workflow,
        Type="ON_DEMAND",
        Actions=actions,
    )
    call("GetWorkflow", Name=workflow, IncludeGraph=True)
    call("ListWorkflows")
    call("BatchGetWorkflows", Names=[workflow, "absent"], IncludeGraph=True)
    call("UpdateWorkflow", Name=workflow, Description="daily")
    run = call("StartWorkflowRun", Name=workflow, RunProperties={"k": "v"})["RunId"]
    call("GetWorkflowRun", Name=workflow, RunId=run, IncludeGraph=True)
    call("GetWorkflowRuns", Name=workflow, IncludeGraph=True)
    call("GetWorkflowRunProperties", Name=workflow, RunId=run)
    # A run takes properties while it runs (its job's run waits for Ray), and stops.
    call("PutWorkflowRunProperties", Name=workflow, RunId=run, RunProperties={"k": "w"})
    call("StopWorkflowRun", Name=workflow, RunId=run)
    # An ended run resumes: one whose job's script does not exist fails at once.
    ended, gone = f"wf_ended_{n}", f"gone_{n}"
    call(
        "CreateJob",
        Name=gone,
        Role="etl",
        Command={"Name": "glueetl", "ScriptLocation": f"sluice://scripts/{gone}.py"},
    )
    call("CreateWorkflow", Name=ended)
    call(
        "CreateTrigger",
        Name=f"wf_ended_start_{n}",
        WorkflowName=ended,
        Type="ON_DEMAND",
        Actions=[{"JobName": gone}],
    )
    first = call("StartWorkflowRun", Name=ended)["RunId"]
    wait_until(
        lambda: call("GetWorkflowRun", Name=ended, RunId=first)["Run"]["Status"] == "COMPLETED",
        60,
        "the workflow run to complete (its job's script does not exist)",
    )
    call("ResumeWorkflowRun", Name=ended, RunId=first, NodeIds=[f"job/{gone}"])
    call("DeleteWorkflow", Name=workflow)
    call("DeleteTrigger", Name=scheduled)
    call("DeleteJob", JobName=job)


def sluice_call(glue: GlueServer, key: AccessKey, operation: str, body: dict[str, Any]) -> Any:
    """An operation of the door that Glue does not have, signed as boto3 signs (SigV4)."""
    request = AWSRequest(
        method="POST",
        url=glue.endpoint + "/",
        data=json.dumps(body).encode(),
        headers={
            "X-Amz-Target": f"AWSGlue.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    SigV4Auth(credentials, "glue", REGION).add_auth(request)
    prepared = request.prepare()
    sent = urllib.request.Request(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST"
    )
    with urllib.request.urlopen(sent, timeout=30) as answer:
        return json.loads(answer.read())


def put_bookmark(glue: GlueServer, job: str) -> None:
    """A bookmark for job, as a succeeded run's commit leaves it, written into the database."""
    document = json.dumps({"datasource0": {"jsonClass": "HadoopDataSourceJobBookmarkState"}})
    query = (
        "INSERT INTO job_bookmarks (job_id, version, run, attempt, previous_run_id, run_id,"
        " document, updated_on) SELECT id, 1, 1, 1, '', 'jr_1', {0},"
        " '2026-01-01 00:00:00.000000' FROM jobs WHERE account = {0} AND name = {0}"
    )
    if glue.db_url:
        with psycopg.connect(glue.db_url, connect_timeout=5) as db:
            assert db.execute(query.format("%s"), (document, ACCOUNT, job)).rowcount == 1
    else:
        path = glue.server.data_dir / "sluice.db"
        with closing(sqlite3.connect(path, timeout=30)) as db, db:
            assert db.execute(query.format("?"), (document, ACCOUNT, job)).rowcount == 1


def crawlers(call: Caller, n: str) -> None:
    crawler = f"crawler_{n}"
    call(
        "CreateCrawler",
        Name=crawler,
        Role="etl",
        DatabaseName=f"db_{n}",
        Targets={"S3Targets": [{"Path": "s3://bucket/crawl/"}]},
    )
    call("GetCrawler", Name=crawler)
    call("GetCrawlers")
    call("ListCrawlers")
    call("BatchGetCrawlers", CrawlerNames=[crawler, "absent"])
    call("UpdateCrawler", Name=crawler, Description="daily")
    call("UpdateCrawlerSchedule", CrawlerName=crawler, Schedule="cron(0 4 * * ? *)")
    call("StopCrawlerSchedule", CrawlerName=crawler)  # a schedule given is on
    call("StartCrawlerSchedule", CrawlerName=crawler)
    call("StopCrawlerSchedule", CrawlerName=crawler)
    call("StartCrawler", Name=crawler)
    call("StopCrawler", Name=crawler)
    call("GetCrawlerMetrics", CrawlerNameList=[crawler])
    call("ListCrawls", CrawlerName=crawler)
    wait_until(
        lambda: call("GetCrawler", Name=crawler)["Crawler"]["State"] == "READY",
        60,
        "the crawl to stop",
    )
    call("DeleteCrawler", Name=crawler)
    call("DeleteDatabase", Name=f"db_{n}")


def test_every_served_operation_through_boto3(glue_server: GlueServer) -> None:
    assert len(SERVED) >= 90, SERVED
    n = uuid.uuid4().hex[:8]
    key = make_key(glue_server, f"every_{n}")
    call = Caller(client(glue_server, key))
    steps: list[Callable[[], None]] = [
        lambda: catalog(call, n),
        lambda: jobs(call, glue_server, key, n),
        lambda: crawlers(call, n),
    ]
    for step in steps:
        step()
    assert not call.problems, "\n".join(call.problems)
    assert sorted(set(SERVED) - call.called) == [], "served operations no test calls"


def iceberg_catalog(glue: GlueServer, key: AccessKey, warehouse: str) -> GlueCatalog:
    return GlueCatalog(
        "sluice",
        **{
            "glue.endpoint": glue.endpoint,
            "glue.region": REGION,
            "glue.access-key-id": key.access_key_id,
            "glue.secret-access-key": key.secret_access_key,
            "glue.max-retries": 1,
            "warehouse": warehouse,
        },
    )


def test_icebergs_glue_catalog(glue_server: GlueServer, tmp_path: Any) -> None:
    n = uuid.uuid4().hex[:8]
    key = make_key(glue_server, f"iceberg_{n}")
    catalog = iceberg_catalog(glue_server, key, tmp_path.as_uri())
    namespace = f"lake_{n}"
    catalog.create_namespace(namespace, {"owner": "alice"})
    assert (namespace,) in catalog.list_namespaces()
    assert catalog.load_namespace_properties(namespace)["owner"] == "alice"
    schema = Schema(
        NestedField(1, "id", LongType(), required=False),
        NestedField(2, "name", StringType(), required=False),
    )
    identifier = f"{namespace}.events"
    # No retries: pyiceberg retries a failed commit on the new version by default.
    table = catalog.create_table(
        identifier, schema=schema, properties={"commit.retry.num-retries": "0"}
    )
    assert catalog.list_tables(namespace) == [(namespace, "events")]
    rows = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]})
    table.append(rows)
    loaded = catalog.load_table(identifier)
    assert loaded.scan().to_arrow().num_rows == 2
    assert loaded.metadata_location == table.metadata_location
    glue = client(glue_server, key)
    stored = glue.get_table(DatabaseName=namespace, Name="events")["Table"]
    assert stored["Parameters"]["table_type"].upper() == "ICEBERG"
    assert stored["Parameters"]["metadata_location"] == loaded.metadata_location
    assert stored["Parameters"]["previous_metadata_location"] != loaded.metadata_location

    # Two writers at the same version: the one whose UpdateTable carries a VersionId that the
    # other's commit has replaced gets ConcurrentModificationException, which pyiceberg raises
    # as CommitFailedException; the winner's rows are there, the loser's not.
    other = iceberg_catalog(glue_server, key, tmp_path.as_uri())
    winner, loser = catalog.load_table(identifier), other.load_table(identifier)
    raced: list[str] = []

    def commit_in_between(**_: Any) -> None:
        # After the loser's commit read the table (and its VersionId), before its UpdateTable.
        if not raced:
            raced.append("won")
            winner.append(rows)

    def error(parsed: dict[str, Any], **_: Any) -> None:
        refused.append(parsed.get("Error", {}).get("Code", ""))

    refused: list[str] = []
    other.glue.meta.events.register("after-call.glue.GetTable", commit_in_between)
    other.glue.meta.events.register("after-call.glue.UpdateTable", error)
    with pytest.raises(CommitFailedException, match="concurrent update"):
        loser.append(rows)
    assert raced == ["won"]
    assert refused == ["ConcurrentModificationException"]
    assert catalog.load_table(identifier).scan().to_arrow().num_rows == 4

    catalog.drop_table(identifier)
    catalog.drop_namespace(namespace)
    assert (namespace,) not in catalog.list_namespaces()


def test_the_audited_client_address_is_the_peers_not_a_forwarded_one(
    glue_server: GlueServer,
) -> None:
    # A caller on this host (a run's sandbox is one) cannot name another client address.
    name = f"forwarder_{uuid.uuid4().hex[:8]}"
    glue = client(glue_server, make_key(glue_server, name))

    def forwarded(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-For"] = "203.0.113.9"

    glue.meta.events.register("before-sign.glue.GetDatabases", forwarded)
    glue.get_databases()
    audit = audit_pb2_grpc.AuditServiceStub(glue_server.channel)
    query = audit_pb2.QueryAuditEventsRequest(
        account=ACCOUNT, principal=name, action="glue:GetDatabases"
    )
    event = wait_until(
        lambda: next(iter(audit.QueryAuditEvents(query).events), None),
        30,
        "the GetDatabases in the audit trail",
    )
    assert event.client_address == "127.0.0.1"
