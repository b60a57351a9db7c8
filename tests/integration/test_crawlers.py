"""Crawlers through a real server: each crawl runs in its worker process with the crawler
role's scoped token and writes the catalog through the public API. Generated datasets on the
local file system, on a local S3 (moto's server mode, on a free port) and in PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import psycopg
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, select, update

from sluice.common.db import Database, sqlite_url
from sluice.control_plane.crawlers.sql_store import CRAWLERS, CRAWLS
from sluice.crawlers.v1 import crawlers_pb2 as api
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.iam.v1 import types_pb2 as iam_types
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, triggers_pb2_grpc
from sluice.jobs.v1 import triggers_pb2 as tr
from sluice.sdk.client import Client
from sluice.sdk.config import ClientOptions
from sluice.sdk.errors import AccessDenied, EntityNotFound, InvalidInput, InvalidState
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

WAIT_S = 60.0
ROLE = "crawler"


def _account(server: ServerProcess) -> tuple[str, str]:
    """A fresh account with a principal holding admin (may pass roles) and a policy letting
    the crawler role use the catalog and read connection secrets; (account, admin token)."""
    account = str(uuid.uuid4().int)[:12]
    with authed_channel(server.address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        iam.CreatePrincipal(
            iam_pb2.CreatePrincipalRequest(account=account, name="boss", roles=["admin"])
        )
        iam.CreatePrincipal(
            iam_pb2.CreatePrincipalRequest(account=account, name="dev", roles=["dev"])
        )
        for name, roles, actions in (
            ("crawls", [ROLE], ["glue:*", "sluice:ReadSecrets"]),
            ("devs", ["dev"], ["glue:*Crawler*"]),
        ):
            iam.PutPolicy(
                iam_pb2.PutPolicyRequest(
                    account=account,
                    name=name,
                    roles=roles,
                    statements=[
                        iam_types.Statement(
                            effect=iam_types.EFFECT_ALLOW, actions=actions, resources=["*"]
                        )
                    ],
                )
            )
        token = iam.CreateToken(
            iam_pb2.CreateTokenRequest(account=account, principal_name="boss")
        ).token
        dev = iam.CreateToken(iam_pb2.CreateTokenRequest(account=account, principal_name="dev"))
    return account, token + "\n" + dev.token


@pytest.fixture(scope="module")
def crawl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """A server whose crawlers may crawl the tests' temporary folders, with the Glue door;
    (server, Glue endpoint)."""
    port = free_port()
    running = start_server(
        tmp_path_factory.mktemp("crawl-server"),
        "--crawl-root",
        str(tmp_path_factory.getbasetemp()),
        "--glue-port",
        str(port),
    )
    yield running, f"http://127.0.0.1:{port}"
    stop_server(running.process)


@pytest.fixture(scope="module")
def server(crawl_server: tuple[ServerProcess, str]) -> ServerProcess:
    return crawl_server[0]


@pytest.fixture
def clients(server: ServerProcess) -> Iterator[tuple[Client, Client]]:
    _, tokens = _account(server)
    boss, dev = tokens.split("\n")
    with (
        Client(ClientOptions(address=server.address, token=boss)) as admin,
        Client(ClientOptions(address=server.address, token=dev)) as developer,
    ):
        yield admin, developer


@pytest.fixture
def client(clients: tuple[Client, Client]) -> Client:
    return clients[0]


def _parquet(path: Path, rows: dict[str, list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), path)


def _crawl(client: Client, name: str) -> api.CrawlerHistory:
    client.crawlers.start(name)
    return client.crawlers.wait(name, timeout_s=WAIT_S, poll_s=0.2)


def _summary(crawl: api.CrawlerHistory) -> dict:
    return json.loads(crawl.summary) if crawl.summary else {}


def _columns(client: Client, db: str, table: str) -> list[tuple[str, str]]:
    t = client.catalog.get_table(db, table)
    return [(c.name, c.type) for c in t.storage_descriptor.columns]


def test_partitioned_parquet_then_schema_drift_then_new_folders_only(
    client: Client, tmp_path: Path
) -> None:
    root = tmp_path / "events"
    for day in ("01", "02"):
        _parquet(root / "year=2024" / f"day={day}" / "a.parquet", {"id": [1, 2], "v": [0.5, 1.5]})
    client.crawlers.create(
        {
            "name": "events",
            "role": ROLE,
            "database_name": "raw",
            "targets": {"s3_targets": [{"path": f"file://{root}"}]},
        }
    )
    first = _crawl(client, "events")
    assert first.state == api.CRAWL_STATE_COMPLETED, first.error_message
    assert _summary(first)["tables_created"] == 1
    table = client.catalog.get_table("raw", "events")
    assert [k.name for k in table.partition_keys] == ["year", "day"]
    assert table.parameters["classification"] == "parquet"
    assert table.parameters["UPDATED_BY_CRAWLER"] == "events"
    assert _columns(client, "raw", "events") == [("id", "bigint"), ("v", "double")]
    parts = sorted(tuple(p.values) for p in client.catalog.get_partitions("raw", "events"))
    assert parts == [("2024", "01"), ("2024", "02")]
    crawler = client.crawlers.get("events")
    assert crawler.state == api.CRAWLER_STATE_READY
    assert crawler.last_crawl.status == api.LAST_CRAWL_STATUS_SUCCEEDED

    # Drift: a new day with an extra column; the crawl writes a new table version.
    _parquet(root / "year=2024" / "day=03" / "a.parquet", {"id": [3], "v": [2.5], "note": ["x"]})
    second = _crawl(client, "events")
    assert _summary(second)["tables_updated"] == 1
    assert ("note", "string") in _columns(client, "raw", "events")
    assert len(list(client.catalog.get_table_versions("raw", "events"))) == 2
    assert len(list(client.catalog.get_partitions("raw", "events"))) == 3

    # The same crawl again changes nothing: no new version.
    third = _crawl(client, "events")
    assert _summary(third)["tables_updated"] == 0
    assert len(list(client.catalog.get_table_versions("raw", "events"))) == 2

    # CRAWL_NEW_FOLDERS_ONLY reads only the new folder and adds its partition.
    client.crawlers.update(
        {
            "name": "events",
            "recrawl_policy": {"recrawl_behavior": "RECRAWL_BEHAVIOR_CRAWL_NEW_FOLDERS_ONLY"},
        }
    )
    _parquet(root / "year=2024" / "day=04" / "a.parquet", {"id": [4], "v": [3.5]})
    fourth = _crawl(client, "events")
    assert _summary(fourth)["files"] == 1
    assert _summary(fourth)["partitions_created"] == 1
    assert len(list(client.catalog.get_partitions("raw", "events"))) == 4
    history = list(client.crawlers.crawls("events"))
    assert [h.state for h in history] == [api.CRAWL_STATE_COMPLETED] * 4
    metrics = client.crawlers.metrics(["events"])
    assert metrics[0].crawler_name == "events" and metrics[0].last_runtime_seconds > 0


def test_a_crawl_is_one_trace_from_start_crawler_down_to_its_catalog_calls(
    client: Client, tmp_path: Path
) -> None:
    _parquet(tmp_path / "traced" / "a.parquet", {"id": [1]})
    client.crawlers.create(
        {
            "name": "traced",
            "role": ROLE,
            "database_name": "traced_db",
            "targets": {"s3_targets": [{"path": f"file://{tmp_path / 'traced'}"}]},
        }
    )
    crawl = _crawl(client, "traced")
    assert crawl.state == api.CRAWL_STATE_COMPLETED, crawl.error_message
    (call,) = client.audit.query(action="glue:StartCrawler", resource="*crawler/traced")

    def trace() -> list:
        events = list(client.audit.query(trace_id=call.trace_id))
        return events if {"crawl.run"} <= {e.name for e in events} else []

    events = wait_until(trace, WAIT_S, "the crawl's span in the audit trail")
    (run,) = [e for e in events if e.name == "crawl.run"]
    assert run.parent_span_id == call.span_id
    # The crawl's own catalog calls (made with its scoped token) are children of its span.
    (made,) = [e for e in events if e.action == "glue:CreateTable"]
    assert made.parent_span_id == run.span_id
    assert made.resource.endswith("table/traced_db/traced")


def test_formats_bad_input_and_tables_it_did_not_make(client: Client, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    (root / "csv").mkdir(parents=True)
    (root / "csv" / "a.csv").write_text("id;name;price\n1;a;1.5\n2;b;2.5\n")
    (root / "json").mkdir()
    (root / "json" / "a.json").write_text('{"k": 1, "s": "x"}\n{"k": 2, "s": "y"}\n')
    _parquet(root / "mine" / "a.parquet", {"x": [1]})
    (root / "mine" / "liar.parquet").write_text("not parquet at all\n")
    client.catalog.create_database({"name": "lake"})
    client.catalog.create_table(
        "lake",
        {"name": "mine", "storage_descriptor": {"columns": [{"name": "kept", "type": "string"}]}},
    )
    client.crawlers.create(
        {
            "name": "lake",
            "role": ROLE,
            "database_name": "lake",
            "targets": {"s3_targets": [{"path": str(root)}, {"path": f"file://{tmp_path}/nope"}]},
        }
    )
    crawl = _crawl(client, "lake")
    assert crawl.state == api.CRAWL_STATE_COMPLETED
    warnings = {w["path"]: w["message"] for w in _summary(crawl)["warnings"]}
    assert any(p.endswith("liar.parquet") for p in warnings)
    assert any("does not exist" in m for m in warnings.values())
    assert any("not made by this crawler" in m for m in warnings.values())
    assert _columns(client, "lake", "csv") == [
        ("id", "bigint"),
        ("name", "string"),
        ("price", "double"),
    ]
    assert client.catalog.get_table("lake", "csv").parameters["delimiter"] == ";"
    assert client.catalog.get_table("lake", "json").parameters["classification"] == "json"
    # The table the crawler did not make is as it was.
    assert _columns(client, "lake", "mine") == [("kept", "string")]


def test_a_crawler_uses_its_custom_csv_classifier(client: Client, tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.csv").write_text("1#2.5\n3#4.5\n")
    client.crawlers.create_classifier(
        {
            "csv_classifier": {
                "name": "hash",
                "delimiter": "#",
                "contains_header": "CSV_HEADER_OPTION_ABSENT",
                "header": ["id", "amount"],
            }
        }
    )
    client.crawlers.create(
        {
            "name": "hash",
            "role": ROLE,
            "database_name": "h",
            "classifiers": ["hash"],
            "targets": {"s3_targets": [{"path": str(tmp_path / "t")}]},
        }
    )
    _crawl(client, "hash")
    assert _columns(client, "h", "t") == [("id", "bigint"), ("amount", "double")]
    assert client.catalog.get_table("h", "t").parameters["delimiter"] == "#"


def test_catalog_target_updates_the_table_it_names(client: Client, tmp_path: Path) -> None:
    _parquet(tmp_path / "t" / "a.parquet", {"id": [1], "added": ["x"]})
    client.catalog.create_database({"name": "cat"})
    client.catalog.create_table(
        "cat",
        {
            "name": "known",
            "description": "kept",
            "storage_descriptor": {
                "columns": [{"name": "id", "type": "int"}],
                "location": f"file://{tmp_path}/t/",
            },
        },
    )
    client.crawlers.create(
        {
            "name": "cat",
            "role": ROLE,
            "targets": {"catalog_targets": [{"database_name": "cat", "tables": ["known"]}]},
        }
    )
    crawl = _crawl(client, "cat")
    assert crawl.state == api.CRAWL_STATE_COMPLETED, crawl.error_message
    assert _summary(crawl)["tables_updated"] == 1, crawl.summary
    table = client.catalog.get_table("cat", "known")
    assert [(c.name, c.type) for c in table.storage_descriptor.columns] == [
        ("id", "bigint"),
        ("added", "string"),
    ]
    assert table.description == "kept"
    assert table.parameters["classification"] == "parquet"


def test_file_targets_only_under_crawl_roots_never_the_servers_files(
    server: ServerProcess, client: Client, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="crawl root"):
        client.crawlers.create(
            {
                "name": "etc",
                "role": ROLE,
                "database_name": "x",
                "targets": {"s3_targets": [{"path": "file:///etc"}]},
            }
        )
    with pytest.raises(InvalidInput, match="server itself"):
        client.crawlers.create(
            {
                "name": "own",
                "role": ROLE,
                "database_name": "x",
                "targets": {"s3_targets": [{"path": str(server.data_dir)}]},
            }
        )
    # A link inside a crawled folder to the server's own token: never read.
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.csv").write_text("a,b\n1,2\n")
    (tmp_path / "t" / "token.csv").symlink_to(server.data_dir / "admin-token")
    (tmp_path / "t" / "passwd.csv").symlink_to("/etc/passwd")
    client.crawlers.create(
        {
            "name": "links",
            "role": ROLE,
            "database_name": "x",
            "targets": {"s3_targets": [{"path": str(tmp_path / "t")}]},
        }
    )
    crawl = _crawl(client, "links")
    warned = {Path(w["path"]).name: w["message"] for w in _summary(crawl)["warnings"]}
    assert "server itself" in warned["token.csv"]
    assert "crawl root" in warned["passwd.csv"]
    assert _columns(client, "x", "t") == [("a", "bigint"), ("b", "bigint")]


def test_grok_and_xml_classifiers(client: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not known"):
        client.crawlers.create_classifier(
            {"grok_classifier": {"name": "bad", "classification": "x", "grok_pattern": "%{NOPE:a}"}}
        )
    client.crawlers.create_classifier(
        {
            "grok_classifier": {
                "name": "access",
                "classification": "access_log",
                "grok_pattern": "%{IP:client} %{WORD:verb} %{URIPATH:path} %{INT:status:int}",
            }
        }
    )
    client.crawlers.create_classifier(
        {"xml_classifier": {"name": "rows", "classification": "xml", "row_tag": "row"}}
    )
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "a.log").write_text("10.0.0.1 GET /a 200\n10.0.0.2 POST /b/c 404\n")
    (tmp_path / "feed").mkdir()
    (tmp_path / "feed" / "a.xml").write_text("<rows><row><k>1</k><v>x</v></row></rows>")
    client.crawlers.create(
        {
            "name": "custom",
            "role": ROLE,
            "database_name": "custom",
            "classifiers": ["access", "rows"],
            "targets": {"s3_targets": [{"path": str(tmp_path)}]},
        }
    )
    crawl = _crawl(client, "custom")
    assert crawl.state == api.CRAWL_STATE_COMPLETED, crawl.error_message
    web = client.catalog.get_table("custom", "web")
    assert web.parameters["classification"] == "access_log"
    assert _columns(client, "custom", "web") == [
        ("client", "string"),
        ("verb", "string"),
        ("path", "string"),
        ("status", "int"),
    ]
    assert _columns(client, "custom", "feed") == [("k", "bigint"), ("v", "string")]


def test_delete_behavior_only_after_a_complete_listing(client: Client, tmp_path: Path) -> None:
    root = tmp_path / "d"
    _parquet(root / "a" / "x.parquet", {"a1": [1]})
    _parquet(root / "b" / "x.parquet", {"b1": ["s"], "b2": [1.0]})
    _parquet(root / "c" / "x.parquet", {"c1": [True]})
    client.crawlers.create(
        {
            "name": "d",
            "role": ROLE,
            "database_name": "d",
            "targets": {"s3_targets": [{"path": str(root)}]},
            "schema_change_policy": {"delete_behavior": "DELETE_BEHAVIOR_DELETE_FROM_DATABASE"},
        }
    )
    _crawl(client, "d")
    assert {t.name for t in client.catalog.get_tables("d")} == {"a", "b", "c"}
    shutil.rmtree(root / "c")
    crawl = _crawl(client, "d")
    assert _summary(crawl)["tables_deleted"] == 1
    assert {t.name for t in client.catalog.get_tables("d")} == {"a", "b"}
    # The whole target gone (unlistable): nothing is deleted.
    shutil.rmtree(root)
    crawl = _crawl(client, "d")
    assert _summary(crawl)["tables_deleted"] == 0
    assert {t.name for t in client.catalog.get_tables("d")} == {"a", "b"}


@pytest.mark.parametrize(
    "behavior", ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"], ids=str.lower
)
def test_delete_behavior_for_tables_and_partitions(
    client: Client, tmp_path: Path, behavior: str
) -> None:
    """A partition folder and a table's folder removed between two crawls: DELETE_FROM_DATABASE
    deletes both, DEPRECATE_IN_DATABASE marks the table DEPRECATED_BY_CRAWLER and keeps the
    partition, LOG keeps both; each says so in the crawl's warnings."""
    root = tmp_path / "lake"
    for year in ("2023", "2024"):
        _parquet(root / "sales" / f"year={year}" / "x.parquet", {"amount": [1.5]})
    _parquet(root / "users" / "x.parquet", {"name": ["a"], "age": [1]})
    # A table that stays (else the one folder left would make the whole target one table).
    _parquet(root / "items" / "x.parquet", {"sku": ["a"]})
    name = f"del-{behavior.lower()}"
    client.crawlers.create(
        {
            "name": name,
            "role": ROLE,
            "database_name": name,
            "targets": {"s3_targets": [{"path": str(root)}]},
            "schema_change_policy": {"delete_behavior": f"DELETE_BEHAVIOR_{behavior}"},
        }
    )
    assert _crawl(client, name).state == api.CRAWL_STATE_COMPLETED
    assert {t.name for t in client.catalog.get_tables(name)} == {"items", "sales", "users"}
    shutil.rmtree(root / "sales" / "year=2023")
    shutil.rmtree(root / "users")
    crawl = _crawl(client, name)
    assert crawl.state == api.CRAWL_STATE_COMPLETED
    summary = _summary(crawl)
    warnings = " | ".join(w["message"] for w in summary["warnings"])
    years = {tuple(p.values) for p in client.catalog.get_partitions(name, "sales")}
    tables = {t.name: t for t in client.catalog.get_tables(name)}
    if behavior == "DELETE_FROM_DATABASE":
        assert (summary["tables_deleted"], summary["partitions_deleted"]) == (1, 1)
        assert set(tables) == {"items", "sales"} and years == {("2024",)}
        return
    assert (summary["tables_deleted"], summary["partitions_deleted"]) == (0, 0)
    assert set(tables) == {"items", "sales", "users"} and years == {("2023",), ("2024",)}
    assert "partition ['2023'] has no data any more" in warnings
    assert "sales" not in summary["tables"]["updated"]
    assert "DEPRECATED_BY_CRAWLER" not in tables["sales"].parameters
    if behavior == "DEPRECATE_IN_DATABASE":
        assert tables["users"].parameters["DEPRECATED_BY_CRAWLER"] == "1"
        assert "users: its data is gone, marked deprecated" in warnings
        # Its data back: the next crawl takes the mark off.
        _parquet(root / "users" / "x.parquet", {"name": ["a"], "age": [1]})
        _crawl(client, name)
        assert "DEPRECATED_BY_CRAWLER" not in client.catalog.get_table(name, "users").parameters
    else:
        assert "DEPRECATED_BY_CRAWLER" not in tables["users"].parameters
        assert "users: its data is gone (LOG: kept)" in warnings


