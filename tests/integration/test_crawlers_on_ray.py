"""Crawls as runs in the crawler's account sandbox, on the session's `ray_server` (a warm pool:
crawls run there by default, `--crawls-in auto`): listing and reading by Ray tasks, as the
sandbox's OS user, with only the crawl's scoped token; what that user may not read stays unread
(a file only root may read, a link into the server's data dir); StopCrawler mid-crawl destroys
the crawl's environment and the crawl ends STOPPED, writing nothing.

Run under the Ray lock: `flock /tmp/sluice-ray.lock .venv/bin/pytest <this file>`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.agents.os_users import USER_PREFIX
from sluice.audit.v1 import types_pb2 as audit_types
from sluice.crawlers.v1 import crawlers_pb2 as api
from sluice.sdk import Client, connect
from tests.integration.conftest import ServerProcess, wait_until
from tests.integration.test_jobs_on_ray import warm_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

# A cold environment may take minutes on a busy two-core machine.
CRAWL_TIMEOUT_S = 420.0
# Enough small files that a crawl is still reading them when it is stopped.
MANY_FILES = 6000


@dataclass
class Setup:
    client: Client
    data: Path
    role: str
    server: ServerProcess


def _readable(path: Path) -> Path:
    """A folder the sandbox's OS user may list and read."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def _parquet(path: Path, rows: dict[str, list], mode: int = 0o644) -> None:
    _readable(path.parent)
    pq.write_table(pa.table(rows), path)
    path.chmod(mode)


@pytest.fixture(scope="module")
def setup(ray_server: ServerProcess) -> Iterator[Setup]:
    data = _readable(Path(tempfile.mkdtemp(prefix="sluice-crawl-ray-")))
    role = f"crawler-{uuid.uuid4().hex[:8]}"
    with connect(ray_server.address) as client:
        client.iam.put_policy(
            f"{role}-policy",
            [{"effect": "Allow", "actions": ["glue:*"], "resources": ["*"]}],
            roles=[role],
        )
        yield Setup(client, data, role, ray_server)
    shutil.rmtree(data, ignore_errors=True)


def _wait_warm(client: Client) -> None:
    wait_until(
        lambda: warm_for(client.jobs.pool_status()),
        CRAWL_TIMEOUT_S,
        "a warm environment for the account",
    )


def _summary(crawl: api.CrawlerHistory) -> dict:
    return json.loads(crawl.summary) if crawl.summary else {}


