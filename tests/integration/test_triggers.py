"""Triggers through real servers, without Ray: the jobs' script is missing, so each run a trigger
starts fails at loading it, before any environment is asked for (cheap, and still a real run
through the scheduler). The SIGKILL and two-server tests move stored due times into the past
instead of waiting for a clock: the misfire policy fires such a due time once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import update

from sluice.common.db import Database, sqlite_url
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.jobs.model import CommandName, JobCommand, JobInput, RunInput, RunState
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.triggers.model import Action, TriggerInput, TriggerType
from sluice.control_plane.jobs.triggers.rows import TRIGGERS
from sluice.control_plane.jobs.triggers.sql_store import SqlTriggerStore
from sluice.crawlers.v1 import crawlers_pb2, crawlers_pb2_grpc
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.iam.v1 import types_pb2 as iam_types
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, triggers_pb2_grpc
from sluice.jobs.v1 import triggers_pb2 as tr
from tests.integration.conftest import (
    START_TIMEOUT_S,
    ServerProcess,
    authed_channel,
    launch,
    start_server,
    stop_server,
    wait_until,
    wait_until_serving,
)
from tests.integration.test_two_servers import ACCOUNT, Site, lease, site, tag  # noqa: F401

pytestmark = pytest.mark.integration

# Generous: two cores shared by many test runs.
WAIT_S = 60.0
MISSING = "sluice://scripts/missing.py"
YEARLY = "cron(0 0 1 1 ? *)"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Api:
    def __init__(self, channel: grpc.Channel) -> None:
        self.jobs = jobs_pb2_grpc.JobServiceStub(channel)
        self.triggers = triggers_pb2_grpc.TriggerServiceStub(channel)

    def job(self, name: str, role: str = "etl") -> str:
        self.jobs.CreateJob(
            jobs_pb2.CreateJobRequest(
                name=name,
                role=role,
                command={"name": "pythonshell", "script_location": MISSING},
                execution_property={"max_concurrent_runs": 50},
            )
        )
        return name

    def runs(self, job: str) -> list[Any]:
        reply = self.jobs.GetJobRuns(jobs_pb2.GetJobRunsRequest(job_name=job, max_results=200))
        return list(reply.job_runs)

    def wait_runs(self, job: str, count: int) -> list[Any]:
        wait_until(lambda: len(self.runs(job)) >= count, WAIT_S, f"{count} run(s) of {job}")
        return self.runs(job)


def refused(call: Callable[[], object], code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error: Any = caught.value
    assert error.code() == code, error
    return str(error.details())


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Api]:
    with authed_channel(server.address) as channel:
        yield Api(channel)


def test_on_demand_conditional_and_event_triggers_start_runs(api: Api) -> None:
    first, second, third = api.job(unique("a")), api.job(unique("b")), api.job(unique("c"))
    on_demand, after, events = unique("now"), unique("after"), unique("events")
    api.triggers.CreateTrigger(
        tr.CreateTriggerRequest(
            name=on_demand,
            type=tr.TRIGGER_TYPE_ON_DEMAND,
            actions=[tr.Action(job_name=first, arguments={"--day": "1"})],
        )
    )
    api.triggers.CreateTrigger(
        tr.CreateTriggerRequest(
            name=after,
            type=tr.TRIGGER_TYPE_CONDITIONAL,
            predicate=tr.Predicate(
                logical="AND", conditions=[tr.Condition(job_name=first, state="FAILED")]
            ),
            actions=[tr.Action(job_name=second)],
            start_on_creation=True,
        )
    )
    api.triggers.CreateTrigger(
        tr.CreateTriggerRequest(
            name=events,
            type=tr.TRIGGER_TYPE_EVENT,
            event_batching_condition=tr.EventBatchingCondition(batch_size=2, batch_window=900),
            actions=[tr.Action(job_name=third)],
            start_on_creation=True,
        )
    )
    got = api.triggers.GetTrigger(tr.GetTriggerRequest(name=after)).trigger
    assert got.state == tr.TRIGGER_STATE_ACTIVATED and got.predicate.conditions[0].job_name == first

    api.triggers.StartTrigger(tr.StartTriggerRequest(name=on_demand))
    (run,) = api.wait_runs(first, 1)
    assert run.trigger_name == on_demand and run.arguments["--day"] == "1"
    # first's run fails (its script is missing): the conditional trigger starts second.
    (chained,) = api.wait_runs(second, 1)
    assert chained.trigger_name == after

    assert api.triggers.NotifyEvent(tr.NotifyEventRequest(name=events)).pending_events == 1
    assert api.runs(third) == []
    assert api.triggers.NotifyEvent(tr.NotifyEventRequest(name=events)).pending_events == 0
    (evented,) = api.wait_runs(third, 1)
    assert evented.trigger_name == events

    names = api.triggers.ListTriggers(tr.ListTriggersRequest(dependent_job_name=second))
    assert list(names.trigger_names) == [after]
    batch = api.triggers.BatchGetTriggers(
        tr.BatchGetTriggersRequest(trigger_names=[on_demand, "nope"])
    )
    assert [t.name for t in batch.triggers] == [on_demand]
    assert list(batch.triggers_not_found) == ["nope"]
    api.triggers.StopTrigger(tr.StopTriggerRequest(name=after))
    for name in (on_demand, after, events):
        api.triggers.DeleteTrigger(tr.DeleteTriggerRequest(name=name))
    refused(
        lambda: api.triggers.GetTrigger(tr.GetTriggerRequest(name=after)),
        grpc.StatusCode.NOT_FOUND,
    )


@pytest.mark.parametrize(
    ("request_fields", "named"),
    [
        ({"type": tr.TRIGGER_TYPE_SCHEDULED, "schedule": "cron(0 12 * * * *)"}, "Day-of-week"),
        ({"type": tr.TRIGGER_TYPE_SCHEDULED, "schedule": "rate(5 minutes)"}, "cron("),
        (
            {
                "type": tr.TRIGGER_TYPE_CONDITIONAL,
                "predicate": {"conditions": [{"job_name": "no-such-job", "state": "SUCCEEDED"}]},
            },
            "no-such-job",
        ),
        ({"type": tr.TRIGGER_TYPE_ON_DEMAND, "start_on_creation": True}, "start_on_creation"),
    ],
)
def test_bad_triggers_are_invalid_input_and_create_nothing(
    api: Api, request_fields: dict[str, Any], named: str
) -> None:
    job = api.job(unique("j"))
    name = unique("bad")
    message = refused(
        lambda: api.triggers.CreateTrigger(
            tr.CreateTriggerRequest(name=name, actions=[tr.Action(job_name=job)], **request_fields)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert named in message
    refused(
        lambda: api.triggers.GetTrigger(tr.GetTriggerRequest(name=name)),
        grpc.StatusCode.NOT_FOUND,
    )


def test_a_trigger_needs_pass_role_on_its_actions_jobs(server: ServerProcess, api: Api) -> None:
    account = str(uuid.uuid4().int)[:12]
    with authed_channel(server.address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        for name, roles in (("dev", ["dev"]), ("boss", ["admin"])):
            iam.CreatePrincipal(
                iam_pb2.CreatePrincipalRequest(account=account, name=name, roles=roles)
            )
        iam.PutPolicy(
            iam_pb2.PutPolicyRequest(
                account=account,
                name="triggers",
                roles=["dev"],
                statements=[
                    iam_types.Statement(
                        effect=iam_types.EFFECT_ALLOW,
                        actions=["glue:*Trigger*"],
                        resources=["*"],
                    )
                ],
            )
        )
        tokens = [
            iam.CreateToken(iam_pb2.CreateTokenRequest(account=account, principal_name=n)).token
            for n in ("dev", "boss")
        ]
    with (
        authed_channel(server.address, tokens[0]) as dev,
        authed_channel(server.address, tokens[1]) as boss,
    ):
        Api(boss).job("nightly", role="etl")
        request = tr.CreateTriggerRequest(
            name="t", type=tr.TRIGGER_TYPE_ON_DEMAND, actions=[tr.Action(job_name="nightly")]
        )
        developer = Api(dev)
        message = refused(
            lambda: developer.triggers.CreateTrigger(request), grpc.StatusCode.PERMISSION_DENIED
        )
        assert f"sluice:PassRole on sluice:iam:{account}:role/etl" in message
        refused(
            lambda: developer.triggers.GetTrigger(tr.GetTriggerRequest(name="t")),
            grpc.StatusCode.NOT_FOUND,
        )
        # A crawler's role too, for an action starting it.
        crawlers_pb2_grpc.CrawlerServiceStub(boss).CreateCrawler(
            crawlers_pb2.CreateCrawlerRequest(
                name="finder",
                role="crawls",
                database_name="raw",
                targets=crawlers_pb2.CrawlerTargets(
                    s3_targets=[crawlers_pb2.S3Target(path="s3://lake/raw/")]
                ),
            )
        )
        crawl = tr.CreateTriggerRequest(
            name="c", type=tr.TRIGGER_TYPE_ON_DEMAND, actions=[tr.Action(crawler_name="finder")]
        )
        message = refused(
            lambda: developer.triggers.CreateTrigger(crawl), grpc.StatusCode.PERMISSION_DENIED
        )
        assert f"sluice:PassRole on sluice:iam:{account}:role/crawls" in message
        Api(boss).triggers.CreateTrigger(crawl)


def _due_now(data_dir: Path, *names: str) -> None:
    """Moves the triggers' stored due time into the past, as if it came while no server ran."""
    db = Database(sqlite_url(data_dir))
    try:
        with db.write() as conn:
            conn.execute(
                update(TRIGGERS)
                .where(TRIGGERS.c.name.in_(names))
                .values(next_fire_at=datetime.now(UTC) - timedelta(seconds=10))
            )
    finally:
        db.dispose()


