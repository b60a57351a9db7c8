"""The audit trail of a real gRPC server: how each kind of call is recorded, and AuditService.

The server runs in this process on a free loopback port with the audit interceptor, the error
interceptor, a stand-in for the auth interceptor (it fills in the CallInfo from test metadata)
and the real CatalogService over SQLite. The trail's writer is set never to flush by itself, so
each test says when records of calls that wrote nothing are written.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import wrappers_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import OperationalError

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.audit.v1 import types_pb2 as audit_types
from sluice.catalog.core.schema import upgrade_schema as upgrade_catalog_schema
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.common.db import Database, sqlite_url
from sluice.common.errors import AccessDenied, EntityNotFound, Unauthenticated
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.audit import AuditConfig, AuditFilter, AuditTrail, Outcome
from sluice.control_plane.audit.model import Attr, AuditRecord
from sluice.control_plane.audit.schema import upgrade_schema as upgrade_audit_schema
from sluice.control_plane.audit.tracing import current_traceparent
from sluice.control_plane.interceptors import ErrorInterceptor
from sluice.control_plane.interceptors.handlers import Behaviour, StreamBehaviour, wrap_handler
from sluice.control_plane.interceptors.request_id import REQUEST_ID_KEY
from sluice.control_plane.security.calls import Principal, current_call
from sluice.control_plane.servicers.audit import AuditServicer
from sluice.control_plane.servicers.catalog import CatalogServicer

pytestmark = pytest.mark.integration

KEY = b"audit-api-integration-test-key-0"
WRITES_SERVICE = "sluice.test.v1.Writes"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
FORBIDDEN = ("x-test-deny", "forbidden")
HIDDEN = ("x-test-deny", "hidden")


class StandInAuth(grpc.ServerInterceptor):
    """Fills in the CallInfo as the auth interceptor would, from `x-test-*` metadata.

    x-test-principal: NAME@ACCOUNT ("operator@..." is the operator); none: unauthenticated.
    x-test-deny: "forbidden" (PERMISSION_DENIED) or "hidden" (another account's: NOT_FOUND).
    """

    def intercept_service(
        self, continuation: Any, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        return wrap_handler(
            method,
            continuation(handler_call_details),
            lambda behaviour: self._unary(method, behaviour),
            lambda behaviour: self._stream(method, behaviour),
        )

    def _unary(self, method: str, behaviour: Behaviour) -> Behaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            self._authorize(method, request, context)
            return behaviour(request, context)

        return call

    def _stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            self._authorize(method, request, context)
            yield from behaviour(request, context)

        return call

    def _authorize(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        info = current_call()
        assert info is not None, "the audit interceptor opens the CallInfo"
        metadata = dict(context.invocation_metadata())
        name = method.rsplit("/", 1)[1]
        info.action = f"glue:{name}"
        info.read_only = name.startswith(("Get", "Query", "Follow"))
        who = metadata.get("x-test-principal")
        if not isinstance(who, str):
            info.denied_reason = "no credentials"
            raise Unauthenticated("the call is not authenticated")
        principal_name, _, account = who.partition("@")
        operator = principal_name == "operator"
        info.principal = Principal(
            id=f"p-{principal_name}",
            name=principal_name,
            account=account,
            roles=("tester", "reader"),
            operator=operator,
        )
        named = getattr(request, "catalog_id", "")
        info.account = named if operator and named else account
        database = _database_of(request)
        info.resource = f"sluice:catalog:{info.account}:database/{database}"
        info.parameters = {"name": database, "password": "***"}
        deny = metadata.get("x-test-deny")
        if deny == "forbidden":
            info.denied_reason = "no policy allows it"
            raise AccessDenied(f"not allowed to {name}")
        if deny == "hidden":
            info.denied_reason = "another account's resource"
            raise EntityNotFound(f"Database {database} not found")


def _database_of(request: Any) -> str:
    if hasattr(request, "database_input"):
        return str(request.database_input.name)
    return str(getattr(request, "name", "") or getattr(request, "value", ""))


@dataclass
class Harness:
    db: Database
    trail: AuditTrail
    channel: grpc.Channel
    catalog: catalog_pb2_grpc.CatalogServiceStub
    audit: audit_pb2_grpc.AuditServiceStub
    # Statements run on the database, while `watching` is set.
    statements: list[str] = field(default_factory=list)
    watching: threading.Event = field(default_factory=threading.Event)

    def records(self, **filters: Any) -> list[AuditRecord]:
        """Every stored record matching filters (complete or not), newest first."""
        page = self.trail.store.query(AuditFilter(**filters), PageRequest(max_results=1000))
        return list(page.items)

    def record_of(self, request_id: str) -> AuditRecord:
        found = [r for r in self.records() if r.request_id == request_id]
        assert len(found) == 1, found
        return found[0]

    def flush(self) -> None:
        assert self.trail.flush(10)

    def writes(self, method: str) -> Callable[..., Any]:
        return self.channel.unary_unary(
            f"/{WRITES_SERVICE}/{method}",
            request_serializer=wrappers_pb2.StringValue.SerializeToString,
            response_deserializer=wrappers_pb2.StringValue.FromString,
        )


def who(principal: str, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("x-test-principal", principal), *extra)


def request_id_of(call: grpc.Call) -> str:
    return dict(call.trailing_metadata() or ())[REQUEST_ID_KEY]


def create_database(
    h: Harness, account: str, name: str, *, principal: str | None = None
) -> grpc.Call:
    _, call = h.catalog.CreateDatabase.with_call(
        catalog_pb2.CreateDatabaseRequest(
            catalog_id=account, database_input={"name": name, "description": "secret-free"}
        ),
        metadata=who(principal or f"alice@{account}"),
        timeout=10,
    )
    return call


def get_database(h: Harness, account: str, name: str, principal: str) -> grpc.Call:
    _, call = h.catalog.GetDatabase.with_call(
        catalog_pb2.GetDatabaseRequest(catalog_id=account, name=name),
        metadata=who(principal),
        timeout=10,
    )
    return call


def failed(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def _writes_handler(db: Database, tracer: trace.Tracer) -> grpc.GenericRpcHandler:
    """A Sluice service whose calls write to a scratch table in several transactions."""

    def twice(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
        for _ in range(2):
            with db.write() as conn:
                conn.execute(text("INSERT INTO scratch (value) VALUES (:v)"), {"v": request.value})
        return request

    def retry_after_rollback(request: wrappers_pb2.StringValue, context: Any) -> Any:
        try:
            with db.write() as conn:
                conn.execute(text("INSERT INTO scratch (value) VALUES (:v)"), {"v": "lost"})
                raise ValueError("changed its mind")
        except ValueError:
            pass
        with db.write() as conn:
            conn.execute(text("INSERT INTO scratch (value) VALUES (:v)"), {"v": request.value})
        return request

    def child(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
        # What a servicer may do: make child spans of its call, and carry its trace elsewhere.
        tracer.start_span("child work", attributes={"sluice.test.note": request.value}).end()
        return wrappers_pb2.StringValue(value=current_traceparent())

    def handler(behaviour: Behaviour) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=wrappers_pb2.StringValue.FromString,
            response_serializer=wrappers_pb2.StringValue.SerializeToString,
        )

    return grpc.method_handlers_generic_handler(
        WRITES_SERVICE,
        {
            "WriteTwice": handler(twice),
            "RetryAfterRollback": handler(retry_after_rollback),
            "Child": handler(child),
        },
    )


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    db = Database(sqlite_url(tmp_path))
    upgrade_catalog_schema(db)
    upgrade_audit_schema(db)
    with db.write() as conn:
        conn.execute(text("CREATE TABLE scratch (value TEXT)"))
    codec = PageTokenCodec(KEY)
    trail = AuditTrail(db, codec, AuditConfig(flush_interval_s=3600, max_batch=1_000_000))
    trail.start()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=[trail.interceptor(), ErrorInterceptor(), StandInAuth()],
    )
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(
        CatalogServicer(SqlCatalogStore(db, codec), "default"), server
    )
    audit_pb2_grpc.add_AuditServiceServicer_to_server(
        AuditServicer(trail.store, follow_poll_interval_s=0.05), server
    )
    server.add_generic_rpc_handlers((_writes_handler(db, trail.tracer),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    harness = Harness(
        db=db,
        trail=trail,
        channel=channel,
        catalog=catalog_pb2_grpc.CatalogServiceStub(channel),
        audit=audit_pb2_grpc.AuditServiceStub(channel),
    )

    @event.listens_for(db.engine, "before_cursor_execute")
    def _watch(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if harness.watching.is_set():
            harness.statements.append(statement)

    try:
        yield harness
    finally:
        channel.close()
        server.stop(0).wait()
        trail.stop()
        db.dispose()


@pytest.fixture
def account() -> str:
    return f"acct-{uuid.uuid4().hex[:10]}"


# How calls are recorded


def test_a_change_is_recorded_before_its_call_returns(h: Harness, account: str) -> None:
    call = create_database(h, account, "sales")

    # Nothing was flushed: the record committed with the database it records.
    assert h.trail.stats().writer.written == 0
    record = h.record_of(request_id_of(call))
    assert record.complete and record.seq == 0
    assert (record.outcome, record.grpc_code, record.read_only) == (Outcome.SUCCESS, 0, False)
    assert (record.account, record.principal, record.principal_name) == (
        account,
        "p-alice",
        "alice",
    )
    assert record.action == "glue:CreateDatabase"
    assert record.resource == f"sluice:catalog:{account}:database/sales"
    assert record.name == "sluice.catalog.v1.CatalogService/CreateDatabase"
    assert record.kind == "SERVER"
    attributes = record.attributes
    assert attributes[Attr.RPC_SYSTEM] == "grpc"
    assert attributes[Attr.RPC_SERVICE] == "sluice.catalog.v1.CatalogService"
    assert attributes[Attr.RPC_METHOD] == "CreateDatabase"
    assert attributes[Attr.ROLES] == "tester,reader"
    assert attributes[Attr.CLIENT_ADDRESS] == "127.0.0.1"
    assert attributes[Attr.PARAMETERS] == '{"name":"sales","password":"***"}'
    assert attributes[Attr.OUTCOME] == "success" and attributes[Attr.GRPC_STATUS_CODE] == 0

    h.flush()
    assert h.record_of(request_id_of(call)).seq > 0


def test_a_change_that_fails_to_commit_leaves_no_record_with_it(h: Harness, account: str) -> None:
    fail_next_commit = threading.Event()

    @event.listens_for(h.db.engine, "commit")
    def _fail(conn: Connection) -> None:
        if fail_next_commit.is_set():
            fail_next_commit.clear()
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    fail_next_commit.set()
    h.watching.set()
    error = failed(lambda: create_database(h, account, "sales"))
    h.watching.clear()

    assert error.code() == grpc.StatusCode.INTERNAL
    # The hook did write the record in that transaction...
    assert any("INSERT INTO audit_events" in s for s in h.statements)
    # ...and it rolled back with the database it recorded.
    assert h.records(account=account) == []
    missing = failed(lambda: get_database(h, account, "sales", f"alice@{account}"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND

    h.flush()
    create, get = sorted(h.records(account=account), key=lambda r: r.start_ns)
    assert (create.outcome, create.grpc_code) == (Outcome.FAILURE, 13)
    assert create.action == "glue:CreateDatabase" and create.complete
    assert (get.outcome, get.grpc_code) == (Outcome.FAILURE, 5)


def test_a_read_does_no_audit_io_and_is_recorded_by_the_writer(h: Harness, account: str) -> None:
    create_database(h, account, "sales")
    h.watching.set()
    call = get_database(h, account, "sales", f"bob@{account}")
    h.watching.clear()

    assert h.statements and not [s for s in h.statements if "audit_events" in s]
    assert [r.action for r in h.records(account=account)] == ["glue:CreateDatabase"]

    h.flush()
    record = h.record_of(request_id_of(call))
    assert (record.outcome, record.grpc_code, record.read_only) == (Outcome.SUCCESS, 0, True)
    assert (record.principal_name, record.action) == ("bob", "glue:GetDatabase")
    assert record.seq > 0


def test_a_call_writing_in_two_transactions_has_one_record(h: Harness) -> None:
    _, call = h.writes("WriteTwice").with_call(
        wrappers_pb2.StringValue(value="x"), metadata=who("carol@acct-w"), timeout=10
    )

    [record] = [r for r in h.records() if r.request_id == request_id_of(call)]
    assert record.complete and record.outcome is Outcome.SUCCESS
    assert record.name == f"{WRITES_SERVICE}/WriteTwice"
    with h.db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM scratch WHERE value = 'x'")).scalar() == 2


def test_a_write_after_a_rolled_back_one_still_carries_the_record(h: Harness) -> None:
    _, call = h.writes("RetryAfterRollback").with_call(
        wrappers_pb2.StringValue(value="kept"), metadata=who("carol@acct-w"), timeout=10
    )

    assert h.trail.stats().writer.written == 0
    [record] = [r for r in h.records() if r.request_id == request_id_of(call)]
    assert record.complete and record.outcome is Outcome.SUCCESS
    with h.db.read() as conn:
        values = conn.execute(text("SELECT value FROM scratch")).scalars().all()
    assert values == ["kept"]


def test_the_calls_span_is_current_while_it_runs(h: Harness) -> None:
    response, call = h.writes("Child").with_call(
        wrappers_pb2.StringValue(value="noted"),
        metadata=who("carol@acct-w", ("traceparent", f"00-{TRACE_ID}-{PARENT_SPAN}-01")),
        timeout=10,
    )
    h.flush()

    record = h.record_of(request_id_of(call))
    assert (record.trace_id, record.parent_span_id) == (TRACE_ID, PARENT_SPAN)
    assert response.value == f"00-{TRACE_ID}-{record.span_id}-01"
    [child] = [r for r in h.records() if r.name == "child work"]
    assert (child.trace_id, child.parent_span_id) == (TRACE_ID, record.span_id)
    assert child.attributes["sluice.test.note"] == "noted" and child.kind == "INTERNAL"


def test_failures_are_recorded_with_their_status(h: Harness, account: str) -> None:
    error = failed(lambda: get_database(h, account, "nope", f"alice@{account}"))
    h.flush()

    record = h.record_of(request_id_of(error))  # type: ignore[arg-type]
    assert (record.outcome, record.grpc_code) == (Outcome.FAILURE, 5)
    assert record.status_code == "ERROR" and "nope" in record.status_message


@pytest.mark.parametrize(
    ("metadata", "code", "reason"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED, "no credentials"),
        (who("m@acct-m", FORBIDDEN), grpc.StatusCode.PERMISSION_DENIED, "no policy allows it"),
        (who("m@acct-m", HIDDEN), grpc.StatusCode.NOT_FOUND, "another account's resource"),
    ],
)
def test_denials_are_recorded_as_denied(
    h: Harness, metadata: tuple[tuple[str, str], ...], code: grpc.StatusCode, reason: str
) -> None:
    error = failed(
        lambda: h.catalog.CreateDatabase(
            catalog_pb2.CreateDatabaseRequest(database_input={"name": "x"}),
            metadata=metadata,
            timeout=10,
        )
    )
    assert error.code() == code
    h.flush()

    record = h.record_of(request_id_of(error))  # type: ignore[arg-type]
    assert record.outcome is Outcome.DENIED and record.grpc_code == code.value[0]
    assert record.attributes[Attr.DENIED_REASON] == reason
    assert record.action == "glue:CreateDatabase"
    if not metadata:
        assert record.account == "" and record.principal == ""


def test_a_call_continues_the_callers_trace(h: Harness, account: str) -> None:
    _, call = h.catalog.CreateDatabase.with_call(
        catalog_pb2.CreateDatabaseRequest(catalog_id=account, database_input={"name": "t"}),
        metadata=who(f"alice@{account}", ("traceparent", f"00-{TRACE_ID}-{PARENT_SPAN}-01")),
        timeout=10,
    )

    record = h.record_of(request_id_of(call))
    assert (record.trace_id, record.parent_span_id) == (TRACE_ID, PARENT_SPAN)


# AuditService


def query(h: Harness, caller: str, **fields: Any) -> audit_pb2.QueryAuditEventsResponse:
    return h.audit.QueryAuditEvents(
        audit_pb2.QueryAuditEventsRequest(**fields), metadata=who(caller), timeout=10
    )


def test_a_principal_sees_only_its_own_accounts_events(h: Harness) -> None:
    a, b = f"acct-a-{uuid.uuid4().hex[:6]}", f"acct-b-{uuid.uuid4().hex[:6]}"
    create_database(h, a, "sales")
    create_database(h, b, "hr", principal=f"bob@{b}")
    get_database(h, a, "sales", f"alice@{a}")
    h.flush()

    mine = query(h, f"alice@{a}").events
    assert {e.account for e in mine} == {a}
    assert [e.action for e in mine] == ["glue:GetDatabase", "glue:CreateDatabase"]
    for other in (b, "acct-that-does-not-exist"):
        assert list(query(h, f"alice@{a}", account=other).events) == []
    assert [e.account for e in query(h, f"bob@{b}", account=b).events] == [b]

    everyone = query(h, f"operator@{a}", action="CreateDatabase").events
    assert {a, b} <= {e.account for e in everyone}
    only_b = query(h, f"operator@{a}", account=b).events
    assert {e.account for e in only_b} == {b}


def test_query_filters_and_pages_through_the_api(h: Harness, account: str) -> None:
    before = datetime.now(UTC)
    for name in ("d1", "d2", "d3"):
        create_database(h, account, name)
    failed(lambda: get_database(h, account, "nope", f"bob@{account}"))
    h.flush()
    principal = f"alice@{account}"

    failures = query(h, principal, outcome=audit_types.AUDIT_OUTCOME_FAILURE).events
    assert [(e.principal_name, e.status_code) for e in failures] == [("bob", 5)]
    assert failures[0].outcome == audit_types.AUDIT_OUTCOME_FAILURE
    by_bob = query(h, principal, principal="p-bob").events
    assert [e.action for e in by_bob] == ["glue:GetDatabase"]
    resource = query(h, principal, resource=f"sluice:catalog:{account}:database/d*").events
    assert len(resource) == 3

    start = Timestamp()
    start.FromDatetime(before - timedelta(seconds=1))
    seen, token = [], ""
    while True:
        page = query(h, principal, max_results=2, next_token=token, start_time=start)
        seen.extend(page.events)
        token = page.next_token
        if not token:
            break
    creates = [e for e in seen if e.action == "glue:CreateDatabase"]
    assert [e.resource.rsplit("/", 1)[1] for e in creates] == ["d3", "d2", "d1"]
    event_ = creates[0]
    assert event_.seq > 0 and event_.request_id and len(event_.trace_id) == 32
    assert event_.parameters == '{"name":"d3","password":"***"}'
    assert event_.attributes[Attr.READ_ONLY] == "false"
    assert event_.end_time.ToNanoseconds() >= event_.event_time.ToNanoseconds()

    later = Timestamp()
    later.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    assert list(query(h, principal, start_time=later).events) == []
    bad = failed(lambda: query(h, principal, start_time=later, end_time=start))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_queries_are_recorded_too(h: Harness, account: str) -> None:
    query(h, f"alice@{account}")
    h.flush()

    [record] = h.records(account=account)
    assert record.action == "glue:QueryAuditEvents" and record.read_only


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def next_events(stream: Iterator[audit_pb2.FollowAuditEventsResponse]) -> list[Any]:
    return list(next(stream).events)


def test_follow_streams_new_events_of_the_callers_account(h: Harness, account: str) -> None:
    create_database(h, account, "before")
    h.flush()
    stream = h.audit.FollowAuditEvents(
        audit_pb2.FollowAuditEventsRequest(), metadata=who(f"alice@{account}"), timeout=20
    )
    stream.initial_metadata()  # the follow is in place

    create_database(h, f"{account}-other", "theirs", principal=f"eve@{account}-other")
    get_database(h, account, "before", f"bob@{account}")
    h.flush()

    events = next_events(stream)
    assert [(e.principal_name, e.action) for e in events] == [("bob", "glue:GetDatabase")]
    create_database(h, account, "after")
    h.flush()  # complete when the call returned; numbered at the writer's next batch
    assert [e.action for e in next_events(stream)] == ["glue:CreateDatabase"]
    stream.cancel()

    def follow_recorded() -> bool:
        h.flush()
        return bool(h.records(account=account, action="FollowAuditEvents"))

    wait_for(follow_recorded)
    [record] = h.records(account=account, action="FollowAuditEvents")
    assert (record.grpc_code, record.read_only) == (grpc.StatusCode.CANCELLED.value[0], True)


def test_follow_from_a_start_time_replays_then_continues(h: Harness, account: str) -> None:
    start = Timestamp()
    start.FromDatetime(datetime.now(UTC) - timedelta(seconds=1))
    create_database(h, account, "one")
    h.flush()

    stream = h.audit.FollowAuditEvents(
        audit_pb2.FollowAuditEventsRequest(start_time=start, action="CreateDatabase"),
        metadata=who(f"alice@{account}"),
        timeout=20,
    )
    assert [e.resource.rsplit("/", 1)[1] for e in next_events(stream)] == ["one"]

    get_database(h, account, "one", f"alice@{account}")  # filtered out
    create_database(h, account, "two")
    h.flush()
    assert [e.resource.rsplit("/", 1)[1] for e in next_events(stream)] == ["two"]
    stream.cancel()


def test_following_another_account_shows_nothing_and_no_error(h: Harness, account: str) -> None:
    other = f"{account}-b"
    stream = h.audit.FollowAuditEvents(
        audit_pb2.FollowAuditEventsRequest(account=other),
        metadata=who(f"alice@{account}"),
        timeout=1.5,
    )
    stream.initial_metadata()
    create_database(h, other, "theirs", principal=f"bob@{other}")
    h.flush()

    started = time.monotonic()
    error = failed(lambda: next(stream))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started > 0.5
