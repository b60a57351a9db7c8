"""Input files in Sluice's and Glue's shapes: what `sluice ... get -o json` prints feeds back into
the matching create and update unchanged, and Glue's PascalCase (as `aws glue get-*` prints it)
is read as well. Over fake channels: what matters is the request the server would get."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.catalog.v1 import catalog_pb2
from sluice.catalog.v1 import types_pb2 as catalog_types
from sluice.iam.v1 import iam_pb2
from sluice.iam.v1 import types_pb2 as iam_types
from sluice.jobs.v1 import jobs_pb2
from sluice.jobs.v1 import types_pb2 as job_types
from sluice.sdk.catalog import CatalogClient
from sluice.sdk.cli.inputs import snake_case
from sluice.sdk.cli.main import cli
from sluice.sdk.config import ClientOptions
from sluice.sdk.iam import IamClient
from sluice.sdk.jobs import JobsClient
from tests.unit.test_sdk_support import FakeChannel

pytestmark = pytest.mark.unit

WHEN = Timestamp(seconds=1_714_557_600)
COLUMNS = [
    catalog_types.Column(name="id", type="bigint", comment="order id"),
    catalog_types.Column(name="amount", type="decimal(10,2)"),
]
STORAGE = catalog_types.StorageDescriptor(
    columns=COLUMNS,
    location="s3://bucket/orders/",
    input_format="org.apache.hadoop.mapred.TextInputFormat",
    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    serde_info=catalog_types.SerDeInfo(
        serialization_library="org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        parameters={"field.delim": ","},
    ),
    number_of_buckets=-1,
    parameters={"classification": "csv"},
)


class Channel(FakeChannel):
    """FakeChannel with streaming methods, which the jobs and IAM stubs make (never called)."""

    def unary_stream(self, *args: object, **kwargs: object) -> Callable[..., Any]:
        return self._not_called

    stream_unary = stream_stream = unary_stream

    def _not_called(self, *args: object, **kwargs: object) -> Any:
        raise AssertionError("a streaming call in a test of input files")


@dataclass
class FakeClient:
    """A client whose catalog, jobs and IAM parts run over one FakeChannel."""

    channel: Channel
    options: ClientOptions

    @property
    def catalog(self) -> CatalogClient:
        return CatalogClient(self.channel, self.options, "fake")  # type: ignore[arg-type]

    @property
    def jobs(self) -> JobsClient:
        return JobsClient(self.channel, self.options, "fake")  # type: ignore[arg-type]

    @property
    def iam(self) -> IamClient:
        return IamClient(self.channel, self.options, "fake")  # type: ignore[arg-type]

    def close(self) -> None:
        self.channel.close()


def returns(response: Message) -> Callable[[object], Message]:
    return lambda request: response


def sluice(channel: Channel, *args: str) -> Result:
    runner = CliRunner(env={"COLUMNS": "200", "SLUICE_ADDRESS": None, "SLUICE_CATALOG_ID": None})
    result = runner.invoke(
        cli,
        list(args),
        obj=lambda options: FakeClient(channel, options),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result


@dataclass(frozen=True)
class Kind:
    """One resource kind: how to read it, and the commands and requests that write it back."""

    name: str
    get_method: str
    get_response: Message
    get_args: tuple[str, ...]
    writes: tuple[tuple[str, tuple[str, ...], Callable[[Any], Message]], ...]
    expected: Message


TABLE = catalog_types.Table(
    name="orders",
    database_name="sales",
    description="Orders",
    owner="alice",
    create_time=WHEN,
    update_time=WHEN,
    retention=7,
    storage_descriptor=STORAGE,
    partition_keys=[catalog_types.Column(name="dt", type="date")],
    table_type="EXTERNAL_TABLE",
    parameters={"EXTERNAL": "TRUE"},
    created_by="alice",
    catalog_id="123456789012",
    version_id="3",
)
PARTITION = catalog_types.Partition(
    values=["2024-05-01"],
    database_name="sales",
    table_name="orders",
    creation_time=WHEN,
    last_access_time=WHEN,
    storage_descriptor=STORAGE,
    parameters={"rows": "10"},
    catalog_id="123456789012",
)
CONNECTION = catalog_types.Connection(
    name="warehouse",
    description="The warehouse",
    connection_type="JDBC",
    match_criteria=["pg"],
    connection_properties={"JDBC_CONNECTION_URL": "jdbc:postgresql://db/wh", "USERNAME": "u"},
    physical_connection_requirements=catalog_types.PhysicalConnectionRequirements(
        subnet_id="subnet-1", security_group_id_list=["sg-1"], availability_zone="eu-1a"
    ),
    creation_time=WHEN,
    last_updated_time=WHEN,
    last_updated_by="alice",
    catalog_id="123456789012",
)
FUNCTION = catalog_types.UserDefinedFunction(
    function_name="to_cents",
    database_name="sales",
    class_name="com.example.ToCents",
    owner_name="alice",
    owner_type=catalog_types.PRINCIPAL_TYPE_USER,
    create_time=WHEN,
    resource_uris=[
        catalog_types.ResourceUri(
            resource_type=catalog_types.RESOURCE_TYPE_JAR, uri="s3://bucket/udfs.jar"
        )
    ],
    catalog_id="123456789012",
)
JOB = job_types.Job(
    name="daily",
    description="Daily ETL",
    role="etl",
    command=job_types.JobCommand(
        name="glueetl", script_location="sluice://scripts/daily.py", python_version="3"
    ),
    default_arguments={"--input": "file:///in"},
    non_overridable_arguments={"--env": "prod"},
    max_retries=1,
    timeout=60,
    execution_property=job_types.ExecutionProperty(max_concurrent_runs=2),
    worker_type="G.1X",
    number_of_workers=2,
    connections=job_types.ConnectionsList(connections=["warehouse"]),
    tags={"team": "data"},
    created_on=WHEN,
    last_modified_on=WHEN,
)
POLICY = iam_types.Policy(
    account="123456789012",
    name="readers",
    description="Read sales",
    roles=["analyst"],
    statements=[
        iam_types.Statement(
            effect=iam_types.EFFECT_ALLOW, actions=["glue:Get*"], resources=["table/sales/*"]
        ),
        iam_types.Statement(
            effect=iam_types.EFFECT_DENY, actions=["glue:Delete*"], resources=["*"]
        ),
    ],
    created_on=WHEN,
    last_modified_on=WHEN,
)


def _input_of(resource: Message, input_cls: type[Message]) -> Message:
    """An `input_cls` holding the fields of `resource` that it has (a table's TableInput)."""
    result = input_cls()
    for field, value in resource.ListFields():
        if field.name in input_cls.DESCRIPTOR.fields_by_name:
            target = getattr(result, field.name)
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                target.update(value)
            elif field.is_repeated:
                target.extend(value)
            elif field.message_type is not None:
                target.CopyFrom(value)
            else:
                setattr(result, field.name, value)
    return result


KINDS = (
    Kind(
        "database",
        "GetDatabase",
        catalog_pb2.GetDatabaseResponse(
            database=catalog_types.Database(
                name="sales",
                description="Sales",
                location_uri="s3://bucket/sales/",
                parameters={"team": "data"},
                create_time=WHEN,
                catalog_id="123456789012",
            )
        ),
        ("databases", "get", "sales"),
        (
            ("CreateDatabase", ("databases", "create"), lambda r: r.database_input),
            ("UpdateDatabase", ("databases", "update", "sales"), lambda r: r.database_input),
        ),
        catalog_types.Database(
            name="sales",
            description="Sales",
            location_uri="s3://bucket/sales/",
            parameters={"team": "data"},
        ),
    ),
    Kind(
        "table",
        "GetTable",
        catalog_pb2.GetTableResponse(table=TABLE),
        ("tables", "get", "sales", "orders"),
        (
            ("CreateTable", ("tables", "create", "sales"), lambda r: r.table_input),
            ("UpdateTable", ("tables", "update", "sales", "orders"), lambda r: r.table_input),
        ),
        TABLE,
    ),
    Kind(
        "partition",
        "GetPartition",
        catalog_pb2.GetPartitionResponse(partition=PARTITION),
        ("partitions", "get", "sales", "orders", "2024-05-01"),
        (
            (
                "CreatePartition",
                ("partitions", "create", "sales", "orders"),
                lambda r: r.partition_input,
            ),
        ),
        PARTITION,
    ),
    Kind(
        "connection",
        "GetConnection",
        catalog_pb2.GetConnectionResponse(connection=CONNECTION),
        ("connections", "get", "warehouse"),
        (
            ("CreateConnection", ("connections", "create"), lambda r: r.connection_input),
            (
                "UpdateConnection",
                ("connections", "update", "warehouse"),
                lambda r: r.connection_input,
            ),
        ),
        CONNECTION,
    ),
    Kind(
        "function",
        "GetUserDefinedFunction",
        catalog_pb2.GetUserDefinedFunctionResponse(user_defined_function=FUNCTION),
        ("functions", "get", "sales", "to_cents"),
        (
            (
                "CreateUserDefinedFunction",
                ("functions", "create", "sales"),
                lambda r: r.function_input,
            ),
            (
                "UpdateUserDefinedFunction",
                ("functions", "update", "sales", "to_cents"),
                lambda r: r.function_input,
            ),
        ),
        FUNCTION,
    ),
    Kind(
        "job",
        "GetJob",
        jobs_pb2.GetJobResponse(job=JOB),
        ("jobs", "get", "daily"),
        (
            ("CreateJob", ("jobs", "create"), lambda r: r),
            ("UpdateJob", ("jobs", "update", "daily"), lambda r: r.job_update),
        ),
        JOB,
    ),
    Kind(
        "policy",
        "GetPolicy",
        iam_pb2.GetPolicyResponse(policy=POLICY),
        ("policies", "get", "readers"),
        (("PutPolicy", ("policies", "put"), lambda r: r),),
        iam_types.Policy(
            name="readers",
            description="Read sales",
            roles=["analyst"],
            statements=POLICY.statements,
        ),
    ),
)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_get_json_feeds_back_into_create_and_update(kind: Kind, tmp_path: Path) -> None:
    handlers: dict[str, Callable[[Any], Message]] = {kind.get_method: returns(kind.get_response)}
    for method, _, _ in kind.writes:
        handlers[method] = _empty_response
    channel = Channel(handlers)
    saved = tmp_path / f"{kind.name}.json"
    saved.write_text(sluice(channel, "-o", "json", *kind.get_args).stdout)

    for method, command, written_of in kind.writes:
        result = sluice(channel, *command, "-f", str(saved))

        assert result.stderr == ""
        (request,) = channel.requests(method)
        written = written_of(request)
        expected = type(written)()
        expected.MergeFrom(_input_of(kind.expected, type(written)))
        assert written == expected


def _empty_response(request: Message) -> Message:
    """The (empty) response of the method whose request this is."""
    name = type(request).DESCRIPTOR.full_name.replace("Request", "Response")
    for module in (catalog_pb2, jobs_pb2, iam_pb2):
        cls = getattr(module, name.rsplit(".", 1)[1], None)
        if cls is not None and cls.DESCRIPTOR.full_name == name:
            if name.endswith("PutPolicyResponse"):
                return cls(policy=POLICY)
            return cls()
    raise AssertionError(f"no response type for {name}")


def test_partitions_list_json_feeds_back_into_batch_create(tmp_path: Path) -> None:
    other = catalog_types.Partition()
    other.CopyFrom(PARTITION)
    other.values[:] = ["2024-05-02"]
    channel = Channel(
        {
            "GetPartitions": returns(
                catalog_pb2.GetPartitionsResponse(partitions=[PARTITION, other])
            ),
            "BatchCreatePartition": returns(catalog_pb2.BatchCreatePartitionResponse()),
        }
    )
    saved = tmp_path / "partitions.json"
    saved.write_text(sluice(channel, "-o", "json", "partitions", "list", "sales", "orders").stdout)

    sluice(channel, "partitions", "batch-create", "sales", "orders", "-f", str(saved))

    (request,) = channel.requests("BatchCreatePartition")
    assert list(request.partition_input_list) == [
        _input_of(PARTITION, catalog_types.PartitionInput),
        _input_of(other, catalog_types.PartitionInput),
    ]


# `aws glue get-table --database-name sales --name orders`, as the AWS CLI prints it.
GLUE_GET_TABLE = {
    "Table": {
        "Name": "orders",
        "DatabaseName": "sales",
        "Owner": "hadoop",
        "CreateTime": "2024-05-01T10:00:00+00:00",
        "UpdateTime": "2024-05-01T10:00:00+00:00",
        "LastAccessTime": 1714557600.0,
        "Retention": 0,
        "StorageDescriptor": {
            "Columns": [
                {"Name": "id", "Type": "bigint", "Comment": "order id"},
                {"Name": "amount", "Type": "decimal(10,2)"},
            ],
            "Location": "s3://bucket/orders/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "Compressed": False,
            "NumberOfBuckets": -1,
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": ","},
            },
            "BucketColumns": [],
            "SortColumns": [{"Column": "id", "SortOrder": 1}],
            "Parameters": {"classification": "csv"},
            "SkewedInfo": {
                "SkewedColumnNames": [],
                "SkewedColumnValues": [],
                "SkewedColumnValueLocationMaps": {},
            },
            "StoredAsSubDirectories": False,
        },
        "PartitionKeys": [{"Name": "dt", "Type": "date"}],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "classification": "csv"},
        "CreatedBy": "arn:aws:iam::123456789012:user/alice",
        "IsRegisteredWithLakeFormation": False,
        "CatalogId": "123456789012",
        "VersionId": "0",
    }
}


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_glue_table_as_the_aws_cli_prints_it_is_accepted(tmp_path: Path, suffix: str) -> None:
    channel = Channel({"CreateTable": returns(catalog_pb2.CreateTableResponse())})
    saved = tmp_path / f"orders{suffix}"
    saved.write_text(json.dumps(GLUE_GET_TABLE, indent=2))  # JSON is YAML too

    result = sluice(channel, "tables", "create", "sales", "-f", str(saved))

    assert result.stderr == ""  # an empty SkewedInfo says nothing worth a warning
    (request,) = channel.requests("CreateTable")
    table = request.table_input
    assert table.name == "orders"
    assert table.owner == "hadoop"
    assert table.last_access_time == WHEN
    assert [(c.name, c.type, c.comment) for c in table.storage_descriptor.columns] == [
        ("id", "bigint", "order id"),
        ("amount", "decimal(10,2)", ""),
    ]
    assert table.storage_descriptor.serde_info.parameters == {"field.delim": ","}
    assert table.storage_descriptor.sort_columns[0].column == "id"
    assert table.storage_descriptor.number_of_buckets == -1
    assert [k.name for k in table.partition_keys] == ["dt"]
    assert table.table_type == "EXTERNAL_TABLE"