def test_a_crawl_runs_as_ray_tasks_in_the_sandbox_as_its_user(setup: Setup) -> None:
    client, root = setup.client, setup.data / "lake"
    for year in ("2023", "2024"):
        for i in range(40):
            _parquet(root / "sales" / f"year={year}" / f"p{i}.parquet", {"amount": [1.5]})
    _parquet(root / "items" / "x.parquet", {"sku": ["a"]})
    # Only root may read it: the sandbox's user gets "permission denied", and its columns
    # never reach the catalog.
    _parquet(root / "secret" / "x.parquet", {"password": ["hunter2"]}, mode=0o600)
    # A link into the server's own files (which the engine refuses too): never read.
    leak = _readable(root / "leak")
    (leak / "db.parquet").symlink_to(setup.server.data_dir / "sluice.db")
    database = f"ray_{uuid.uuid4().hex[:8]}"
    client.crawlers.create(
        {
            "name": database,
            "role": setup.role,
            "database_name": database,
            "targets": {"s3_targets": [{"path": root.as_uri()}]},
        }
    )
    _wait_warm(client)
    client.crawlers.start(database)
    crawl = client.crawlers.wait(database, timeout_s=CRAWL_TIMEOUT_S, poll_s=0.5)

    assert crawl.state == api.CRAWL_STATE_COMPLETED, crawl.error_message
    summary = _summary(crawl)
    ran = summary["executed_in"]
    assert ran["where"] == "sandbox"
    assert ran["os_user"].startswith(USER_PREFIX), ran
    # One listing task per top folder (4), then 82 readable-or-not files in chunks of 64.
    assert ran["ray_tasks"] == 6, ran
    assert summary["files"] == 82
    assert {t.name for t in client.catalog.get_tables(database)} == {"items", "sales"}
    sales = client.catalog.get_table(database, "sales")
    assert [c.name for c in sales.storage_descriptor.columns] == ["amount"]
    assert sales.parameters["UPDATED_BY_CRAWLER"] == database
    years = {tuple(p.values) for p in client.catalog.get_partitions(database, "sales")}
    assert years == {("2023",), ("2024",)}
    warnings = {w["path"]: w["message"] for w in summary["warnings"]}
    secret = next(m for p, m in warnings.items() if p.endswith("secret/x.parquet"))
    assert "ermission denied" in secret, warnings
    # The sandbox's user cannot even look at the link's target (the server's data dir is out
    # of its reach): its folder is a warning of its own.
    leaked = next(m for p, m in warnings.items() if p.endswith("/leak"))
    assert "ermission denied" in leaked, warnings
    # One trace: StartCrawler -> the crawl's span -> the tables the sandbox wrote.
    (call,) = client.audit.query(action="glue:StartCrawler", resource=f"*crawler/{database}")
    events = wait_until(
        lambda: (
            (found := list(client.audit.query(trace_id=call.trace_id)))
            and "crawl.run" in {e.name for e in found}
            and found
        ),
        30,
        "the crawl's span in the audit trail",
    )
    (run,) = [e for e in events if e.name == "crawl.run"]
    assert run.parent_span_id == call.span_id
    made = [e for e in events if e.action == "glue:CreateTable"]
    assert len(made) == 2 and {e.parent_span_id for e in made} == {run.span_id}


def test_stop_a_crawl_mid_way_in_the_sandbox(setup: Setup) -> None:
    client, root = setup.client, _readable(setup.data / "many")
    for i in range(MANY_FILES):
        (root / f"f{i:05d}.csv").write_text("id,name\n1,a\n")
    name = f"stop_{uuid.uuid4().hex[:8]}"
    client.crawlers.create(
        {
            "name": name,
            "role": setup.role,
            "database_name": name,
            "targets": {"s3_targets": [{"path": str(root)}]},
        }
    )
    _wait_warm(client)
    client.crawlers.start(name)

    def reading() -> bool:
        [metrics] = client.crawlers.metrics([name])
        return 0 < metrics.files_done < metrics.files_total

    # Stopped while it reads: some files read, not all.
    wait_until(reading, CRAWL_TIMEOUT_S, "the crawl reading its files")
    client.crawlers.stop(name)
    assert client.crawlers.get(name).state in (
        api.CRAWLER_STATE_STOPPING,
        api.CRAWLER_STATE_READY,
    )
    crawl = client.crawlers.wait(name, timeout_s=60, poll_s=0.2)
    assert crawl.state == api.CRAWL_STATE_STOPPED, (crawl.state, crawl.error_message)
    assert client.crawlers.get(name).state == api.CRAWLER_STATE_READY
    # From StopCrawler on the crawl changes nothing (its token is refused at once, before its
    # environment is gone). Stopped while it reads, as here, it wrote nothing at all; only if
    # it had read everything before the stop reached it (a machine loaded far beyond its two
    # cores) may it have written, and then before the stop.
    (stop_call,) = client.audit.query(action="glue:StopCrawler", resource=f"*crawler/{name}")
    stopped_at = stop_call.event_time.ToDatetime()
    written = [
        e
        for e in client.audit.query(resource=f"*{name}*")
        if e.action.startswith(("glue:Create", "glue:Update", "glue:BatchCreate"))
        and e.outcome == audit_types.AUDIT_OUTCOME_SUCCESS
    ]
    assert all(e.event_time.ToDatetime() < stopped_at for e in written), written
    if not written:
        assert name not in {d.name for d in client.catalog.get_databases()}