def test_api_errors_states_and_pass_role(clients: tuple[Client, Client], tmp_path: Path) -> None:
    admin, dev = clients
    target = {"s3_targets": [{"path": str(tmp_path)}]}
    with pytest.raises(InvalidInput):
        admin.crawlers.create({"name": "x", "role": ROLE, "database_name": "d"})
    with pytest.raises(InvalidInput):
        admin.crawlers.create(
            {"name": "x", "role": ROLE, "database_name": "d", "targets": target, "schedule": "nope"}
        )
    with pytest.raises(InvalidInput, match="event queue"):
        admin.crawlers.create(
            {
                "name": "x",
                "role": ROLE,
                "database_name": "d",
                "targets": target,
                "recrawl_policy": {"recrawl_behavior": "RECRAWL_BEHAVIOR_CRAWL_EVENT_MODE"},
            }
        )
    with pytest.raises(AccessDenied, match="PassRole"):
        dev.crawlers.create({"name": "x", "role": ROLE, "database_name": "d", "targets": target})
    admin.crawlers.create(
        {
            "name": "x",
            "role": ROLE,
            "database_name": "d",
            "targets": target,
            "schedule": "cron(0 0 1 1 ? *)",
            "tags": {"team": "a"},
        }
    )
    assert list(admin.crawlers.list(tags={"team": "a"})) == ["x"]
    assert list(admin.crawlers.list(tags={"team": "b"})) == []
    found = admin.crawlers.batch_get(["x", "y"])
    assert [c.name for c in found.crawlers] == ["x"] and list(found.crawlers_not_found) == ["y"]
    crawler = admin.crawlers.get("x")
    assert crawler.schedule.state == api.SCHEDULE_STATE_SCHEDULED
    admin.crawlers.stop_schedule("x")
    with pytest.raises(InvalidState):
        admin.crawlers.stop_schedule("x")
    admin.crawlers.update_schedule("x", "cron(0 12 * * ? *)")
    assert admin.crawlers.get("x").schedule.schedule_expression == "cron(0 12 * * ? *)"
    with pytest.raises(InvalidState):
        admin.crawlers.stop("x")
    admin.crawlers.create_classifier(
        {
            "csv_classifier": {
                "name": "semi",
                "delimiter": ";",
                "contains_header": "CSV_HEADER_OPTION_PRESENT",
            }
        }
    )
    assert admin.crawlers.get_classifier("semi").csv_classifier.delimiter == ";"
    admin.crawlers.update_classifier({"csv_classifier": {"name": "semi", "delimiter": "|"}})
    got = admin.crawlers.get_classifier("semi").csv_classifier
    assert (got.delimiter, got.version) == ("|", 2)
    assert [c.csv_classifier.name for c in admin.crawlers.get_classifiers()] == ["semi"]
    admin.crawlers.delete_classifier("semi")
    with pytest.raises(EntityNotFound):
        admin.crawlers.get_classifier("semi")
    admin.crawlers.delete("x")
    with pytest.raises(EntityNotFound):
        admin.crawlers.get("x")


