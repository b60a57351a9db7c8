"""`sluice audit` and `client.audit` against a fake AuditService on a loopback port."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import click
import grpc
import pytest
from click.testing import CliRunner, Result
from google.protobuf import any_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.audit.v1 import types_pb2 as pb
from sluice.sdk import connect
from sluice.sdk.audit import outcome_name, outcome_value
from sluice.sdk.cli.audit import parse_time
from sluice.sdk.cli.main import cli
from sluice.sdk.errors import AccessDenied, SluiceError

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PAGE = 2


def stamp(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def event(i: int, **fields: object) -> pb.AuditEvent:
    base: dict[str, object] = {
        "seq": i,
        "event_time": stamp(T0 + timedelta(minutes=i)),
        "end_time": stamp(T0 + timedelta(minutes=i, seconds=1)),
        "trace_id": f"{i:032x}",
        "span_id": f"{i:016x}",
        "name": "sluice.catalog.v1.CatalogService/GetTable",
        "account": "acct-a",
        "principal": f"p-{i}",
        "principal_name": "alice",
        "action": "glue:GetTable",
        "resource": f"sluice:catalog:acct-a:table/sales/t{i}",
        "outcome": pb.AUDIT_OUTCOME_SUCCESS,
        "status_code": 0,
        "read_only": True,
        "request_id": f"req-{i}",
    }
    base.update(fields)
    return pb.AuditEvent(**base)  # type: ignore[arg-type]


@dataclass
class FakeAuditService(audit_pb2_grpc.AuditServiceServicer):
    """Serves `events` newest first in pages of PAGE; a follow streams `follow_batches`."""

    events: list[pb.AuditEvent] = field(default_factory=list)
    follow_batches: list[list[pb.AuditEvent]] = field(default_factory=list)
    # Keeps a follow open (after its batches) until the client cancels.
    follow_forever: bool = False
    failure: tuple[grpc.StatusCode, str, str] | None = None
    queries: list[audit_pb2.QueryAuditEventsRequest] = field(default_factory=list)
    follows: list[audit_pb2.FollowAuditEventsRequest] = field(default_factory=list)
    follow_cancelled: threading.Event = field(default_factory=threading.Event)

    def _fail(self, context: grpc.ServicerContext) -> None:
        if self.failure is None:
            return
        code, reason, message = self.failure
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="sluice"))
        context.abort_with_status(
            rpc_status.to_status(
                status_pb2.Status(code=code.value[0], message=message, details=[info])
            )
        )

    def QueryAuditEvents(
        self, request: audit_pb2.QueryAuditEventsRequest, context: grpc.ServicerContext
    ) -> audit_pb2.QueryAuditEventsResponse:
        self.queries.append(request)
        self._fail(context)
        start = int(request.next_token or 0)
        end = start + (request.max_results or PAGE)
        newest_first = self.events[::-1]
        return audit_pb2.QueryAuditEventsResponse(
            events=newest_first[start:end],
            next_token=str(end) if end < len(newest_first) else "",
        )

    def FollowAuditEvents(
        self, request: audit_pb2.FollowAuditEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[audit_pb2.FollowAuditEventsResponse]:
        self.follows.append(request)
        self._fail(context)
        context.add_callback(self.follow_cancelled.set)
        context.send_initial_metadata(())
        for batch in self.follow_batches:
            yield audit_pb2.FollowAuditEventsResponse(events=batch)
        while self.follow_forever and context.is_active():
            self.follow_cancelled.wait(0.05)


@dataclass
class Served:
    service: FakeAuditService
    address: str


@contextmanager
def serving() -> Iterator[Served]:
    service = FakeAuditService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    audit_pb2_grpc.add_AuditServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield Served(service, f"127.0.0.1:{port}")
    finally:
        server.stop(grace=None)


@pytest.fixture
def served() -> Iterator[Served]:
    with serving() as s:
        yield s


def sluice(address: str, *args: str) -> Result:
    runner = CliRunner(
        env={"COLUMNS": "250", "SLUICE_ADDRESS": None, "SLUICE_TOKEN": None, "SLUICE_CONFIG": None}
    )
    return runner.invoke(cli, ["--server", address, "--timeout", "5", *args])


def one_error_line(result: Result, exit_code: int, text: str) -> None:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert text in lines[0]


# sluice audit


def test_the_table_shows_time_principal_action_resource_outcome_and_code(
    served: Served,
) -> None:
    served.service.events = [
        event(1),
        event(
            2,
            principal_name="",
            principal="",
            account="",
            outcome=pb.AUDIT_OUTCOME_DENIED,
            status_code=16,
            action="glue:CreateTable",
            resource="",
        ),
        event(3, outcome=pb.AUDIT_OUTCOME_FAILURE, status_code=5),
    ]

    result = sluice(served.address, "audit")

    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.strip().splitlines()]
    assert lines[0] == ["TIME", "PRINCIPAL", "ACTION", "RESOURCE", "OUTCOME", "CODE"]
    rows = [line for line in lines[1:] if line and not set(line[0]) <= {"─", "-"}]
    assert rows == [
        ["2024-05-01", "12:03:00", "alice", "glue:GetTable",
         "sluice:catalog:acct-a:table/sales/t3", "failure", "NOT_FOUND"],
        ["2024-05-01", "12:02:00", "-", "glue:CreateTable", "denied", "UNAUTHENTICATED"],
        ["2024-05-01", "12:01:00", "alice", "glue:GetTable",
         "sluice:catalog:acct-a:table/sales/t1", "success", "OK"],
    ]  # fmt: skip


def test_filters_go_to_the_server(served: Served) -> None:
    before = datetime.now(UTC)
    result = sluice(
        served.address,
        "audit",
        "--principal", "alice",
        "--action", "glue:Get*",
        "--resource", "sluice:catalog:acct-a:table/sales/",
        "--outcome", "DENIED",
        "--since", "1h",
        "--until", "2024-05-01T13:00:00",
        "--account", "acct-b",
        "--trace-id", "4bf92f3577b34da6a3ce929d0e0e4736",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    [request] = served.service.queries
    assert request.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert (request.principal, request.action) == ("alice", "glue:Get*")
    assert request.resource == "sluice:catalog:acct-a:table/sales/"
    assert request.outcome == pb.AUDIT_OUTCOME_DENIED
    assert request.account == "acct-b"
    since = request.start_time.ToDatetime(tzinfo=UTC)
    assert before - timedelta(hours=1, seconds=5) <= since <= before - timedelta(minutes=59)
    assert request.end_time.ToDatetime(tzinfo=UTC) == datetime(2024, 5, 1, 13, tzinfo=UTC)


def test_limit_stops_fetching_pages(served: Served) -> None:
    served.service.events = [event(i) for i in range(1, 8)]

    result = sluice(served.address, "-o", "json", "audit", "--limit", "3")
    everything = sluice(served.address, "audit", "--limit", "0", "-o", "json")

    assert [e["seq"] for e in json.loads(result.stdout)] == ["7", "6", "5"]
    # One page of 4 (the fourth tells the listing was cut), then all 4 pages of 2.
    assert [q.max_results for q in served.service.queries] == [4, 0, 0, 0, 0]
    assert len(json.loads(everything.stdout)) == 7
    assert everything.stderr == ""


def test_a_cut_listing_says_so_and_how_to_see_more(served: Served) -> None:
    served.service.events = [event(i) for i in range(1, 8)]

    cut = sluice(served.address, "audit", "--limit", "3")
    exact = sluice(served.address, "audit", "--limit", "7")

    assert cut.exit_code == 0, cut.output
    assert cut.stderr == (
        "note: showing the newest 3 events only, there are more: raise --limit (0 for all), "
        "or narrow the listing with --since/--until or the filters\n"
    )
    assert len([line for line in cut.stdout.splitlines() if "glue:GetTable" in line]) == 3
    assert exact.exit_code == 0, exact.output
    assert exact.stderr == ""
    assert len([line for line in exact.stdout.splitlines() if "glue:GetTable" in line]) == 7


def test_json_output_uses_the_proto_field_names(served: Served) -> None:
    served.service.events = [event(1, parameters='{"name":"t1"}', attributes={"k": "v"})]

    result = sluice(served.address, "audit", "-o", "json")

    assert result.exit_code == 0, result.output
    [shown] = json.loads(result.stdout)
    assert shown["principal_name"] == "alice" and shown["outcome"] == "AUDIT_OUTCOME_SUCCESS"
    assert shown["parameters"] == '{"name":"t1"}' and shown["attributes"] == {"k": "v"}
    assert shown["event_time"] == "2024-05-01T12:01:00Z"


def test_follow_prints_json_lines_as_events_come(served: Served) -> None:
    served.service.follow_batches = [[event(1)], [event(2), event(3)]]

    result = sluice(served.address, "-o", "json", "audit", "--follow", "--since", "2024-05-01")

    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == ["1", "2", "3"]
    [request] = served.service.follows
    assert request.start_time.ToDatetime(tzinfo=UTC) == datetime(2024, 5, 1, tzinfo=UTC)


def test_follow_prints_a_line_per_event_for_people(served: Served) -> None:
    served.service.follow_batches = [[event(1), event(2, outcome=pb.AUDIT_OUTCOME_UNSPECIFIED)]]

    result = sluice(served.address, "audit", "-f", "--outcome", "success", "--trace-id", "ab" * 16)

    assert result.exit_code == 0, result.output
    header, first, second = result.stdout.strip().splitlines()
    assert header.split() == ["TIME", "PRINCIPAL", "ACTION", "RESOURCE", "OUTCOME", "CODE"]
    assert first.split() == [
        "2024-05-01", "12:01:00", "alice", "glue:GetTable",
        "sluice:catalog:acct-a:table/sales/t1", "success", "OK",
    ]  # fmt: skip
    assert second.split()[-2:] == ["-", "-"]  # still in flight
    assert served.service.follows[0].outcome == pb.AUDIT_OUTCOME_SUCCESS
    assert served.service.follows[0].trace_id == "ab" * 16


def test_bad_times_and_until_with_follow_are_usage_errors(served: Served) -> None:
    one_error_line(sluice(served.address, "audit", "--since", "yesterday"), 2, "yesterday")
    one_error_line(
        sluice(served.address, "audit", "--follow", "--until", "1h"), 2, "--until cannot"
    )
    assert served.service.queries == [] and served.service.follows == []


def test_a_server_error_is_one_line(served: Served) -> None:
    served.service.failure = (
        grpc.StatusCode.PERMISSION_DENIED,
        "AccessDeniedException",
        "not allowed to glue:QueryAuditEvents",
    )
    one_error_line(sluice(served.address, "audit"), 1, "AccessDeniedException: not allowed")
    one_error_line(sluice(served.address, "audit", "-f"), 1, "AccessDeniedException")


def test_an_unreachable_server_exits_3() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    one_error_line(sluice(f"127.0.0.1:{port}", "audit"), 3, "error: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", T0 - timedelta(seconds=90)),
        ("15m", T0 - timedelta(minutes=15)),
        ("1.5h", T0 - timedelta(minutes=90)),
        ("2d", T0 - timedelta(days=2)),
        ("1w", T0 - timedelta(weeks=1)),
        ("2024-04-01", datetime(2024, 4, 1, tzinfo=UTC)),
        ("2024-04-01T10:30:00Z", datetime(2024, 4, 1, 10, 30, tzinfo=UTC)),
        ("2024-04-01T10:30:00+02:00", datetime(2024, 4, 1, 8, 30, tzinfo=UTC)),
    ],
)
def test_times_are_durations_ago_or_iso(text: str, expected: datetime) -> None:
    assert parse_time(text, now=T0) == expected


def test_a_time_that_is_neither_is_refused() -> None:
    with pytest.raises(click.BadParameter):
        parse_time("5 minutes", now=T0)


# The SDK


def test_query_pages_and_filters_by_name(served: Served) -> None:
    served.service.events = [event(i) for i in range(1, 6)]

    with connect(served.address) as client:
        events = list(client.audit.query(outcome="failure", start_time=datetime(2024, 5, 1)))

    assert [e.seq for e in events] == [5, 4, 3, 2, 1]
    assert len(served.service.queries) == 3
    first = served.service.queries[0]
    assert first.outcome == pb.AUDIT_OUTCOME_FAILURE
    assert first.start_time.ToDatetime(tzinfo=UTC) == datetime(2024, 5, 1, tzinfo=UTC)
    assert not first.HasField("end_time")


def test_a_follow_can_be_cancelled(served: Served) -> None:
    served.service.follow_batches = [[event(1)]]
    served.service.follow_forever = True

    with connect(served.address) as client, client.audit.follow(action="GetTable") as tail:
        assert next(tail).seq == 1
        tail.cancel()
        assert list(tail) == []
    assert served.service.follow_cancelled.wait(5)
    assert served.service.follows[0].action == "GetTable"


def test_errors_are_typed(served: Served) -> None:
    served.service.failure = (grpc.StatusCode.PERMISSION_DENIED, "AccessDeniedException", "no")

    with connect(served.address) as client:
        with pytest.raises(AccessDenied):
            list(client.audit.query())
        with pytest.raises(SluiceError):
            list(client.audit.follow())


def test_outcomes_by_name_or_value() -> None:
    assert outcome_value("Denied") == pb.AUDIT_OUTCOME_DENIED
    assert outcome_value(pb.AUDIT_OUTCOME_SUCCESS) == pb.AUDIT_OUTCOME_SUCCESS
    assert outcome_value(None) == pb.AUDIT_OUTCOME_UNSPECIFIED
    assert outcome_name(pb.AUDIT_OUTCOME_FAILURE) == "failure"
    assert outcome_name(pb.AUDIT_OUTCOME_UNSPECIFIED) == ""
    with pytest.raises(ValueError, match="success, failure, denied"):
        outcome_value("maybe")
    with pytest.raises(ValueError):
        outcome_value(42)
