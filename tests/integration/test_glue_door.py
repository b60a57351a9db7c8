"""The Glue door (AWS JSON 1.1 + SigV4) through real clients: boto3 and the AWS CLI against a
real server with --glue-port (one on SQLite, one on PostgreSQL), authenticated with access keys
made through the IAM API."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import grpc
import psycopg
import pytest
from botocore.config import Config

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.audit.v1 import types_pb2 as audit_types
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from tests.integration.conftest import (
    PG_ADMIN_URL,
    ServerProcess,
    authed_channel,
    free_port,
    start_server,
    stop_server,
    wait_until,
)

pytestmark = pytest.mark.integration

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"


@dataclass
class GlueServer:
    server: ServerProcess
    endpoint: str
    channel: grpc.Channel
    database: str
    # The server's --db URL ("" for its SQLite file), for what no API reads back.
    db_url: str = ""


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str


@contextmanager
def database(kind: str) -> Iterator[list[str]]:
    """The server arguments of a database of kind: SQLite, or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        yield []
        return
    schema = f"sluice_glue_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield ["--db", f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"]
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def glue_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GlueServer]:
    glue_port = free_port()
    with database(request.param) as db_args:
        # Runs here fail at once (their script does not exist); a Ray address where nothing
        # listens keeps the server from ever starting an embedded Ray.
        server = start_server(
            tmp_path_factory.mktemp("glue"),
            "--glue-port",
            str(glue_port),
            "--ray-address",
            f"127.0.0.1:{free_port()}",
            *db_args,
        )
        try:
            with authed_channel(server.address) as channel:
                yield GlueServer(
                    server,
                    f"http://127.0.0.1:{glue_port}",
                    channel,
                    request.param,
                    db_args[-1] if db_args else "",
                )
        finally:
            stop_server(server.process)


def make_key(
    glue: GlueServer, name: str, account: str = ACCOUNT, roles: tuple[str, ...] = ("admin",)
) -> AccessKey:
    iam = iam_pb2_grpc.IamServiceStub(glue.channel)
    iam.CreatePrincipal(iam_pb2.CreatePrincipalRequest(account=account, name=name, roles=roles))
    made = iam.CreateAccessKey(iam_pb2.CreateAccessKeyRequest(account=account, principal_name=name))
    return AccessKey(made.access_key_info.access_key_id, made.secret_access_key)


def client(glue: GlueServer, key: AccessKey) -> Any:
    return boto3.client(
        "glue",
        endpoint_url=glue.endpoint,
        region_name=REGION,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def key(glue_server: GlueServer) -> AccessKey:
    return make_key(glue_server, "alice")


@pytest.fixture(scope="module")
def glue(glue_server: GlueServer, key: AccessKey) -> Any:
    return client(glue_server, key)


def error_code(exc: botocore.exceptions.ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


TABLE_INPUT = {
    "Name": "orders",
    "Description": "orders by day",
    "StorageDescriptor": {
        "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"}],
        "Location": "s3://bucket/orders/",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"},
    },
    "PartitionKeys": [{"Name": "year", "Type": "int"}, {"Name": "region", "Type": "string"}],
    "TableType": "EXTERNAL_TABLE",
    "Parameters": {"classification": "csv"},
}


def test_databases_and_tables_round_trip(glue: Any) -> None:
    glue.create_database(DatabaseInput={"Name": "sales", "Description": "Sales data"})
    database = glue.get_database(Name="sales")["Database"]
    assert database["Name"] == "sales"
    assert database["Description"] == "Sales data"
    assert database["CatalogId"] == ACCOUNT
    assert database["CreateTime"].year >= 2024
    glue.update_database(Name="sales", DatabaseInput={"Name": "sales", "Description": "new"})
    assert glue.get_database(Name="sales")["Database"]["Description"] == "new"

    glue.create_table(DatabaseName="sales", TableInput=TABLE_INPUT)
    table = glue.get_table(DatabaseName="sales", Name="orders")["Table"]
    assert table["StorageDescriptor"]["Columns"][1] == {"Name": "amount", "Type": "double"}
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("SerDe")
    assert [k["Name"] for k in table["PartitionKeys"]] == ["year", "region"]
    assert table["Parameters"] == {"classification": "csv"}
    updated = {**TABLE_INPUT, "Description": "v2"}
    glue.update_table(DatabaseName="sales", TableInput=updated, VersionId=table["VersionId"])
    assert glue.get_table(DatabaseName="sales", Name="orders")["Table"]["Description"] == "v2"
    versions = glue.get_table_versions(DatabaseName="sales", TableName="orders")
    assert len(versions["TableVersions"]) == 2

    glue.delete_table(DatabaseName="sales", Name="orders")
    glue.delete_database(Name="sales")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_database(Name="sales")