def test_stop_a_crawl(client: Client, tmp_path: Path) -> None:
    """Stopped while it certainly runs: its JDBC target's "database" (a socket of this test)
    takes its connection and never answers, so the crawl waits there (up to its 10 s connect
    timeout) when StopCrawler comes. It ends STOPPED, writing nothing."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        client.catalog.create_connection(
            {
                "name": "silent",
                "connection_type": "JDBC",
                "connection_properties": {
                    "JDBC_CONNECTION_URL": f"jdbc:postgresql://127.0.0.1:{port}/db",
                    "USERNAME": "u",
                    "PASSWORD": "",
                },
            }
        )
        client.crawlers.create(
            {
                "name": "stuck",
                "role": ROLE,
                "database_name": "stuck",
                "targets": {"jdbc_targets": [{"connection_name": "silent", "path": "db/%"}]},
            }
        )
        client.crawlers.start("stuck")
        with pytest.raises(InvalidState):
            client.crawlers.start("stuck")
        silent.settimeout(WAIT_S)
        caller, _ = silent.accept()  # the crawl is connecting: mid-way
        with caller:
            client.crawlers.stop("stuck")
            assert client.crawlers.get("stuck").state in (
                api.CRAWLER_STATE_STOPPING,
                api.CRAWLER_STATE_READY,
            )
            last = client.crawlers.wait("stuck", timeout_s=WAIT_S, poll_s=0.2)
    assert last.state == api.CRAWL_STATE_STOPPED, (last.state, last.error_message)
    assert client.crawlers.get("stuck").state == api.CRAWLER_STATE_READY
    assert "stuck" not in {d.name for d in client.catalog.get_databases()}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """A local S3-compatible server (moto's server mode) on a free port; its endpoint URL."""
    server_mod = pytest.importorskip("moto.server")
    port = free_port()
    moto = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        moto.stop()


def test_s3_target_through_a_connection(client: Client, s3: str) -> None:
    fs = pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        endpoint_override=s3,
        scheme="http",
        region="us-east-1",
        allow_bucket_creation=True,
    )
    bucket = f"b{uuid.uuid4().hex[:10]}"
    fs.create_dir(bucket)
    for month in ("01", "02"):
        with fs.open_output_stream(f"{bucket}/sales/month={month}/a.parquet") as out:
            pq.write_table(pa.table({"id": [1], "amount": [2.5]}), out)
    with fs.open_output_stream(f"{bucket}/logs/a.csv") as out:
        out.write(b"ts,level,count\n2024-01-01,info,3\n")
    client.catalog.create_connection(
        {
            "name": "lake-s3",
            "connection_type": "CUSTOM",
            "connection_properties": {
                "ENDPOINT_URL": s3,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            },
        }
    )
    client.crawlers.create(
        {
            "name": "s3",
            "role": ROLE,
            "database_name": "s3",
            "targets": {"s3_targets": [{"path": f"s3://{bucket}/", "connection_name": "lake-s3"}]},
        }
    )
    crawl = _crawl(client, "s3")
    assert crawl.state == api.CRAWL_STATE_COMPLETED, crawl.error_message
    tables = {t.name: t for t in client.catalog.get_tables("s3")}
    assert set(tables) == {"sales", "logs"}
    assert tables["sales"].storage_descriptor.location == f"s3://{bucket}/sales/"
    assert [k.name for k in tables["sales"].partition_keys] == ["month"]
    assert tables["logs"].parameters["classification"] == "csv"


