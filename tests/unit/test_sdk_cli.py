"""The `sluice` command line over a fake channel: input files, flags, output and failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, version
from pathlib import Path

import click
import grpc
import pytest
from click.testing import CliRunner, Result

from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.jobs.v1 import scripts_pb2
from sluice.sdk.cli import main as cli_main
from sluice.sdk.cli.main import cli
from sluice.sdk.config import ClientOptions
from tests.unit.test_sdk_support import FakeChannel, FakeClient, rpc_error

pytestmark = pytest.mark.unit


@click.command("hello")
def hello_plugin() -> None:
    """A plugin command, loaded through an entry point by the tests."""
    click.echo("hello from a plugin")


def ok(response: type) -> Callable[[object], object]:
    return lambda request: response()


def run(channel: FakeChannel, *args: str) -> Result:
    """`sluice ARGS` with the client's transport replaced by `channel`."""

    def connector(options: ClientOptions) -> FakeClient:
        return FakeClient(channel, options)

    runner = CliRunner(env={"COLUMNS": "200", "SLUICE_ADDRESS": None, "SLUICE_CATALOG_ID": None})
    return runner.invoke(cli, list(args), obj=connector, catch_exceptions=False)


def assert_one_error_line(result: Result, exit_code: int, text: str) -> None:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0]
    assert "Traceback" not in result.output


def test_create_database_from_flags() -> None:
    channel = FakeChannel({"CreateDatabase": ok(catalog_pb2.CreateDatabaseResponse)})

    result = run(
        channel, "databases", "create", "sales", "--description", "Sales", "--parameter", "a=b=c"
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == "Created database sales.\n"
    (request,) = channel.requests("CreateDatabase")
    assert request.database_input.name == "sales"
    assert request.database_input.description == "Sales"
    assert dict(request.database_input.parameters) == {"a": "b=c"}


def test_global_options_reach_the_client() -> None:
    seen: list[ClientOptions] = []
    channel = FakeChannel({"GetDatabase": ok(catalog_pb2.GetDatabaseResponse)})

    def connector(options: ClientOptions) -> FakeClient:
        seen.append(options)
        return FakeClient(channel, options)

    result = CliRunner(env={"SLUICE_ADDRESS": "from-env:1"}).invoke(
        cli,
        ["--catalog-id", "acct-9", "--timeout", "2.5", "databases", "get", "sales"],
        obj=connector,
    )

    assert result.exit_code == 0, result.output
    (options,) = seen
    assert (options.address, options.catalog_id, options.timeout_s) == ("from-env:1", "acct-9", 2.5)
    assert channel.requests("GetDatabase")[0].catalog_id == "acct-9"
    assert channel.closed


def test_table_from_a_yaml_file_with_unquoted_scalars(tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(
        "name: orders\n"
        "table_type: EXTERNAL_TABLE\n"
        "last_access_time: 2024-01-31\n"
        "retention: 7\n"
        "storage_descriptor:\n"
        "  location: s3://bucket/orders/\n"
        "  compressed: true\n"
        "  columns:\n"
        "    - {name: id, type: bigint}\n"
        "    - {name: '2024', type: string, comment: 2024-01-31}\n"
        "partition_keys:\n"
        "  - {name: year, type: int}\n"
        "parameters:\n"
        "  has_encrypted_data: false\n"
        "  version: 2\n"
    )
    channel = FakeChannel({"CreateTable": ok(catalog_pb2.CreateTableResponse)})

    result = run(channel, "tables", "create", "sales", "-f", str(path))

    assert result.exit_code == 0, result.output
    table = channel.requests("CreateTable")[0].table_input
    assert table.name == "orders"
    assert table.retention == 7
    assert table.storage_descriptor.compressed is True
    assert table.storage_descriptor.columns[1].comment == "2024-01-31"
    assert table.last_access_time.ToJsonString() == "2024-01-31T00:00:00Z"
    assert dict(table.parameters) == {"has_encrypted_data": "false", "version": "2"}
    assert [(k.name, k.type) for k in table.partition_keys] == [("year", "int")]


def test_flags_override_the_input_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"name": "orders", "storage_descriptor": {"location": "s3://a/"}}))
    channel = FakeChannel({"CreateTable": ok(catalog_pb2.CreateTableResponse)})

    result = run(
        channel, "tables", "create", "sales", "-f", str(path), "--column", "m:map<string,int>"
    )

    assert result.exit_code == 0, result.output
    descriptor = channel.requests("CreateTable")[0].table_input.storage_descriptor
    assert descriptor.location == "s3://a/"
    assert [(c.name, c.type) for c in descriptor.columns] == [("m", "map<string,int>")]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("name: [orders\n", ".yaml", "not valid YAML"),
        ('{"name": ', ".json", "not valid JSON"),
        ("", ".yaml", "the file is empty"),
        ("- name: orders\n", ".yaml", "expected a mapping of TableInput fields, not a list"),
        ("name: orders\nstorage_descriptor: {colums: []}\n", ".yaml", "'colums'"),
        ("name: orders\nretention: forever\n", ".yaml", "retention"),
    ],
)
def test_a_bad_input_file_is_one_line_and_exit_2(
    tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"table{suffix}"
    path.write_text(content)
    channel = FakeChannel()

    result = run(channel, "tables", "create", "sales", "-f", str(path))

    assert_one_error_line(result, 2, message)
    assert str(path) in result.stderr
    assert channel.calls == []


def test_a_binary_input_file_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "table.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")

    result = run(FakeChannel(), "tables", "create", "sales", "-f", str(path))

    assert_one_error_line(result, 2, "not a UTF-8 text file")