def _end_a_run(data_dir: Path, job_name: str) -> None:
    """A run of job_name that starts and SUCCEEDS while no server runs, written as the server
    that ran it would have (the operator's account)."""
    db = Database(sqlite_url(data_dir))
    try:
        jobs = SqlJobStore(db, PageTokenCodec(b"triggers-integration-test"))
        run = jobs.create_run(ACCOUNT, job_name, RunInput())
        assert jobs.transition(run.id, {RunState.STARTING}, RunState.RUNNING)
        assert jobs.transition(run.id, {RunState.RUNNING}, RunState.SUCCEEDED)
    finally:
        db.dispose()


def _kill_and_restart(server: ServerProcess, before_start: Callable[[], None]) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    before_start()
    server.process = launch(server.args, server.log_path)
    wait_until_serving(server.address, server.process, server.log_path, START_TIMEOUT_S)


@pytest.mark.slow
def test_a_due_time_missed_by_a_killed_server_fires_once_after_restart(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path)
    try:
        with authed_channel(server.address) as channel:
            api = Api(channel)
            api.job("k")
            api.job("w")
            api.job("after-w")
            api.triggers.CreateTrigger(
                tr.CreateTriggerRequest(
                    name="watcher",
                    type=tr.TRIGGER_TYPE_CONDITIONAL,
                    predicate=tr.Predicate(
                        conditions=[tr.Condition(job_name="w", state="SUCCEEDED")]
                    ),
                    actions=[tr.Action(job_name="after-w")],
                    start_on_creation=True,
                )
            )
            for name in ("yearly", "probe"):
                api.triggers.CreateTrigger(
                    tr.CreateTriggerRequest(
                        name=name,
                        type=tr.TRIGGER_TYPE_SCHEDULED,
                        schedule=YEARLY,
                        actions=[tr.Action(job_name="k", arguments={"--by": name})],
                        start_on_creation=True,
                    )
                )

        # Killed before the due time; the due time passes while it is down, and a run of w
        # ends (as another server on the database would record it).
        def while_down() -> None:
            _due_now(server.data_dir, "yearly")
            _end_a_run(server.data_dir, "w")

        _kill_and_restart(server, while_down)
        with authed_channel(server.address) as channel:
            api = Api(channel)
            (run,) = api.wait_runs("k", 1)
            assert run.trigger_name == "yearly"
            (chained,) = api.wait_runs("after-w", 1)
            assert chained.trigger_name == "watcher"
            later = api.triggers.GetTrigger(tr.GetTriggerRequest(name="yearly")).trigger
            assert later.next_fire_time.ToDatetime(tzinfo=UTC) > datetime.now(UTC)
        # Killed again after the fire: the restarted server does not fire it twice. Once the
        # probe (due as the server starts) has fired, a trigger pass has looked at both.
        _kill_and_restart(server, lambda: _due_now(server.data_dir, "probe"))
        with authed_channel(server.address) as channel:
            api = Api(channel)
            runs = api.wait_runs("k", 2)
            assert sorted(r.trigger_name for r in runs) == ["probe", "yearly"]
    finally:
        stop_server(server.process)


