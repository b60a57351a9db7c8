"""The `sluice` command line for real: a subprocess talking to a real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "sluice"
RUN_TIMEOUT_S = 60

ORDERS_YAML = """\
name: orders
description: Orders by month
table_type: EXTERNAL_TABLE
storage_descriptor:
  location: s3://bucket/orders/
  columns:
    - {name: id, type: bigint}
    - {name: amount, type: "decimal(10,2)"}
partition_keys:
  - {name: year, type: string}
  - {name: month, type: string}
parameters:
  classification: parquet
  has_encrypted_data: false
"""

Sluice = Callable[..., subprocess.CompletedProcess[str]]


def run_sluice(command: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture
def sluice(server: Any, catalog_id: str) -> Sluice:
    """Runs `python -m sluice.sdk.cli.main --server ADDR --catalog-id ID ARGS`."""
    base = [sys.executable, "-m", "sluice.sdk.cli.main", "--server", server.address]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_sluice([*base, "--catalog-id", catalog_id], *args)

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def rows(table_output: str) -> list[list[str]]:
    """The cells of a rich table's body, split on runs of blanks."""
    lines = [line for line in table_output.splitlines() if line.strip()]
    return [line.split() for line in lines[2:]]


def test_catalog_walkthrough(sluice: Sluice, tmp_path: Path) -> None:
    orders_file = tmp_path / "orders.yaml"
    orders_file.write_text(ORDERS_YAML)
    partitions_file = tmp_path / "partitions.yaml"
    partitions_file.write_text(
        "- values: [2023, '12']\n"
        "  storage_descriptor: {location: s3://bucket/orders/2023/12/}\n"
        "- values: [2024, '03']\n"
    )

    assert ok(sluice("databases", "create", "sales", "--description", "Sales data")) == (
        "Created database sales.\n"
    )
    ok(sluice("tables", "create", "sales", "-f", str(orders_file)))
    ok(
        sluice(
            "partitions",
            "batch-create",
            "sales",
            "orders",
            "--values",
            "2024,01",
            "--values",
            "2024,02",
        )
    )
    ok(sluice("partitions", "batch-create", "sales", "orders", "-f", str(partitions_file)))
    ok(sluice("partitions", "create", "sales", "orders", "2025", "01", "--location", "s3://x/"))

    databases = json.loads(ok(sluice("-o", "json", "databases", "list")))
    assert [(d["name"], d["description"]) for d in databases] == [("sales", "Sales data")]

    table = json.loads(ok(sluice("--output", "json", "tables", "get", "sales", "orders")))
    assert table["storage_descriptor"]["columns"][1] == {"name": "amount", "type": "decimal(10,2)"}
    assert table["parameters"] == {"classification": "parquet", "has_encrypted_data": "false"}
    assert [k["name"] for k in table["partition_keys"]] == ["year", "month"]

    listed = ok(sluice("partitions", "list", "sales", "orders", "--expression", "year = '2024'"))
    header = listed.splitlines()[0].split()
    assert header == ["YEAR", "MONTH", "LOCATION", "CREATED"]
    assert sorted(row[:2] for row in rows(listed)) == [
        ["2024", "01"],
        ["2024", "02"],
        ["2024", "03"],
    ]

    as_json = json.loads(
        ok(sluice("-o", "json", "partitions", "list", "sales", "orders", "-e", "month = '12'"))
    )
    assert [p["values"] for p in as_json] == [["2023", "12"]]
    assert as_json[0]["storage_descriptor"]["location"] == "s3://bucket/orders/2023/12/"

    everything = json.loads(ok(sluice("-o", "json", "partitions", "list", "sales", "orders")))
    assert len(everything) == 5

    shown = ok(sluice("partitions", "get", "sales", "orders", "2025", "01"))
    assert "year=2025, month=01" in shown
    assert "s3://x/" in shown

    ok(sluice("partitions", "delete", "sales", "orders", "2025", "01"))
    missing = sluice("partitions", "get", "sales", "orders", "2025", "01")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: EntityNotFoundException: ")


def test_table_updates_and_versions(sluice: Sluice, tmp_path: Path) -> None:
    ok(sluice("databases", "create", "sales"))
    ok(
        sluice(
            "tables",
            "create",
            "sales",
            "events",
            "--column",
            "id:bigint",
            "--partition-key",
            "dt:string",
            "--location",
            "s3://bucket/events/",
        )
    )
    ok(sluice("tables", "update", "sales", "events", "--description", "Events"))
    changed = tmp_path / "events.yaml"
    changed.write_text("name: events\ndescription: From a file\n")
    ok(sluice("tables", "update", "sales", "events", "-f", str(changed)))

    versions = json.loads(ok(sluice("-o", "json", "tables", "versions", "sales", "events")))
    assert [v["table"].get("description", "") for v in versions] == ["From a file", "Events", ""]
    oldest = versions[-1]["version_id"]
    stale = sluice(
        "tables", "update", "sales", "events", "-f", str(changed), "--version-id", oldest
    )
    assert stale.returncode == 1
    assert stale.stderr.startswith("error: ConcurrentModificationException: ")
    assert len(stale.stderr.splitlines()) == 1

    table_listing = ok(sluice("tables", "list", "sales"))
    assert table_listing.splitlines()[0].split()[:2] == ["NAME", "DATABASE"]
    assert rows(table_listing)[0][:2] == ["events", "sales"]


