from __future__ import annotations

import pytest

from sluice.agents.isolation import IsolationTuple
from sluice.agents.runs import (
    MAX_ERROR_MESSAGE_CHARS,
    RunProgress,
    RunRequest,
    RunState,
    check_run_id,
    clip_error,
)
from sluice.common.errors import InvalidInput

pytestmark = pytest.mark.unit


def test_terminal_states() -> None:
    assert {s for s in RunState if s.is_terminal()} == {
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.TIMEOUT,
        RunState.STOPPED,
        RunState.LOST,
    }
    assert RunState("RUNNING") is RunState.RUNNING


def test_argv_puts_arguments_glue_style() -> None:
    request = RunRequest("jr_1", "pass", arguments={"--input": "a", "out": "b"})
    assert request.argv("/w/script.py") == ["/w/script.py", "--input", "a", "--out", "b"]


def test_request_round_trips() -> None:
    request = RunRequest("jr_1", "print(1)", {"k": "v"}, {"AWS_ACCESS_KEY_ID": "x"}, 30.0)
    assert RunRequest.from_dict(request.to_dict()) == request


@pytest.mark.parametrize(
    "kwargs",
    [
        {"run_id": "../etc"},
        {"run_id": ""},
        {"run_id": "a/b"},
        {"timeout_s": 0},
        {"script_name": "../x.py"},
        {"script_name": "x.sh"},
        {"arguments": {"--": "x"}},
        {"arguments": {"a b": "x"}},
        {"run_env": {"1BAD": "x"}},
        {"run_env": {"PATH": "/evil"}},
        {"run_env": {"RAY_ADDRESS": "x"}},
        {"run_env": {"PYTHONPATH": "x"}},
    ],
)
def test_invalid_requests_are_refused(kwargs: dict) -> None:
    values = {"run_id": "jr_1", "script_text": "pass", **kwargs}
    with pytest.raises(InvalidInput):
        RunRequest(**values)


def test_run_ids_usable_as_dir_names() -> None:
    assert check_run_id("jr_0123abcd.attempt-1") == "jr_0123abcd.attempt-1"
    with pytest.raises(InvalidInput):
        check_run_id(".hidden")


def test_finish_is_final() -> None:
    running = RunProgress("r", RunState.RUNNING, started_at=1.0)
    failed = running.finish(RunState.FAILED, "boom", 2.0)
    assert (failed.state, failed.error_message, failed.finished_at) == (
        RunState.FAILED,
        "boom",
        2.0,
    )
    assert failed.finish(RunState.SUCCEEDED, "", 3.0) is failed
    assert RunProgress.from_dict(failed.to_dict()) == failed


def test_long_errors_keep_head_and_tail() -> None:
    message = "HEAD" + "x" * 50_000 + "TAIL"
    clipped = clip_error(message)
    assert len(clipped) <= MAX_ERROR_MESSAGE_CHARS
    assert clipped.startswith("HEAD") and clipped.endswith("TAIL")
    assert clip_error("short") == "short"


def test_isolation_keys() -> None:
    a = IsolationTuple("111", "role/a", "subnet-1", "sg-1")
    assert a.key() == IsolationTuple("111", "role/a", "subnet-1", "sg-1").key()
    assert a.key() != IsolationTuple("111", "role/a", "subnet-1", "sg-2").key()
    assert IsolationTuple.from_dict(a.to_dict()) == a
    with pytest.raises(InvalidInput):
        IsolationTuple("", "role")