def test_glue_settings_sluice_does_not_keep_are_ignored_with_a_warning(tmp_path: Path) -> None:
    channel = Channel({"CreateDatabase": returns(catalog_pb2.CreateDatabaseResponse())})
    saved = tmp_path / "sales.json"
    saved.write_text(
        json.dumps(
            {
                "Database": {
                    "Name": "sales",
                    "CreateTableDefaultPermissions": [
                        {
                            "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                            "Permissions": ["ALL"],
                        }
                    ],
                    "CatalogId": "123456789012",
                }
            }
        )
    )

    result = sluice(channel, "databases", "create", "-f", str(saved))

    assert result.stderr == (
        f"warning: {saved}: Sluice does not keep Glue's CreateTableDefaultPermissions; ignored\n"
    )
    (request,) = channel.requests("CreateDatabase")
    assert request.database_input == catalog_types.DatabaseInput(name="sales")


def test_glue_job_and_function_shapes_with_short_enum_values(tmp_path: Path) -> None:
    channel = Channel(
        {
            "CreateJob": returns(jobs_pb2.CreateJobResponse()),
            "CreateUserDefinedFunction": returns(catalog_pb2.CreateUserDefinedFunctionResponse()),
        }
    )
    job = tmp_path / "job.yaml"
    job.write_text(
        "Job:\n"
        "  Name: daily\n"
        "  Role: etl\n"
        "  Command: {Name: glueetl, ScriptLocation: 'sluice://scripts/daily.py'}\n"
        "  DefaultArguments: {--day: 2024-05-01}\n"
        "  ExecutionProperty: {MaxConcurrentRuns: 2}\n"
        "  Connections: {Connections: [warehouse]}\n"
        "  WorkerType: G.1X\n"
        "  NumberOfWorkers: 2\n"
        "  CreatedOn: 2024-05-01T10:00:00Z\n"
    )
    function = tmp_path / "function.json"
    function.write_text(
        json.dumps(
            {
                "FunctionName": "to_cents",
                "ClassName": "com.example.ToCents",
                "OwnerType": "USER",
                "ResourceUris": [{"ResourceType": "JAR", "Uri": "s3://bucket/udfs.jar"}],
            }
        )
    )

    sluice(channel, "jobs", "create", "-f", str(job), "--number-of-workers", "3")
    sluice(channel, "functions", "create", "sales", "-f", str(function))

    (create_job,) = channel.requests("CreateJob")
    assert create_job.name == "daily"
    assert create_job.command.script_location == "sluice://scripts/daily.py"
    assert dict(create_job.default_arguments) == {"--day": "2024-05-01"}  # keys kept as given
    assert create_job.execution_property.max_concurrent_runs == 2
    assert list(create_job.connections.connections) == ["warehouse"]
    assert create_job.number_of_workers == 3  # the flag wins over the file
    (create_function,) = channel.requests("CreateUserDefinedFunction")
    assert create_function.function_input.owner_type == catalog_types.PRINCIPAL_TYPE_USER
    assert create_function.function_input.resource_uris[0].resource_type == (
        catalog_types.RESOURCE_TYPE_JAR
    )