def test_errors_are_glues(glue: Any) -> None:
    with pytest.raises(glue.exceptions.EntityNotFoundException) as missing:
        glue.get_table(DatabaseName="nope", Name="nothing")
    assert error_code(missing.value) == ("EntityNotFoundException", 400)
    assert "Traceback" not in str(missing.value)
    glue.create_database(DatabaseInput={"Name": "dup"})
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": "dup"})
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.create_database(DatabaseInput={"Name": "no spaces allowed / here"})
    with pytest.raises(glue.exceptions.InvalidInputException) as refused:
        glue.get_table(DatabaseName="dup", Name="t", TransactionId="tx1")
    assert "TransactionId" in str(refused.value)


def test_bodies_beyond_the_message_limit_are_refused(glue_server: GlueServer) -> None:
    huge = urllib.request.Request(
        glue_server.endpoint + "/",
        data=b" " * (16 * 1024 * 1024 + 1),
        method="POST",
        headers={"X-Amz-Target": "AWSGlue.GetDatabases"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(huge, timeout=60)
    assert refused.value.code == 413
    assert json.loads(refused.value.read())["__type"] == "RequestEntityTooLargeException"


def test_stale_version_is_a_concurrent_modification(glue: Any) -> None:
    glue.create_database(DatabaseInput={"Name": "iceberg"})
    glue.create_table(DatabaseName="iceberg", TableInput=TABLE_INPUT)
    version = glue.get_table(DatabaseName="iceberg", Name="orders")["Table"]["VersionId"]
    glue.update_table(DatabaseName="iceberg", TableInput=TABLE_INPUT, VersionId=version)
    with pytest.raises(glue.exceptions.ConcurrentModificationException):
        glue.update_table(DatabaseName="iceberg", TableInput=TABLE_INPUT, VersionId=version)


def test_partitions_expression_and_paginators(glue: Any) -> None:
    glue.create_database(DatabaseInput={"Name": "parts"})
    glue.create_table(DatabaseName="parts", TableInput=TABLE_INPUT)
    inputs = [
        {
            "Values": [str(year), region],
            "StorageDescriptor": {"Location": f"s3://b/{year}/{region}"},
        }
        for year in range(2015, 2025)
        for region in ("eu", "us")
    ]
    result = glue.batch_create_partition(
        DatabaseName="parts", TableName="orders", PartitionInputList=inputs
    )
    assert result["Errors"] == []
    again = glue.batch_create_partition(
        DatabaseName="parts", TableName="orders", PartitionInputList=inputs[:1]
    )
    assert again["Errors"][0]["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException"

    found = glue.get_partitions(
        DatabaseName="parts", TableName="orders", Expression="year >= 2020 AND region = 'eu'"
    )["Partitions"]
    assert sorted(p["Values"][0] for p in found) == [str(y) for y in range(2020, 2025)]

    pages = list(
        glue.get_paginator("get_partitions").paginate(
            DatabaseName="parts", TableName="orders", PaginationConfig={"PageSize": 3}
        )
    )
    assert len(pages) == 7
    assert sum(len(page["Partitions"]) for page in pages) == 20

    got = glue.batch_get_partition(
        DatabaseName="parts",
        TableName="orders",
        PartitionsToGet=[{"Values": ["2016", "us"]}, {"Values": ["1999", "eu"]}],
    )
    assert [p["Values"] for p in got["Partitions"]] == [["2016", "us"]]

    for n in range(5):
        glue.create_table(DatabaseName="parts", TableInput={**TABLE_INPUT, "Name": f"t{n}"})
    pages = list(
        glue.get_paginator("get_tables").paginate(
            DatabaseName="parts", PaginationConfig={"PageSize": 2}
        )
    )
    assert len(pages) == 3
    names = [t["Name"] for page in pages for t in page["TableList"]]
    assert sorted(names) == ["orders", "t0", "t1", "t2", "t3", "t4"]


def test_jobs_and_runs(glue: Any) -> None:
    job = {
        "Role": "etl",
        "Command": {"Name": "glueetl", "ScriptLocation": "sluice://scripts/none.py"},
        "DefaultArguments": {"--day": "2024-05-01"},
        "MaxRetries": 1,
        "Timeout": 30,
        "ExecutionProperty": {"MaxConcurrentRuns": 3},
    }
    for n in range(3):
        glue.create_job(Name=f"job{n}", **job)
    got = glue.get_job(JobName="job0")["Job"]
    assert got["DefaultArguments"] == {"--day": "2024-05-01"}
    assert got["ExecutionProperty"] == {"MaxConcurrentRuns": 3}
    assert got["Command"]["ScriptLocation"] == "sluice://scripts/none.py"
    jobs = [
        j["Name"]
        for page in glue.get_paginator("get_jobs").paginate(PaginationConfig={"PageSize": 2})
        for j in page["Jobs"]
    ]
    assert jobs == ["job0", "job1", "job2"]
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.start_job_run(JobName="missing")

    started = [
        glue.start_job_run(
            JobName="job0",
            Arguments={"--n": str(n)},
            # Glue's StartJobRun may override the job's NotificationProperty.
            **({"NotificationProperty": {"NotifyDelayAfter": 3}} if n == 0 else {}),
        )["JobRunId"]
        for n in range(3)
    ]
    run = wait_until(
        lambda: (
            (r := glue.get_job_run(JobName="job0", RunId=started[0])["JobRun"])
            and r["JobRunState"] == "FAILED"
            and r
        ),
        30,
        "the run to fail (its script does not exist)",
    )
    assert run["Arguments"]["--n"] == "0"
    assert run["NotificationProperty"] == {"NotifyDelayAfter": 3}
    assert "none.py" in run["ErrorMessage"]
    assert run["StartedOn"] <= run["CompletedOn"]
    pages = list(
        glue.get_paginator("get_job_runs").paginate(
            JobName="job0", PaginationConfig={"PageSize": 2}
        )
    )
    assert len(pages) == 2
    assert sorted(r["Id"] for page in pages for r in page["JobRuns"]) == sorted(started)


def test_workflows(glue: Any) -> None:
    job = {
        "Role": "etl",
        "Command": {"Name": "glueetl", "ScriptLocation": "sluice://scripts/no.py"},
    }
    glue.create_job(Name="wf-first", **job)
    glue.create_job(Name="wf-second", **job)
    glue.create_workflow(Name="wf", DefaultRunProperties={"day": "1"}, MaxConcurrentRuns=2)
    glue.create_trigger(
        Name="wf-start",
        WorkflowName="wf",
        Type="ON_DEMAND",
        Actions=[{"JobName": "wf-first"}],
    )
    glue.create_trigger(
        Name="wf-then",
        WorkflowName="wf",
        Type="CONDITIONAL",
        Predicate={"Conditions": [{"JobName": "wf-first", "State": "FAILED"}]},
        Actions=[{"JobName": "wf-second"}],
    )
    run_id = glue.start_workflow_run(Name="wf", RunProperties={"k": "v"})["RunId"]
    run = wait_until(
        lambda: (
            (r := glue.get_workflow_run(Name="wf", RunId=run_id, IncludeGraph=True)["Run"])
            and r["Status"] == "COMPLETED"
            and r
        ),
        60,
        "the workflow run to complete (its jobs' script does not exist)",
    )
    assert run["Statistics"]["TotalActions"] == 2 and run["Statistics"]["FailedActions"] == 2
    assert run["WorkflowRunProperties"] == {"day": "1", "k": "v"}
    nodes = {node["UniqueId"]: node for node in run["Graph"]["Nodes"]}
    assert nodes["job/wf-second"]["Type"] == "JOB"
    (second,) = nodes["job/wf-second"]["JobDetails"]["JobRuns"]
    assert second["Arguments"]["--WORKFLOW_RUN_ID"] == run_id
    assert nodes["trigger/wf-then"]["TriggerDetails"]["Trigger"]["Type"] == "CONDITIONAL"
    workflow = glue.get_workflow(Name="wf", IncludeGraph=True)["Workflow"]
    assert workflow["LastRun"]["WorkflowRunId"] == run_id
    assert {"SourceId": "job/wf-first", "DestinationId": "trigger/wf-then"} in workflow["Graph"][
        "Edges"
    ]
    # The run keeps its graph as of its start: a trigger deleted since is still in it.
    glue.delete_trigger(Name="wf-then")
    graph = glue.get_workflow(Name="wf", IncludeGraph=True)["Workflow"]["Graph"]
    assert "trigger/wf-then" not in {node["UniqueId"] for node in graph["Nodes"]}
    kept = glue.get_workflow_run(Name="wf", RunId=run_id, IncludeGraph=True)["Run"]["Graph"]
    assert kept == run["Graph"]
    (listed,) = glue.get_workflow_runs(Name="wf", IncludeGraph=True)["Runs"]
    assert listed["Graph"] == run["Graph"]
    assert glue.list_workflows()["Workflows"] == ["wf"]
    with pytest.raises(glue.exceptions.IllegalWorkflowStateException):
        glue.put_workflow_run_properties(Name="wf", RunId=run_id, RunProperties={"k": "w"})
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_workflow(Name="missing")
    assert glue.delete_workflow(Name="wf")["Name"] == "wf"
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_trigger(Name="wf-start")


def test_glue_only_job_members_are_kept_and_returned_unchanged(glue: Any) -> None:
    # What Terraform's aws_glue_job sets; applied twice, it must read back what it wrote.
    extra = {
        "GlueVersion": "4.0",
        "MaxCapacity": 2.0,
        "SecurityConfiguration": "sec-conf",
        "NotificationProperty": {"NotifyDelayAfter": 10},
        "LogUri": "s3://logs/etl/",
        "ExecutionClass": "FLEX",
        "JobMode": "SCRIPT",
        "JobRunQueuingEnabled": False,
        "MaintenanceWindow": "SAT:02",
    }
    command = {"Name": "glueetl", "ScriptLocation": "sluice://scripts/tf.py"}
    glue.create_job(Name="terraformed", Role="etl", Command=command, **extra)
    got = glue.get_job(JobName="terraformed")["Job"]
    assert {name: got.get(name) for name in extra} == extra
    changed = {**extra, "GlueVersion": "5.0", "NotificationProperty": {"NotifyDelayAfter": 5}}
    del changed["LogUri"]
    glue.update_job(JobName="terraformed", JobUpdate={"Role": "etl", "Command": command, **changed})
    got = glue.get_job(JobName="terraformed")["Job"]
    assert {name: got.get(name) for name in changed} == changed
    assert "LogUri" not in got


def test_unsigned_and_badly_signed_calls_are_refused(
    glue_server: GlueServer, key: AccessKey
) -> None:
    wrong = client(glue_server, AccessKey(key.access_key_id, "x" * 40))
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        wrong.get_databases()
    assert error_code(bad.value) == ("InvalidSignatureException", 400)
    unknown = client(glue_server, AccessKey("AKIA" + "Z" * 16, key.secret_access_key))
    with pytest.raises(botocore.exceptions.ClientError) as who:
        unknown.get_databases()
    assert error_code(who.value) == ("UnrecognizedClientException", 400)
    unsigned = boto3.client(
        "glue",
        endpoint_url=glue_server.endpoint,
        region_name=REGION,
        config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as anonymous:
        unsigned.get_databases()
    assert error_code(anonymous.value)[0] == "MissingAuthenticationTokenException"

    malformed = urllib.request.Request(
        glue_server.endpoint + "/",
        data=b"{}",
        method="POST",
        headers={
            "X-Amz-Target": "AWSGlue.GetDatabases",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=nonsense",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as incomplete:
        urllib.request.urlopen(malformed, timeout=30)
    assert incomplete.value.code == 400
    assert json.loads(incomplete.value.read())["__type"] == "IncompleteSignatureException"

    # Refusals are audited as denied calls, as gRPC's are.
    audit = audit_pb2_grpc.AuditServiceStub(glue_server.channel)
    query = audit_pb2.QueryAuditEventsRequest(
        action="glue:GetDatabases", outcome=audit_types.AUDIT_OUTCOME_DENIED
    )

    def refused() -> list[str]:
        events = audit.QueryAuditEvents(query).events
        return [e.status_message for e in events if e.attributes.get("sluice.door") == "glue"]

    messages = wait_until(lambda: len(refused()) >= 4 and refused(), 10, "4 refusals audited")
    assert any("signature we calculated does not match" in m for m in messages)
    assert any("requires 'SignedHeaders'" in m for m in messages), messages


def test_tenants_are_isolated_and_calls_audited(glue_server: GlueServer, glue: Any) -> None:
    glue.create_database(DatabaseInput={"Name": "mine"})
    bob = client(glue_server, make_key(glue_server, "bob", account=OTHER_ACCOUNT))
    assert "mine" not in [d["Name"] for d in bob.get_databases()["DatabaseList"]]
    with pytest.raises(bob.exceptions.EntityNotFoundException):
        bob.get_database(Name="mine", CatalogId=ACCOUNT)
    with pytest.raises(bob.exceptions.EntityNotFoundException):
        bob.get_database(Name="mine")

    audit = audit_pb2_grpc.AuditServiceStub(glue_server.channel)
    query = audit_pb2.QueryAuditEventsRequest(
        account=ACCOUNT, action="glue:CreateDatabase", resource="*database/mine"
    )
    event = wait_until(
        lambda: next(iter(audit.QueryAuditEvents(query).events), None),
        10,
        "the door's CreateDatabase in the audit trail",
    )
    assert event.principal_name == "alice"
    assert event.attributes["sluice.door"] == "glue"
    assert event.client_address == "127.0.0.1"


def test_aws_cli_with_a_key_from_sluice_access_keys(glue_server: GlueServer, glue: Any) -> None:
    if glue_server.database != "sqlite":
        pytest.skip("the AWS CLI's process start-ups cost seconds: once is enough")
    glue.create_database(DatabaseInput={"Name": "from_cli"})
    iam = iam_pb2_grpc.IamServiceStub(glue_server.channel)
    iam.CreatePrincipal(
        iam_pb2.CreatePrincipalRequest(account=ACCOUNT, name="carol", roles=["admin"])
    )
    bin_dir = Path(sys.executable).parent
    sluice_env = {**os.environ, "SLUICE_ADDRESS": glue_server.server.address}
    made = subprocess.run(
        [str(bin_dir / "sluice"), "access-keys", "create", "carol", "--account", ACCOUNT],
        env=sluice_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pair = dict(line.removeprefix("export ").split("=", 1) for line in made.stdout.splitlines())
    aws_token = subprocess.run(
        [str(bin_dir / "sluice"), "tokens", "create", "carol", "--aws", "--account", ACCOUNT],
        env=sluice_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert aws_token.stdout.startswith("export AWS_ACCESS_KEY_ID=AKIA")
    listed = subprocess.run(
        [str(bin_dir / "sluice"), "access-keys", "list", "carol", "--account", ACCOUNT],
        env=sluice_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert pair["AWS_ACCESS_KEY_ID"] in listed.stdout
    assert pair["AWS_SECRET_ACCESS_KEY"] not in listed.stdout
    assert listed.stdout.count("AKIA") == 2  # both keys
    aws = shutil.which("aws", path=str(bin_dir)) or "aws"
    env = {
        **os.environ,
        **pair,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [aws, "glue", "get-databases", "--endpoint-url", glue_server.endpoint, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "from_cli" in [d["Name"] for d in json.loads(done.stdout)["DatabaseList"]]

    subprocess.run(
        [
            str(bin_dir / "sluice"),
            "access-keys",
            "delete",
            pair["AWS_ACCESS_KEY_ID"],
            "--account",
            ACCOUNT,
        ],
        env=sluice_env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    refused = subprocess.run(
        [aws, "glue", "get-databases", "--endpoint-url", glue_server.endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "UnrecognizedClientException" in refused.stderr


def arn(kind: str, name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:glue:{REGION}:{account}:{kind}/{name}"


def test_tags_on_create_and_tag_untag_get_for_every_taggable_resource(glue: Any) -> None:
    tags = {"team": "sales", "env": "prod"}
    glue.create_database(DatabaseInput={"Name": "Tagged_DB"}, Tags=tags)
    glue.create_connection(
        ConnectionInput={
            "Name": "tagged_conn",
            "ConnectionType": "JDBC",
            "ConnectionProperties": {"JDBC_CONNECTION_URL": "jdbc:postgresql://h/db"},
        },
        Tags=tags,
    )
    glue.create_job(
        Name="tagged_job",
        Role="etl",
        Command={"Name": "glueetl", "ScriptLocation": "sluice://scripts/none.py"},
        Tags=tags,
    )
    glue.create_trigger(
        Name="tagged_trigger",
        Type="ON_DEMAND",
        Actions=[{"JobName": "tagged_job"}],
        Tags=tags,
    )
    glue.create_crawler(
        Name="tagged_crawler",
        Role="etl",
        DatabaseName="tagged_db",
        Targets={"S3Targets": [{"Path": "s3://bucket/x/"}]},
        Tags=tags,
    )
    resources = [
        arn("database", "tagged_db"),
        arn("connection", "tagged_conn"),
        arn("job", "tagged_job"),
        arn("trigger", "tagged_trigger"),
        arn("crawler", "tagged_crawler"),
    ]
    for resource in resources:
        assert glue.get_tags(ResourceArn=resource)["Tags"] == tags, resource
        glue.tag_resource(ResourceArn=resource, TagsToAdd={"env": "dev", "owner": "ann"})
        glue.untag_resource(ResourceArn=resource, TagsToRemove=["team", "absent"])
        assert glue.get_tags(ResourceArn=resource)["Tags"] == {"env": "dev", "owner": "ann"}
    # A database's ARN names it as the catalog does (lower case).
    assert glue.get_tags(ResourceArn=arn("database", "TAGGED_DB"))["Tags"]["owner"] == "ann"
    # The stores' own tag filters see TagResource's tags.
    assert "tagged_job" in glue.list_jobs(Tags={"owner": "ann"})["JobNames"]
    assert "tagged_job" not in glue.list_jobs(Tags={"team": "sales"})["JobNames"]
    assert "tagged_crawler" in glue.list_crawlers(Tags={"env": "dev"})["CrawlerNames"]

    # Tags go with their resource: one made again under the name starts with none.
    glue.delete_database(Name="tagged_db")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_tags(ResourceArn=arn("database", "tagged_db"))
    glue.create_database(DatabaseInput={"Name": "tagged_db"})
    assert glue.get_tags(ResourceArn=arn("database", "tagged_db"))["Tags"] == {}
    glue.delete_job(JobName="tagged_job")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.tag_resource(ResourceArn=arn("job", "tagged_job"), TagsToAdd={"a": "b"})


def test_tag_limits_and_arns_are_glues(glue: Any) -> None:
    glue.create_database(DatabaseInput={"Name": "limits"})
    resource = arn("database", "limits")
    glue.tag_resource(ResourceArn=resource, TagsToAdd={f"k{n}": "v" for n in range(50)})
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.tag_resource(ResourceArn=resource, TagsToAdd={"one": "too many"})
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.create_database(
            DatabaseInput={"Name": "limits2"}, Tags={f"k{n}": "v" for n in range(51)}
        )
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_database(Name="limits2")  # refused before it was made
    for bad in ({"k" * 129: "v"}, {"k": "v" * 257}):
        with pytest.raises(glue.exceptions.InvalidInputException):
            glue.tag_resource(ResourceArn=arn("database", "limits"), TagsToAdd=bad)
    for bad_arn in (
        "arn:aws:glue:us-east-1:111122223333:table/limits/t",  # not a type Sluice tags
        "arn:aws:s3:::bucket",
    ):
        with pytest.raises(glue.exceptions.InvalidInputException):
            glue.get_tags(ResourceArn=bad_arn)
    # Another region's ARN names nothing here.
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_tags(ResourceArn=f"arn:aws:glue:eu-west-1:{ACCOUNT}:database/limits")


def test_tags_are_tenant_isolated_authorised_and_audited(
    glue_server: GlueServer, glue: Any
) -> None:
    glue.create_database(DatabaseInput={"Name": "private"}, Tags={"secret": "alice"})
    bob = client(glue_server, make_key(glue_server, "bob_tags", account=OTHER_ACCOUNT))
    mine = arn("database", "private")
    with pytest.raises(bob.exceptions.EntityNotFoundException):
        bob.get_tags(ResourceArn=mine)
    with pytest.raises(bob.exceptions.EntityNotFoundException):
        bob.tag_resource(ResourceArn=mine, TagsToAdd={"bob": "was here"})
    with pytest.raises(bob.exceptions.EntityNotFoundException):
        bob.untag_resource(ResourceArn=mine, TagsToRemove=["secret"])
    # The same name in Bob's own account is his own (missing) database.
    with pytest.raises(bob.exceptions.EntityNotFoundException):
        bob.get_tags(ResourceArn=arn("database", "private", OTHER_ACCOUNT))
    assert glue.get_tags(ResourceArn=mine)["Tags"] == {"secret": "alice"}

    # Authorised as any call: a principal no policy allows may not tag.
    reader = client(glue_server, make_key(glue_server, "tag_reader", roles=("reader",)))
    with pytest.raises(reader.exceptions.AccessDeniedException):
        reader.tag_resource(ResourceArn=mine, TagsToAdd={"r": "w"})

    audit = audit_pb2_grpc.AuditServiceStub(glue_server.channel)
    query = audit_pb2.QueryAuditEventsRequest(
        account=ACCOUNT, action="glue:GetTags", resource="*database/private"
    )
    event = wait_until(
        lambda: next(iter(audit.QueryAuditEvents(query).events), None),
        10,
        "the door's GetTags in the audit trail",
    )
    assert event.principal_name == "alice"


def test_code_generation_through_boto3(glue: Any) -> None:
    # Glue's own shapes: CodeGenNode args are Python literals, the graph comes back from the script.
    script = glue.create_script(
        DagNodes=[
            {
                "Id": "datasource0",
                "NodeType": "DataSource",
                "Args": [
                    {"Name": "database", "Value": '"sales"'},
                    {"Name": "table_name", "Value": '"orders"'},
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
    graph = glue.get_dataflow_graph(PythonScript=script)
    assert [(n["Id"], n["NodeType"]) for n in graph["DagNodes"]] == [
        ("datasource0", "DataSource"),
        ("datasink1", "DataSink"),
    ]
    assert graph["DagEdges"] == [
        {"Source": "datasource0", "Target": "datasink1", "TargetParameter": "frame"}
    ]
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        glue.get_mapping(Source={"DatabaseName": "sales", "TableName": "no_such_table"})
    assert error_code(bad.value)[0] == "InvalidInputException"
    # Sluice runs PySpark only: Glue's SCALA is refused, on purpose (docs/codegen.md).
    with pytest.raises(botocore.exceptions.ClientError) as scala:
        glue.create_script(DagNodes=[], Language="SCALA")
    assert error_code(scala.value)[0] == "InvalidInputException"
    assert "Language 'SCALA' is not supported" in scala.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as scala:
        glue.get_plan(
            Mapping=[],
            Source={"DatabaseName": "sales", "TableName": "orders"},
            Language="SCALA",
        )
    assert error_code(scala.value)[0] == "InvalidInputException"


VISUAL_NODES = {
    "node-1700000000001": {
        "S3CsvSource": {
            "Name": "Amazon S3",
            "Paths": ["s3://bucket/in/"],
            "Separator": "comma",
            "QuoteChar": "quote",
            "WithHeader": True,
            "MaxBand": 5,
            "OutputSchemas": [{"Columns": [{"Name": "id", "Type": "string"}]}],
        }
    },
    "node-1700000000002": {
        "Filter": {
            "Name": "Filter",
            "Inputs": ["node-1700000000001"],
            "LogicalOperator": "AND",
            "Filters": [
                {
                    "Operation": "EQ",
                    "Negated": False,
                    "Values": [
                        {"Type": "COLUMNEXTRACTED", "Value": ["id"]},
                        {"Type": "CONSTANT", "Value": ["7"]},
                    ],
                }
            ],
        }
    },
    "node-1700000000003": {
        "S3DirectTarget": {
            "Name": "Amazon S3",
            "Inputs": ["node-1700000000002"],
            "Path": "s3://bucket/out/",
            "Format": "parquet",
            "PartitionKeys": [],
            "SchemaChangePolicy": {"EnableUpdateCatalog": False},
        }
    },
}


def stored_script(glue: GlueServer, name: str, account: str = ACCOUNT) -> str:
    """An uploaded script as the server stored it (no API reads scripts back)."""
    query = "SELECT content FROM job_scripts WHERE account = {0} AND name = {0}"
    if glue.db_url:
        with psycopg.connect(glue.db_url, connect_timeout=5) as db:
            rows = db.execute(query.format("%s"), (account, name)).fetchall()
    else:
        path = glue.server.data_dir / "sluice.db"
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute(query.format("?"), (account, name)).fetchall()
    assert len(rows) == 1, rows
    return bytes(rows[0][0]).decode()


def test_visual_jobs_through_boto3(glue_server: GlueServer, glue: Any) -> None:
    # What Glue Studio and Terraform send: the nodes come back as they were given (no drift),
    # and the job's script is generated from them.
    command = {"Name": "glueetl", "ScriptLocation": "sluice://scripts/visual-etl.py"}
    glue.create_job(
        Name="visual", Role="etl", Command=command, JobMode="VISUAL",
        CodeGenConfigurationNodes=VISUAL_NODES,
    )  # fmt: skip
    got = glue.get_job(JobName="visual")["Job"]
    assert got["CodeGenConfigurationNodes"] == VISUAL_NODES
    assert got["Command"]["ScriptLocation"] == command["ScriptLocation"]
    script = stored_script(glue_server, "visual-etl.py")
    assert 'transformation_ctx="node-1700000000002"' in script
    assert 'f=lambda row: row["id"] == 7,' in script
    assert [j["Name"] for j in glue.get_jobs()["Jobs"] if "CodeGenConfigurationNodes" in j] == [
        "visual"
    ]

    bad = {**VISUAL_NODES, "node-9": {"S3DeltaSource": {"Name": "d", "Paths": ["s3://b/"]}}}
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        glue.update_job(
            JobName="visual",
            JobUpdate={"Role": "etl", "Command": command, "CodeGenConfigurationNodes": bad},
        )
    assert error_code(refused.value) == ("InvalidInputException", 400)
    assert "node 'node-9'" in refused.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as elsewhere:
        glue.create_job(
            Name="visual2", Role="etl",
            Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/scripts/visual2.py"},
            CodeGenConfigurationNodes=VISUAL_NODES,
        )  # fmt: skip
    assert error_code(elsewhere.value)[0] == "InvalidInputException"
    assert glue.get_job(JobName="visual")["Job"]["CodeGenConfigurationNodes"] == VISUAL_NODES