def test_s3_endpoint_down_is_a_warning(client: Client) -> None:
    port = free_port()
    client.catalog.create_connection(
        {
            "name": "down",
            "connection_type": "CUSTOM",
            "connection_properties": {"ENDPOINT_URL": f"http://127.0.0.1:{port}"},
        }
    )
    client.crawlers.create(
        {
            "name": "down",
            "role": ROLE,
            "database_name": "down",
            "targets": {"s3_targets": [{"path": "s3://nobucket/x", "connection_name": "down"}]},
        }
    )
    crawl = _crawl(client, "down")
    assert crawl.state == api.CRAWL_STATE_COMPLETED
    assert "cannot list" in _summary(crawl)["warnings"][0]["message"]


def test_jdbc_target_postgresql(client: Client) -> None:
    schema = f"crawl_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            admin.execute(
                f"CREATE TABLE {schema}.orders (id bigint, total numeric(10,2), at timestamptz,"
                " note text, ok boolean)"
            )
            admin.execute(f"CREATE TABLE {schema}.users (id integer, email varchar(80))")
            client.catalog.create_connection(
                {
                    "name": "pg",
                    "connection_type": "JDBC",
                    "connection_properties": {
                        "JDBC_CONNECTION_URL": "jdbc:postgresql://127.0.0.1:5432/test",
                        "USERNAME": "postgres",
                        "PASSWORD": "",
                    },
                }
            )
            client.crawlers.create(
                {
                    "name": "pg",
                    "role": ROLE,
                    "database_name": "pg",
                    "targets": {
                        "jdbc_targets": [{"connection_name": "pg", "path": f"test/{schema}/%"}]
                    },
                }
            )
            crawl = _crawl(client, "pg")
            assert crawl.state == api.CRAWL_STATE_COMPLETED, crawl.error_message
            orders = f"test_{schema}_orders"
            assert _columns(client, "pg", orders) == [
                ("id", "bigint"),
                ("total", "decimal(10,2)"),
                ("at", "timestamp"),
                ("note", "string"),
                ("ok", "boolean"),
            ]
            assert (
                client.catalog.get_table("pg", orders).parameters["classification"] == "postgresql"
            )
            assert _columns(client, "pg", f"test_{schema}_users") == [
                ("id", "int"),
                ("email", "string"),
            ]
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def test_crawlers_through_the_glue_door(
    crawl_server: tuple[ServerProcess, str], tmp_path: Path
) -> None:
    boto3 = pytest.importorskip("boto3")
    server, endpoint = crawl_server
    account, _ = _account(server)
    with authed_channel(server.address) as operator:
        made = iam_pb2_grpc.IamServiceStub(operator).CreateAccessKey(
            iam_pb2.CreateAccessKeyRequest(account=account, principal_name="boss")
        )
    glue = boto3.client(
        "glue",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=made.access_key_info.access_key_id,
        aws_secret_access_key=made.secret_access_key,
    )
    # Enough files that the crawl is still running at the second StartCrawler (one file
    # finished first under CI's load).
    _parquet(tmp_path / "orders" / "dt=2024-01-01" / "a.parquet", {"id": [1], "total": [2.5]})
    for day in range(2, 29):
        folder = tmp_path / "orders" / f"dt=2024-01-{day:02d}"
        folder.mkdir()
        for i in range(40):
            shutil.copy(
                tmp_path / "orders" / "dt=2024-01-01" / "a.parquet", folder / f"{i}.parquet"
            )
    glue.create_crawler(
        Name="orders",
        Role=ROLE,
        DatabaseName="sales",
        Targets={"S3Targets": [{"Path": f"file://{tmp_path}/orders", "Exclusions": ["**.tmp"]}]},
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_EVERYTHING"},
        Configuration='{"Version": 1.0}',
    )
    glue.start_crawler(Name="orders")
    with pytest.raises(glue.exceptions.CrawlerRunningException):
        glue.start_crawler(Name="orders")
    wait_until(
        lambda: glue.get_crawler(Name="orders")["Crawler"]["State"] == "READY", WAIT_S, "READY"
    )
    crawler = glue.get_crawler(Name="orders")["Crawler"]
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert crawler["SchemaChangePolicy"]["DeleteBehavior"] == "LOG"
    [crawl] = glue.list_crawls(CrawlerName="orders")["Crawls"]
    assert crawl["State"] == "COMPLETED"
    table = glue.get_table(DatabaseName="sales", Name="orders")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    assert (
        glue.get_crawler_metrics(CrawlerNameList=["orders"])["CrawlerMetricsList"][0]["CrawlerName"]
        == "orders"
    )
    assert glue.list_crawlers()["CrawlerNames"] == ["orders"]
    glue.create_classifier(XMLClassifier={"Name": "x", "Classification": "xml", "RowTag": "row"})
    assert glue.get_classifier(Name="x")["Classifier"]["XMLClassifier"]["RowTag"] == "row"
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_crawler(Name="nope")