@pytest.mark.slow
def test_two_servers_on_postgresql_fire_each_due_time_once(site: Site) -> None:  # noqa: F811
    count = 20
    site.store.create_job(
        ACCOUNT,
        JobInput(
            name="etl",
            role="etl",
            command=JobCommand(CommandName.PYTHONSHELL, MISSING),
            max_concurrent_runs=1000,
        ),
    )
    triggers = SqlTriggerStore(site.store._db, PageTokenCodec(b"two-servers-test"))
    names = [f"t{i}" for i in range(count)]
    for name in names:
        triggers.create_trigger(
            ACCOUNT,
            TriggerInput(
                name=name,
                type=TriggerType.SCHEDULED,
                schedule=YEARLY,
                actions=(Action("etl", role="etl"),),
                start_on_creation=True,
            ),
        )

    def due_now() -> None:
        with site.store._db.write() as conn:
            conn.execute(
                update(TRIGGERS).values(next_fire_at=datetime.now(UTC) - timedelta(seconds=5))
            )

    def runs() -> list[Any]:
        return list(site.store.get_runs(ACCOUNT, "etl", PageRequest(max_results=200)).items)

    due_now()
    wait_until(lambda: len(runs()) >= count, WAIT_S, "the first round of fires")
    # The owner dies; the survivor takes the lease over and fires the next round.
    holder, _ = lease(site)
    owner = next(s for s in site.servers if tag(s) == holder)
    owner.process.send_signal(signal.SIGKILL)
    owner.process.wait()
    due_now()
    wait_until(lambda: len(runs()) >= 2 * count, WAIT_S, "the second round of fires")
    fired = [run.trigger_name for run in runs()]
    assert sorted(fired) == sorted(names * 2)