def test_connections(sluice: Sluice) -> None:
    ok(
        sluice(
            "connections",
            "create",
            "warehouse",
            "--type",
            "JDBC",
            "--property",
            "JDBC_CONNECTION_URL=jdbc:postgresql://db/dw",
            "--property",
            "PASSWORD=secret",
        )
    )
    ok(sluice("connections", "update", "warehouse", "--description", "DW"))

    hidden = json.loads(ok(sluice("-o", "json", "connections", "get", "warehouse")))
    shown = json.loads(
        ok(sluice("-o", "json", "connections", "get", "warehouse", "--show-password"))
    )
    listed = ok(sluice("connections", "list", "--type", "JDBC"))

    assert hidden["description"] == "DW"
    assert "PASSWORD" not in hidden["connection_properties"]
    assert shown["connection_properties"]["PASSWORD"] == "secret"
    assert rows(listed)[0][:2] == ["warehouse", "JDBC"]
    ok(sluice("connections", "delete", "warehouse"))
    assert sluice("connections", "get", "warehouse").returncode == 1


def test_functions(sluice: Sluice) -> None:
    ok(sluice("databases", "create", "sales"))
    ok(
        sluice(
            "functions",
            "create",
            "sales",
            "to_cents",
            "--class-name",
            "com.example.ToCents",
            "--owner",
            "ann",
            "--owner-type",
            "user",
            "--resource",
            "JAR:s3://b/udf.jar",
        )
    )
    ok(sluice("functions", "update", "sales", "to_cents", "--class-name", "com.example.V2"))

    got = json.loads(ok(sluice("-o", "json", "functions", "get", "sales", "to_cents")))
    listed = ok(sluice("functions", "list", "sales", "--pattern", "to_*"))

    assert got["class_name"] == "com.example.V2"
    assert got["owner_type"] == "PRINCIPAL_TYPE_USER"
    assert got["resource_uris"] == [{"resource_type": "RESOURCE_TYPE_JAR", "uri": "s3://b/udf.jar"}]
    assert rows(listed)[0][:3] == ["to_cents", "sales", "com.example.V2"]
    ok(sluice("functions", "delete", "sales", "to_cents"))
    assert sluice("functions", "get", "sales", "to_cents").returncode == 1


def test_server_errors_are_one_line_and_exit_1_or_2_for_bad_input(sluice: Sluice) -> None:
    result = sluice("databases", "get", "sales")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "error: EntityNotFoundException: Database sales not found\n"

    ok(sluice("databases", "create", "sales"))
    again = sluice("databases", "create", "sales")
    assert again.returncode == 1
    assert again.stderr.startswith("error: AlreadyExistsException: ")

    ok(sluice("tables", "create", "sales", "t", "--partition-key", "k:string"))
    # Input the server finds bad is exit 2, like input click or the client finds bad.
    invalid = sluice("partitions", "list", "sales", "t", "--expression", "k = = 1")
    assert invalid.returncode == 2
    assert invalid.stderr.startswith("error: InvalidInputException: ")
    assert len(invalid.stderr.splitlines()) == 1


def test_bad_input_file_is_exit_2(sluice: Sluice, tmp_path: Path) -> None:
    broken = tmp_path / "table.yaml"
    broken.write_text("name: [unclosed\n")

    result = sluice("tables", "create", "sales", "-f", str(broken))

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken}: not valid YAML")
    assert len(result.stderr.splitlines()) == 1


def test_usage_error_is_exit_2(sluice: Sluice) -> None:
    result = sluice("partitions", "list", "sales")

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 1


def test_unreachable_server_is_exit_3() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        result = run_sluice([str(CONSOLE_SCRIPT), "--server", address], "databases", "list")

    assert result.returncode == 3
    assert result.stderr.startswith("error: ")
    assert address in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_console_script_and_environment_address(server: Any, catalog_id: str) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "databases", "list", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env={**os.environ, "SLUICE_ADDRESS": server.address, "SLUICE_CATALOG_ID": catalog_id},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_server_plugin_command_is_available() -> None:
    result = run_sluice([str(CONSOLE_SCRIPT)], "server", "--help")

    assert result.returncode == 0, result.stderr
    assert "--data-dir" in result.stdout