def test_pascal_case_file_and_flags_merge(tmp_path: Path) -> None:
    channel = Channel({"CreateTable": returns(catalog_pb2.CreateTableResponse())})
    saved = tmp_path / "orders.json"
    saved.write_text(json.dumps(GLUE_GET_TABLE["Table"]))

    sluice(channel, "tables", "create", "sales", "-f", str(saved), "--location", "s3://b/new/")

    (request,) = channel.requests("CreateTable")
    storage = request.table_input.storage_descriptor
    assert storage.location == "s3://b/new/"
    assert len(storage.columns) == 2  # the file's columns stay


def test_an_iam_style_policy_document_is_accepted(tmp_path: Path) -> None:
    channel = Channel({"PutPolicy": returns(iam_pb2.PutPolicyResponse(policy=POLICY))})
    saved = tmp_path / "readers.json"
    saved.write_text(
        json.dumps(
            {
                "Name": "readers",
                "Roles": ["analyst"],
                "Statement": [
                    {"Effect": "Allow", "Action": "glue:Get*", "Resource": "table/sales/*"}
                ],
            }
        )
    )

    sluice(channel, "policies", "put", "-f", str(saved))

    (request,) = channel.requests("PutPolicy")
    assert list(request.statements) == [
        iam_types.Statement(
            effect=iam_types.EFFECT_ALLOW, actions=["glue:Get*"], resources=["table/sales/*"]
        )
    ]