def _sluice(server: ServerProcess, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sluice.sdk.cli.main", "--server", server.address, *args],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        env={**os.environ, "SLUICE_TOKEN": token, "COLUMNS": "200"},
        check=False,
    )


def test_cli_start_wait_and_exit_codes(server: ServerProcess, tmp_path: Path) -> None:
    _, tokens = _account(server)
    boss = tokens.split("\n")[0]
    _parquet(tmp_path / "d" / "a.parquet", {"a": [1]})
    made = _sluice(
        server, boss, "crawlers", "create", "cli", "--role", ROLE, "--database", "cli",
        "--path", f"file://{tmp_path}/d", "--exclude", "**.tmp", "--new-folders-only",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    run = _sluice(server, boss, "crawlers", "start", "cli", "--wait")
    assert run.returncode == 0, run.stderr
    assert "COMPLETED" in run.stdout and "1 created" in run.stdout
    listed = json.loads(_sluice(server, boss, "-o", "json", "crawlers", "crawls", "cli").stdout)
    assert [c["state"] for c in listed] == ["CRAWL_STATE_COMPLETED"]
    shown = _sluice(server, boss, "crawlers", "get", "cli").stdout
    assert "CRAWL_NEW_FOLDERS_ONLY" in shown and "SUCCEEDED" in shown
    # A role that may not touch the catalog: the crawl FAILS with the reason, exit code 4.
    _sluice(
        server, boss, "crawlers", "create", "denied", "--role", "nobody", "--database", "cli",
        "--path", f"file://{tmp_path}/d",
    )  # fmt: skip
    failed = _sluice(server, boss, "crawlers", "start", "denied", "--wait")
    assert failed.returncode == 4, failed.stderr
    assert "FAILED" in failed.stdout and "not authorized" in failed.stdout


def test_a_due_schedule_starts_a_crawl(
    server: ServerProcess, client: Client, tmp_path: Path
) -> None:
    _parquet(tmp_path / "s" / "a.parquet", {"a": [1]})
    client.crawlers.create(
        {
            "name": "sched",
            "role": ROLE,
            "database_name": "sched",
            "schedule": "cron(0 0 1 1 ? *)",
            "targets": {"s3_targets": [{"path": str(tmp_path / "s")}]},
        }
    )
    db = Database(sqlite_url(server.data_dir))
    try:
        with db.write() as conn:
            conn.execute(
                update(CRAWLERS)
                .where(CRAWLERS.c.name == "sched")
                .values(next_fire_at=datetime.now(UTC) - timedelta(seconds=5))
            )
    finally:
        db.dispose()
    wait_until(lambda: any(True for _ in client.crawlers.crawls("sched")), WAIT_S, "a crawl")
    last = client.crawlers.wait("sched", timeout_s=WAIT_S, poll_s=0.2)
    assert last.state == api.CRAWL_STATE_COMPLETED
    assert [t.name for t in client.catalog.get_tables("sched")] == ["s"]
    assert client.crawlers.get("sched").schedule.state == api.SCHEDULE_STATE_SCHEDULED


def test_a_crawl_whose_server_died_is_failed(
    server: ServerProcess, client: Client, tmp_path: Path
) -> None:
    _parquet(tmp_path / "o" / "a.parquet", {"a": [1]})
    client.crawlers.create(
        {
            "name": "orphan",
            "role": ROLE,
            "database_name": "o",
            "targets": {"s3_targets": [{"path": str(tmp_path / "o")}]},
        }
    )
    db = Database(sqlite_url(server.data_dir))
    try:
        with db.write() as conn:
            # As a server that died mid-crawl leaves it: RUNNING, silent for a minute.
            conn.execute(
                update(CRAWLERS)
                .where(CRAWLERS.c.name == "orphan")
                .values(state="RUNNING", current_crawl="crawl-dead")
            )
            conn.execute(
                insert(CRAWLS).values(
                    crawl_id="crawl-dead",
                    account=conn.execute(
                        select(CRAWLERS.c.account).where(CRAWLERS.c.name == "orphan")
                    ).scalar_one(),
                    crawler_name="orphan",
                    state="RUNNING",
                    started_on=datetime.now(UTC) - timedelta(minutes=2),
                    files_total=0,
                    files_done=0,
                    summary={},
                    error_message="",
                    owner="a-dead-server",
                    heartbeat_at=datetime.now(UTC) - timedelta(minutes=1),
                )
            )
    finally:
        db.dispose()
    wait_until(
        lambda: client.crawlers.get("orphan").state == api.CRAWLER_STATE_READY, WAIT_S, "READY"
    )
    [crawl] = list(client.crawlers.crawls("orphan"))
    assert crawl.state == api.CRAWL_STATE_FAILED
    assert "server running the crawl stopped" in crawl.error_message
    assert _crawl(client, "orphan").state == api.CRAWL_STATE_COMPLETED


def test_triggers_start_crawlers_and_wait_on_their_crawls(
    server: ServerProcess, client: Client, tmp_path: Path
) -> None:
    """A job's failed run starts a crawler through a trigger; the crawl's success starts
    another job through a second trigger (runs fail cheaply: their script is missing)."""
    boss = client.options.resolved_token()
    _parquet(tmp_path / "chain" / "a.parquet", {"id": [1]})
    client.crawlers.create(
        {
            "name": "chained",
            "role": ROLE,
            "database_name": "chain",
            "targets": {"s3_targets": [{"path": f"file://{tmp_path / 'chain'}"}]},
        }
    )
    with authed_channel(server.address, boss) as channel:
        jobs = jobs_pb2_grpc.JobServiceStub(channel)
        triggers = triggers_pb2_grpc.TriggerServiceStub(channel)
        for job in ("first", "after-crawl"):
            jobs.CreateJob(
                jobs_pb2.CreateJobRequest(
                    name=job,
                    role=ROLE,
                    command={"name": "pythonshell", "script_location": "sluice://scripts/no.py"},
                )
            )
        triggers.CreateTrigger(
            tr.CreateTriggerRequest(
                name="crawl-after-first",
                type=tr.TRIGGER_TYPE_CONDITIONAL,
                predicate=tr.Predicate(conditions=[tr.Condition(job_name="first", state="FAILED")]),
                actions=[tr.Action(crawler_name="chained")],
                start_on_creation=True,
            )
        )
        triggers.CreateTrigger(
            tr.CreateTriggerRequest(
                name="job-after-crawl",
                type=tr.TRIGGER_TYPE_CONDITIONAL,
                predicate=tr.Predicate(
                    conditions=[tr.Condition(crawler_name="chained", crawl_state="SUCCEEDED")]
                ),
                actions=[tr.Action(job_name="after-crawl")],
                start_on_creation=True,
            )
        )
        shown = triggers.GetTrigger(tr.GetTriggerRequest(name="job-after-crawl")).trigger
        assert shown.predicate.conditions[0].crawl_state == "SUCCEEDED"
        with pytest.raises(grpc.RpcError) as caught:
            triggers.CreateTrigger(
                tr.CreateTriggerRequest(
                    name="no-such-crawler",
                    type=tr.TRIGGER_TYPE_ON_DEMAND,
                    actions=[tr.Action(crawler_name="nowhere")],
                )
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        jobs.StartJobRun(jobs_pb2.StartJobRunRequest(job_name="first"))

        def runs_after() -> list[jobs_pb2.JobRun]:
            reply = jobs.GetJobRuns(jobs_pb2.GetJobRunsRequest(job_name="after-crawl"))
            return list(reply.job_runs)

        wait_until(lambda: bool(runs_after()), WAIT_S, "the run the crawl's trigger starts")
        assert [r.trigger_name for r in runs_after()] == ["job-after-crawl"]
    crawls = list(client.crawlers.crawls("chained"))
    assert [c.state for c in crawls] == [api.CRAWL_STATE_COMPLETED]
    # The CLI makes and shows such triggers.
    cli = [sys.executable, "-m", "sluice.sdk.cli.main", "--server", server.address]
    environ = {**os.environ, "SLUICE_TOKEN": boss}
    made = subprocess.run(
        [*cli, "triggers", "create", "recrawl", "--type", "CONDITIONAL", "--when-crawler",
         "chained=FAILED", "--crawler", "chained"],
        capture_output=True, text=True, timeout=WAIT_S, env=environ, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    shown = subprocess.run(
        [*cli, "triggers", "get", "recrawl"],
        capture_output=True, text=True, timeout=WAIT_S, env=environ, check=False,
    )  # fmt: skip
    assert "crawler chained FAILED" in shown.stdout and "crawler chained" in shown.stdout
    assert client.catalog.get_table("chain", "chain").parameters["UPDATED_BY_CRAWLER"] == "chained"
