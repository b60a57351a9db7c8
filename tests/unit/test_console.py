"""The console's pieces that need no server: sessions, run arguments, the trace waterfall and the
console port's default."""

from __future__ import annotations

import contextlib
import socket

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.audit.v1 import types_pb2 as audit_types
from sluice.control_plane.cli import DEFAULT_CONSOLE_PORT, _default_console_port
from sluice.control_plane.console.app import ApiError, _arguments, _history, _re2_escape, _waterfall
from sluice.control_plane.console.sessions import Session, Sessions, same
from sluice.jobs.v1 import types_pb2 as job_types

pytestmark = pytest.mark.unit


def _session() -> Session:
    return Session("slk_token", "alice", "111111111111", ("admin",), False, "127.0.0.1")


def test_sessions_expire_and_are_dropped() -> None:
    sessions = Sessions(ttl_s=3600)
    sid = sessions.create(_session())
    assert sessions.get(sid) is not None and sessions.get("other") is None
    sessions.drop(sid)
    assert sessions.get(sid) is None
    expired = Sessions(ttl_s=0)
    assert expired.get(expired.create(_session())) is None


def test_each_session_has_its_own_csrf_token_and_no_token_in_its_repr() -> None:
    a, b = _session(), _session()
    assert a.csrf != b.csrf and len(a.csrf) >= 32
    assert "slk_token" not in repr(a)
    assert same(a.csrf, a.csrf) and not same(a.csrf, b.csrf) and not same("", "")


def test_run_arguments_from_the_form() -> None:
    assert _arguments("--day=2024-05-01\n\nregion=eu\n--sql=a=b") == {
        "--day": "2024-05-01",
        "--region": "eu",
        "--sql": "a=b",
    }
    with pytest.raises(ApiError, match="key=value"):
        _arguments("no-equals-sign")


def test_a_search_is_matched_literally() -> None:
    assert _re2_escape("a.b*(c)") == r"a\.b\*\(c\)"


def _event(span: str, parent: str, start_ms: int, end_ms: int) -> audit_types.AuditEvent:
    started, ended = Timestamp(), Timestamp()
    started.FromMilliseconds(start_ms)
    ended.FromMilliseconds(end_ms)
    return audit_types.AuditEvent(
        span_id=span, parent_span_id=parent, event_time=started, end_time=ended, name=span
    )


def test_the_waterfall_places_children_inside_their_parent() -> None:
    bars = _waterfall([_event("child", "root", 1_050, 1_100), _event("root", "", 1_000, 1_200)])
    assert [b["name"] for b in bars] == ["root", "child"]
    assert (bars[0]["left"], bars[0]["width"], bars[0]["level"]) == (0.0, 100.0, 0)
    assert (bars[1]["left"], bars[1]["width"], bars[1]["level"]) == (25.0, 25.0, 1)
    assert _waterfall([]) == []


def test_the_console_is_on_by_default_on_loopback_only() -> None:
    assert _default_console_port("0.0.0.0") is None
    assert _default_console_port("10.1.2.3") is None
    with socket.socket() as taken:
        with contextlib.suppress(OSError):  # another server holds it: the same case
            taken.bind(("127.0.0.1", DEFAULT_CONSOLE_PORT))
        assert _default_console_port("127.0.0.1") == 0


def test_the_run_history_chart_scales_to_the_longest_run() -> None:
    state = job_types.JobRunState
    runs = [  # newest first, as GetJobRuns answers
        job_types.JobRun(id="b", execution_time=10, job_run_state=state.JOB_RUN_STATE_FAILED),
        job_types.JobRun(id="a", execution_time=40, job_run_state=state.JOB_RUN_STATE_SUCCEEDED),
    ]
    bars = _history(runs)
    assert [(b["id"], b["state"], b["height"], b["x"]) for b in bars] == [
        ("a", "SUCCEEDED", 80, 0),
        ("b", "FAILED", 20, 12),
    ]