def test_every_glue_input_member_is_read_or_knowingly_ignored() -> None:
    """Against Glue's service model: a member of an input shape becomes a field by its name in
    snake_case, or is one of the fields Sluice knowingly ignores."""
    botocore_session = pytest.importorskip("botocore.session")
    from sluice.sdk.cli import inputs

    model = botocore_session.get_session().get_service_model("glue")
    known = inputs._GLUE_READ_ONLY | inputs._GLUE_NOT_KEPT
    shapes = {
        "DatabaseInput": catalog_types.DatabaseInput,
        "Database": catalog_types.Database,
        "TableInput": catalog_types.TableInput,
        "Table": catalog_types.Table,
        "PartitionInput": catalog_types.PartitionInput,
        "Partition": catalog_types.Partition,
        "ConnectionInput": catalog_types.ConnectionInput,
        "Connection": catalog_types.Connection,
        "UserDefinedFunctionInput": catalog_types.UserDefinedFunctionInput,
        "UserDefinedFunction": catalog_types.UserDefinedFunction,
        "CreateJobRequest": jobs_pb2.CreateJobRequest,
        "Job": job_types.Job,
        "JobUpdate": job_types.JobUpdate,
    }
    unread: list[str] = []

    def check(shape: Any, descriptor: Any, path: str) -> None:
        for member, member_shape in shape.members.items():
            field = descriptor.fields_by_name.get(snake_case(member))
            if field is None:
                if snake_case(member) not in known:
                    unread.append(f"{path}.{member}")
                continue
            if member_shape.type_name == "list":
                member_shape = member_shape.member
            if member_shape.type_name == "structure" and field.message_type is not None:
                check(member_shape, field.message_type, f"{path}.{member}")

    for shape_name, cls in shapes.items():
        check(model.shape_for(shape_name), cls.DESCRIPTOR, shape_name)
    assert unread == []
