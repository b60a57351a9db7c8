"""Run state streams and run notifications through a real gRPC server on a loopback port: the
job and notification servicers over SQL stores on SQLite, the real scheduler and reconciler
driving an executor double, the notifier posting to a real HTTP receiver on a free port.

WatchJobRun: a run's state changes on one call. NotificationProperty: a job's, a run's own,
a trigger action's. Run events: FAILED and DELAYED (with a shifted clock) recorded once even
with two notifiers on the database, followed with WatchRunEvents, posted signed to a webhook
with retries, and the address rule that keeps webhooks off internal addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.fernet import Fernet

from sluice.catalog.core.schema import upgrade_schema as upgrade_catalog_schema
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.db import Database, sqlite_url
from sluice.common.paging import PageTokenCodec
from sluice.common.secrets import SecretBox
from sluice.control_plane.interceptors import ErrorInterceptor
from sluice.control_plane.jobs.executor import PoolSnapshot
from sluice.control_plane.jobs.model import RunState
from sluice.control_plane.jobs.notifications.notifier import Notifier, NotifierConfig
from sluice.control_plane.jobs.notifications.store import Delivery, SqlNotificationStore
from sluice.control_plane.jobs.notifications.webhooks import SIGNATURE_HEADER, AddressRule
from sluice.control_plane.jobs.reconciler import Reconciler, ReconcilerConfig
from sluice.control_plane.jobs.scheduler import Scheduler, SchedulerConfig
from sluice.control_plane.jobs.schema import upgrade_schema as upgrade_jobs_schema
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.triggers.model import Action, TriggerInput, TriggerType
from sluice.control_plane.jobs.triggers.sql_store import SqlTriggerStore
from sluice.control_plane.security.roles import AnyRolePasses
from sluice.control_plane.servicers.jobs import JobServicer
from sluice.control_plane.servicers.notifications import NotificationServicer
from sluice.jobs.v1 import jobs_pb2 as api
from sluice.jobs.v1 import jobs_pb2_grpc, notifications_pb2_grpc
from sluice.jobs.v1 import notifications_pb2 as napi
from sluice.jobs.v1 import types_pb2 as pb
from tests.unit.test_jobs_support import FakeClock, FakeExecutor, eventually

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
ROLE = "arn:sluice:role/etl"
SECRET = "a-webhook-secret-of-some-length"
CALL_TIMEOUT_S = 20.0
LOCAL = AddressRule(["127.0.0.1/32"])
POOL = PoolSnapshot(
    target_size=1, warm=1, starting=0, bound_idle=0, busy=0, ray_started=False, ray_address=""
)


class ShiftedClock:
    """The real time plus a shift the test moves forward (to pass a notify_delay_after)."""

    def __init__(self) -> None:
        self.shift = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift


@dataclass
class Receiver:
    """A real HTTP server recording the webhook posts; `statuses` are answered first, in order."""

    url: str
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            me = box[0]
            me.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = me.statuses.pop(0) if me.statuses else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(url=f"http://127.0.0.1:{server.server_port}/hooks/sluice"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Harness:
    jobs: jobs_pb2_grpc.JobServiceStub
    notifications: notifications_pb2_grpc.NotificationServiceStub
    db: Database
    store: SqlJobStore
    events: SqlNotificationStore
    executor: FakeExecutor
    clock: ShiftedClock
    secrets: SecretBox


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    db = Database(sqlite_url(tmp_path))
    upgrade_catalog_schema(db)
    upgrade_jobs_schema(db)
    codec = PageTokenCodec(b"notifications-integration-test-key")
    store = SqlJobStore(db, codec)
    catalog_store = SqlCatalogStore(db, codec)
    executor = FakeExecutor(FakeClock())
    scheduler = Scheduler(store, executor, config=SchedulerConfig(poll_interval_s=0.02))
    reconciler = Reconciler(
        store, executor, config=ReconcilerConfig(interval_s=0.5), on_change=scheduler.wake
    )
    secrets = SecretBox([Fernet.generate_key()])
    clock = ShiftedClock()
    events = SqlNotificationStore(db, secrets, clock=clock)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="notifications-test"),
        interceptors=[ErrorInterceptor()],
    )
    jobs_pb2_grpc.add_JobServiceServicer_to_server(
        JobServicer(
            store,
            catalog_store,
            account=ACCOUNT,
            on_run_started=scheduler.wake,
            pool_status=lambda: POOL,
            watch_poll_interval_s=0.02,
            roles=AnyRolePasses(),
        ),
        server,
    )
    notifications_pb2_grpc.add_NotificationServiceServicer_to_server(
        NotificationServicer(events, LOCAL, account=ACCOUNT, watch_poll_interval_s=0.02), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    scheduler.start()
    reconciler.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    jobs = jobs_pb2_grpc.JobServiceStub(channel)
    jobs.UploadScript(api.UploadScriptRequest(name="etl.py", content=b"print(1)\n"))
    try:
        yield Harness(
            jobs=jobs,
            notifications=notifications_pb2_grpc.NotificationServiceStub(channel),
            db=db,
            store=store,
            events=events,
            executor=executor,
            clock=clock,
            secrets=secrets,
        )
    finally:
        channel.close()
        server.stop(0).wait()
        reconciler.stop()
        scheduler.stop()
        db.dispose()


def create_job(h: Harness, name: str = "etl", **fields: Any) -> None:
    command = pb.JobCommand(name="glueetl", script_location="sluice://scripts/etl.py")
    h.jobs.CreateJob(api.CreateJobRequest(name=name, role=ROLE, command=command, **fields))


def start_run(h: Harness, job: str = "etl", **fields: Any) -> str:
    request = api.StartJobRunRequest(job_name=job, **fields)
    return h.jobs.StartJobRun(request, timeout=CALL_TIMEOUT_S).job_run_id


def get_run(h: Harness, run_id: str, job: str = "etl") -> pb.JobRun:
    return h.jobs.GetJobRun(api.GetJobRunRequest(job_name=job, run_id=run_id)).job_run


def running(h: Harness, run_id: str) -> None:
    eventually(lambda: h.executor.knows(run_id), "the run to be launched")


# WatchJobRun


def test_watch_job_run_sends_each_change_on_one_call_and_ends_with_the_run(h: Harness) -> None:
    create_job(h)
    run_id = start_run(h)
    watch = h.jobs.WatchJobRun(
        api.WatchJobRunRequest(job_name="etl", run_id=run_id), timeout=CALL_TIMEOUT_S
    )
    first = next(watch).job_run
    assert first.id == run_id
    assert first.job_run_state in (pb.JOB_RUN_STATE_STARTING, pb.JOB_RUN_STATE_RUNNING)
    running(h, run_id)
    h.executor.finish(run_id, ok=False, error="ValueError: bad row")

    rest = [response.job_run for response in watch]  # ends by itself with the run

    states = [first.job_run_state, *(run.job_run_state for run in rest)]
    assert states[-1] == pb.JOB_RUN_STATE_FAILED
    assert rest[-1].error_message == "ValueError: bad row"
    # Only changes are sent: no state twice in a row, at most STARTING, RUNNING, FAILED.
    assert all(a != b for a, b in itertools.pairwise(states))
    assert len(states) <= 3
    # A finished run: one response, and the stream ends.
    again = list(h.jobs.WatchJobRun(api.WatchJobRunRequest(job_name="etl", run_id=run_id)))
    assert [r.job_run.job_run_state for r in again] == [pb.JOB_RUN_STATE_FAILED]


def test_watch_job_run_on_another_server_of_the_database_sees_the_changes(h: Harness) -> None:
    # A replica with no scheduler of its own: the changes come from the runs table.
    replica = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2), interceptors=[ErrorInterceptor()]
    )
    codec = PageTokenCodec(b"notifications-integration-test-key")
    jobs_pb2_grpc.add_JobServiceServicer_to_server(
        JobServicer(
            SqlJobStore(h.db, codec),
            SqlCatalogStore(h.db, codec),
            account=ACCOUNT,
            on_run_started=lambda: None,
            pool_status=lambda: POOL,
            watch_poll_interval_s=0.02,
            roles=AnyRolePasses(),
        ),
        replica,
    )
    port = replica.add_insecure_port("127.0.0.1:0")
    replica.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            create_job(h)
            run_id = start_run(h)
            watch = jobs_pb2_grpc.JobServiceStub(channel).WatchJobRun(
                api.WatchJobRunRequest(job_name="etl", run_id=run_id), timeout=CALL_TIMEOUT_S
            )
            next(watch)
            running(h, run_id)
            h.executor.finish(run_id, ok=True)
            last = [response.job_run for response in watch][-1]
        assert last.job_run_state == pb.JOB_RUN_STATE_SUCCEEDED
    finally:
        replica.stop(0).wait()


def test_watch_job_run_of_an_unknown_run_is_not_found(h: Harness) -> None:
    create_job(h)
    with pytest.raises(grpc.RpcError) as caught:
        list(
            h.jobs.WatchJobRun(
                api.WatchJobRunRequest(job_name="etl", run_id="jr_" + "0" * 64),
                timeout=CALL_TIMEOUT_S,
            )
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


# NotificationProperty


def test_a_run_takes_its_own_or_its_jobs_notification_property(h: Harness) -> None:
    many = pb.ExecutionProperty(max_concurrent_runs=5)
    create_job(
        h,
        notification_property=pb.JobNotificationProperty(notify_delay_after=30),
        execution_property=many,
    )
    create_job(h, "plain", execution_property=many)

    of_job = get_run(h, start_run(h))
    own = get_run(
        h,
        start_run(h, notification_property=pb.JobNotificationProperty(notify_delay_after=5)),
    )
    none = get_run(h, start_run(h, "plain"), "plain")

    assert of_job.notification_property.notify_delay_after == 30
    assert own.notification_property.notify_delay_after == 5
    assert not none.HasField("notification_property")
    with pytest.raises(grpc.RpcError) as caught:
        start_run(
            h, "plain", notification_property=pb.JobNotificationProperty(notify_delay_after=-1)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as caught:
        create_job(
            h, "bad", notification_property=pb.JobNotificationProperty(notify_delay_after=-2)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_trigger_actions_notification_property_goes_to_the_runs_it_starts(h: Harness) -> None:
    create_job(h)
    triggers = SqlTriggerStore(h.db, PageTokenCodec(b"notifications-integration-test-key"))
    triggers.create_trigger(
        ACCOUNT,
        TriggerInput(
            name="now",
            type=TriggerType.ON_DEMAND,
            actions=(Action(job_name="etl", role=ROLE, notify_delay_after=7),),
        ),
    )
    result = triggers.fire_on_demand(ACCOUNT, "now", lambda account, job: ("", ""))
    [(job_name, run_id)] = result.runs

    assert get_run(h, run_id, job_name).notification_property.notify_delay_after == 7


# Run events


def test_a_failed_run_becomes_one_event_followed_and_posted_signed(
    h: Harness, receiver: Receiver
) -> None:
    create_job(h)
    put = h.notifications.PutWebhook(napi.PutWebhookRequest(url=receiver.url, secret=SECRET))
    assert put.webhook.url == receiver.url
    follow = h.notifications.WatchRunEvents(napi.WatchRunEventsRequest(), timeout=CALL_TIMEOUT_S)
    follow.initial_metadata()  # following (from now on) before the run fails
    run_id = start_run(h)
    running(h, run_id)
    h.executor.finish(run_id, ok=False, error="KeyError: 'day'")
    eventually(lambda: get_run(h, run_id).job_run_state == pb.JOB_RUN_STATE_FAILED, "a failure")
    # Two notifiers on one database (two replicas): the event is recorded once.
    other = SqlNotificationStore(h.db, h.secrets, clock=h.clock)
    notifiers = [Notifier(store, LOCAL) for store in (h.events, other)]
    assert sum(n.run_pass() for n in notifiers) == 1
    assert sum(n.run_pass() for n in notifiers) == 0

    [event] = next(follow).events
    follow.cancel()
    assert (event.kind, event.run_id, event.job_name) == (
        napi.RUN_EVENT_KIND_FAILED,
        run_id,
        "etl",
    )
    assert event.job_run_state == pb.JOB_RUN_STATE_FAILED
    assert event.message == "KeyError: 'day'"
    eventually(lambda: len(receiver.posts) == 1, "the webhook post")
    headers, body = receiver.posts[0]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == f"sha256={expected}"
    assert receiver.bodies()[0]["run_id"] == run_id
    assert receiver.bodies()[0]["kind"] == "FAILED"
    eventually(lambda: h.events.get_events(ACCOUNT)[0].delivery is Delivery.DELIVERED, "delivered")
    listed = h.notifications.GetRunEvents(napi.GetRunEventsRequest()).events
    assert [e.id for e in listed] == [event.id]
    for notifier in notifiers:
        notifier.stop()


def test_a_run_past_its_notify_delay_after_is_delayed_once(h: Harness) -> None:
    create_job(h)
    delay = pb.JobNotificationProperty(notify_delay_after=2)
    run_id = start_run(h, notification_property=delay)
    running(h, run_id)
    notifier = Notifier(h.events, LOCAL)

    h.clock.shift = timedelta(minutes=1, seconds=50)
    assert notifier.run_pass() == 0
    h.clock.shift = timedelta(minutes=2, seconds=1)
    assert notifier.run_pass() == 1
    assert notifier.run_pass() == 0
    h.executor.finish(run_id, ok=True)
    eventually(lambda: get_run(h, run_id).job_run_state == pb.JOB_RUN_STATE_SUCCEEDED, "done")
    assert notifier.run_pass() == 0  # a success is no event

    [event] = h.events.get_events(ACCOUNT)
    assert (event.kind, event.state, event.notify_delay_after) == ("DELAYED", RunState.RUNNING, 2)
    assert event.delivery is Delivery.NONE  # no webhook
    notifier.stop()


def test_a_refused_delivery_is_retried_with_backoff_until_it_is_taken(
    h: Harness, receiver: Receiver
) -> None:
    create_job(h)
    h.notifications.PutWebhook(napi.PutWebhookRequest(url=receiver.url, secret=SECRET))
    receiver.statuses = [500, 503]
    notifier = Notifier(h.events, LOCAL, config=NotifierConfig(interval_s=0.05, first_retry_s=0.1))
    run_id = start_run(h)
    running(h, run_id)
    h.executor.finish(run_id, ok=False, error="boom")
    notifier.start()
    try:
        eventually(
            lambda: (
                h.events.get_events(ACCOUNT)
                and h.events.get_events(ACCOUNT)[0].delivery is Delivery.DELIVERED
            ),
            "delivered at the third attempt",
        )
    finally:
        notifier.stop()
    [event] = h.events.get_events(ACCOUNT)
    assert event.attempts == 3
    assert len(receiver.posts) == 3
    assert len({body for _, body in receiver.posts}) == 1  # the same event each time


def test_webhooks_may_not_call_internal_addresses_unless_the_operator_allows(
    h: Harness,
) -> None:
    public_only = AddressRule()
    for url in (
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://192.168.0.1/x",
        "ftp://example.com/x",
        "http://user:pw@8.8.8.8/x",
    ):
        with pytest.raises(Exception, match="webhook"):
            public_only.check(url)
    assert public_only.check("https://8.8.8.8/hook").address == "8.8.8.8"
    assert AddressRule(["10.0.0.0/8"]).check("http://10.1.2.3/x").port == 80
    # The server's rule here allows 127.0.0.1 only.
    with pytest.raises(grpc.RpcError) as caught:
        h.notifications.PutWebhook(napi.PutWebhookRequest(url="http://10.0.0.1/", secret=SECRET))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as caught:
        h.notifications.PutWebhook(napi.PutWebhookRequest(url="http://127.0.0.1/", secret="short"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_webhook_is_set_read_without_its_secret_and_deleted(h: Harness) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        h.notifications.GetWebhook(napi.GetWebhookRequest())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    h.notifications.PutWebhook(napi.PutWebhookRequest(url="http://127.0.0.1:9/a", secret=SECRET))
    h.notifications.PutWebhook(napi.PutWebhookRequest(url="http://127.0.0.1:9/b", secret=SECRET))

    got = h.notifications.GetWebhook(napi.GetWebhookRequest()).webhook
    assert got.url == "http://127.0.0.1:9/b"
    with h.db.read() as conn:
        [stored] = conn.exec_driver_sql("SELECT secret_encrypted FROM webhooks").all()
    assert SECRET not in stored[0]
    assert h.secrets.decrypt(stored[0]) == SECRET

    h.notifications.DeleteWebhook(napi.DeleteWebhookRequest())
    with pytest.raises(grpc.RpcError) as caught:
        h.notifications.GetWebhook(napi.GetWebhookRequest())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