def test_the_cli_makes_shows_and_starts_triggers(server: ServerProcess, api: Api) -> None:
    job = api.job(unique("cli"))
    name, nightly = unique("od"), unique("nightly")
    base = [sys.executable, "-m", "sluice.sdk.cli.main", "--server", server.address]

    def sluice(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=WAIT_S, check=False
        )

    made = sluice(
        "triggers", "create", nightly, "--type", "scheduled", "--schedule",
        "cron(15 2 ? * MON-FRI *)", "--time-zone", "Europe/Paris", "--job", job, "--start",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    shown = json.loads(sluice("triggers", "get", nightly, "-o", "json").stdout)
    assert shown["state"] == "TRIGGER_STATE_ACTIVATED" and shown["next_fire_time"]
    listed = json.loads(sluice("triggers", "list", "--job", job, "-o", "json").stdout)
    assert [t["name"] for t in listed] == [nightly]
    bad = sluice("triggers", "create", unique("x"), "--type", "SCHEDULED", "--schedule",
                 "cron(15 2 * * * *)", "--job", job)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: InvalidInputException") and bad.stderr.count("\n") == 1
    made = sluice("triggers", "create", name, "--type", "ON_DEMAND", "--job", job, "--arg", "day=1")
    assert made.returncode == 0, made.stderr
    assert sluice("triggers", "start", name).returncode == 0
    (run,) = api.wait_runs(job, 1)
    assert run.trigger_name == name and run.arguments["--day"] == "1"
    for trigger in (name, nightly):
        assert sluice("triggers", "delete", trigger).returncode == 0