def test_a_missing_input_file_is_exit_2(tmp_path: Path) -> None:
    result = run(FakeChannel(), "tables", "create", "sales", "-f", str(tmp_path / "nope.yaml"))

    assert_one_error_line(result, 2, "nope.yaml")


@pytest.mark.parametrize(
    "args",
    [
        ("databases", "get"),
        ("databases", "frobnicate"),
        ("--output", "xml", "databases", "list"),
        ("tables", "create", "sales", "t", "--column", "no-type"),
        ("databases", "create"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = run(FakeChannel(), *args)

    assert_one_error_line(result, 2, "")


def test_server_error_is_one_line_and_exit_1() -> None:
    def not_found(request: catalog_pb2.GetDatabaseRequest) -> catalog_pb2.GetDatabaseResponse:
        raise rpc_error(
            grpc.StatusCode.NOT_FOUND,
            f"Database {request.name} not found",
            reason="EntityNotFoundException",
        )

    result = run(FakeChannel({"GetDatabase": not_found}), "databases", "get", "sales")

    assert result.exit_code == 1
    assert result.stderr == "error: EntityNotFoundException: Database sales not found\n"
    assert result.stdout == ""


def test_a_multi_line_server_message_still_makes_one_line() -> None:
    def failing(request: object) -> catalog_pb2.GetDatabasesResponse:
        raise rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, "first\nsecond\n", reason="InvalidInputException"
        )

    result = run(FakeChannel({"GetDatabases": failing}), "databases", "list")

    assert result.stderr == "error: InvalidInputException: first second\n"


def test_unreachable_server_is_exit_3() -> None:
    def down(request: object) -> catalog_pb2.GetDatabasesResponse:
        raise rpc_error(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")

    result = run(FakeChannel({"GetDatabases": down}), "databases", "list")

    assert_one_error_line(result, 3, "cannot reach the Sluice server")


def partitions_channel(partitions: list[list[str]]) -> FakeChannel:
    table = types_pb2.Table(
        name="orders",
        partition_keys=[types_pb2.Column(name="year"), types_pb2.Column(name="month")],
    )
    return FakeChannel(
        {
            "GetTable": lambda r: catalog_pb2.GetTableResponse(table=table),
            "GetPartitions": lambda r: catalog_pb2.GetPartitionsResponse(
                partitions=[
                    types_pb2.Partition(
                        values=v,
                        storage_descriptor=types_pb2.StorageDescriptor(
                            location=f"s3://b/{'/'.join(v)}/"
                        ),
                    )
                    for v in partitions
                ]
            ),
        }
    )


def test_partitions_table_shows_a_column_per_key() -> None:
    channel = partitions_channel([["2024", "01"], ["2024", "02"]])

    result = run(channel, "partitions", "list", "sales", "orders", "--expression", "year = 2024")

    assert result.exit_code == 0, result.output
    header, _, first, second = result.stdout.splitlines()
    assert header.split() == ["YEAR", "MONTH", "LOCATION", "CREATED"]
    assert first.split() == ["2024", "01", "s3://b/2024/01/"]
    assert second.split() == ["2024", "02", "s3://b/2024/02/"]
    assert channel.requests("GetPartitions")[0].expression == "year = 2024"


def test_json_output_is_an_array_with_proto_field_names() -> None:
    channel = partitions_channel([["2024", "01"]])

    result = run(channel, "-o", "json", "partitions", "list", "sales", "orders")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"values": ["2024", "01"], "storage_descriptor": {"location": "s3://b/2024/01/"}}
    ]
    assert channel.requests("GetTable") == []


def test_json_output_of_one_item_is_an_object() -> None:
    database = types_pb2.Database(name="sales", location_uri="s3://x/")
    channel = FakeChannel(
        {"GetDatabase": lambda r: catalog_pb2.GetDatabaseResponse(database=database)}
    )

    result = run(channel, "--output", "json", "databases", "get", "sales")

    assert json.loads(result.stdout) == {"name": "sales", "location_uri": "s3://x/"}


def test_json_output_of_a_change_is_empty() -> None:
    channel = FakeChannel({"DeleteDatabase": ok(catalog_pb2.DeleteDatabaseResponse)})

    result = run(channel, "-o", "json", "databases", "delete", "sales")

    assert (result.exit_code, result.stdout) == (0, "")


def test_batch_create_from_values() -> None:
    channel = FakeChannel({"BatchCreatePartition": ok(catalog_pb2.BatchCreatePartitionResponse)})

    result = run(
        channel,
        "partitions",
        "batch-create",
        "sales",
        "orders",
        "--values",
        "2024,01",
        "--values",
        "2024, 02",
    )

    assert result.exit_code == 0, result.output
    (request,) = channel.requests("BatchCreatePartition")
    assert [list(p.values) for p in request.partition_input_list] == [
        ["2024", "01"],
        ["2024", "02"],
    ]


def test_batch_create_from_a_yaml_list(tmp_path: Path) -> None:
    path = tmp_path / "partitions.yaml"
    path.write_text(
        "- values: [2024, '01']\n"
        "  storage_descriptor: {location: s3://b/2024/01/}\n"
        "- values: [2024, '02']\n"
    )
    channel = FakeChannel({"BatchCreatePartition": ok(catalog_pb2.BatchCreatePartitionResponse)})

    result = run(channel, "partitions", "batch-create", "sales", "orders", "-f", str(path))

    assert result.exit_code == 0, result.output
    inputs = channel.requests("BatchCreatePartition")[0].partition_input_list
    assert [list(p.values) for p in inputs] == [["2024", "01"], ["2024", "02"]]
    assert inputs[0].storage_descriptor.location == "s3://b/2024/01/"


def test_batch_create_needs_a_list(tmp_path: Path) -> None:
    path = tmp_path / "partitions.yaml"
    path.write_text("values: [2024]\n")

    result = run(FakeChannel(), "partitions", "batch-create", "sales", "orders", "-f", str(path))

    assert_one_error_line(result, 2, "expected a list of PartitionInput")


def test_partial_batch_failure_shows_the_failures_and_exits_1() -> None:
    def batch_create(
        request: catalog_pb2.BatchCreatePartitionRequest,
    ) -> catalog_pb2.BatchCreatePartitionResponse:
        return catalog_pb2.BatchCreatePartitionResponse(
            errors=[
                types_pb2.PartitionError(
                    partition_values=request.partition_input_list[1].values,
                    error_detail=types_pb2.ErrorDetail(
                        error_code="AlreadyExistsException", error_message="exists"
                    ),
                )
            ]
        )

    channel = FakeChannel({"BatchCreatePartition": batch_create})

    result = run(
        channel, "partitions", "batch-create", "sales", "orders", "--values", "1", "--values", "2"
    )

    assert_one_error_line(result, 1, "1 of 2 partitions were not created")
    assert "AlreadyExistsException" in result.stdout


def test_update_database_from_flags_keeps_the_rest() -> None:
    current = types_pb2.Database(
        name="sales", description="old", location_uri="s3://x/", parameters={"a": "1"}
    )
    channel = FakeChannel(
        {
            "GetDatabase": lambda r: catalog_pb2.GetDatabaseResponse(database=current),
            "UpdateDatabase": ok(catalog_pb2.UpdateDatabaseResponse),
        }
    )

    result = run(
        channel, "databases", "update", "sales", "--description", "new", "--parameter", "b=2"
    )

    assert result.exit_code == 0, result.output
    sent = channel.requests("UpdateDatabase")[0].database_input
    assert (sent.name, sent.description, sent.location_uri) == ("sales", "new", "s3://x/")
    assert dict(sent.parameters) == {"a": "1", "b": "2"}


def test_update_table_from_flags_guards_the_version_it_read() -> None:
    current = types_pb2.Table(
        name="orders",
        database_name="sales",
        version_id="4",
        storage_descriptor=types_pb2.StorageDescriptor(location="s3://old/"),
    )
    channel = FakeChannel(
        {
            "GetTable": lambda r: catalog_pb2.GetTableResponse(table=current),
            "UpdateTable": ok(catalog_pb2.UpdateTableResponse),
        }
    )

    result = run(channel, "tables", "update", "sales", "orders", "--description", "Orders")

    assert result.exit_code == 0, result.output
    (request,) = channel.requests("UpdateTable")
    assert request.version_id == "4"
    assert request.table_input.description == "Orders"
    assert request.table_input.storage_descriptor.location == "s3://old/"


def test_plugin_commands_come_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = {
        "hello": EntryPoint("hello", f"{__name__}:hello_plugin", "sluice.cli"),
        "broken": EntryPoint("broken", "no_such_module_here:command", "sluice.cli"),
    }
    monkeypatch.setattr(cli_main, "plugin_entry_points", lambda: plugins)

    listing = run(FakeChannel(), "--help")
    hello = run(FakeChannel(), "hello")
    broken = run(FakeChannel(), "broken", "--any", "args")

    assert "hello" in listing.stdout
    assert "broken" in listing.stdout
    assert (hello.exit_code, hello.stdout) == (0, "hello from a plugin\n")
    assert_one_error_line(broken, 1, "the 'broken' command could not be loaded")


def test_the_installed_server_command_is_found_through_its_entry_point() -> None:
    assert "server" in cli_main.plugin_entry_points()


# A newcomer's first steps


def _sales(request: object) -> catalog_pb2.GetDatabaseResponse:
    return catalog_pb2.GetDatabaseResponse(
        database=types_pb2.Database(name="sales", description="Sales data")
    )


def test_bare_sluice_prints_the_help_as_it_is_not_one_error_line() -> None:
    result = run(FakeChannel({}))

    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Usage: ") and lines[0].endswith(" [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in lines and len(lines) > 15
    assert not any(line.startswith("error:") for line in lines)


def test_version_comes_from_the_package_metadata() -> None:
    result = run(FakeChannel({}), "--version")

    assert result.exit_code == 0
    assert result.stdout == f"sluice, version {version('sluice')}\n"


@pytest.mark.parametrize(
    "args",
    [
        ("-o", "json", "databases", "get", "sales"),
        ("databases", "get", "sales", "-o", "json"),
        ("databases", "get", "--output", "json", "sales"),
        ("databases", "get", "sales", "--output=json"),
        # Given after the subcommand, it wins over the one before.
        ("-o", "table", "databases", "get", "sales", "-o", "json"),
    ],
)
def test_output_is_accepted_before_and_after_the_subcommand(args: tuple[str, ...]) -> None:
    result = run(FakeChannel({"GetDatabase": _sales}), *args)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "sales"


def _leaves(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        return [
            leaf
            for name, sub in command.commands.items()
            for leaf in _leaves(sub, f"{path} {name}")
        ]
    return [(path, command)]


def test_every_command_accepts_the_output_option() -> None:
    leaves = _leaves(cli, "sluice")
    assert len(leaves) > 40
    for path, command in leaves:
        options = [p for p in command.params if "-o" in getattr(p, "opts", ())]
        assert len(options) == 1, path
        assert options[0].opts == ["-o", "--output"], path


def test_bad_input_is_exit_2_whoever_catches_it() -> None:
    def invalid(request: object) -> catalog_pb2.GetDatabaseResponse:
        raise rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, "name is not valid", reason="InvalidInputException"
        )

    from_the_server = run(FakeChannel({"GetDatabase": invalid}), "databases", "get", "a/b")
    from_click = run(FakeChannel({}), "databases", "get")

    assert_one_error_line(from_the_server, 2, "InvalidInputException: name is not valid")
    assert from_click.exit_code == 2


def test_key_value_views_are_not_padded_to_the_terminal_width() -> None:
    result = run(FakeChannel({"GetDatabase": _sales}), "databases", "get", "sales")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == ["Name         sales", "Catalog", "Description  Sales data"]
    assert all(line == line.rstrip() for line in lines)


def test_tables_are_not_padded_either() -> None:
    def two(request: object) -> catalog_pb2.GetDatabasesResponse:
        return catalog_pb2.GetDatabasesResponse(
            database_list=[
                types_pb2.Database(name="a", description="a rather long description"),
                types_pb2.Database(name="bb"),
            ]
        )

    result = run(FakeChannel({"GetDatabases": two}), "databases", "list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith(" bb") or line.startswith("bb") for line in lines), lines
    assert all(line == line.rstrip() for line in lines)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_clicks_script_for_the_shell(shell: str) -> None:
    result = run(FakeChannel(), "completion", shell)

    assert result.exit_code == 0, result.output
    assert "_SLUICE_COMPLETE" in result.stdout
    assert f"{shell}_complete" in result.stdout


def test_the_installed_command_completes_subcommands() -> None:
    sluice = Path(sys.executable).parent / "sluice"
    env = {
        **os.environ,
        "_SLUICE_COMPLETE": "bash_complete",
        "COMP_WORDS": "sluice jobs r",
        "COMP_CWORD": "2",
    }

    completed = subprocess.run(
        [str(sluice)], env=env, capture_output=True, text=True, timeout=60, check=True
    )

    assert completed.stdout.splitlines() == ["plain,run"]


def test_scripts_get_prints_the_uploaded_script_as_it_is(tmp_path: Path) -> None:
    def get_script(request: scripts_pb2.GetScriptRequest) -> scripts_pb2.GetScriptResponse:
        return scripts_pb2.GetScriptResponse(name=request.name, content="print('é')\n".encode())

    channel = FakeChannel({"GetScript": get_script})
    printed = run(channel, "scripts", "get", "etl.py", "-o", "json")
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == "print('é')\n"
    saved = run(channel, "scripts", "get", "etl.py", "-o", str(tmp_path / "etl.py"))
    assert saved.exit_code == 0, saved.output
    assert (tmp_path / "etl.py").read_bytes() == "print('é')\n".encode()
