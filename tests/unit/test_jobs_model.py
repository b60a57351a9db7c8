"""Run states, the worker mapping, argument merging and script locations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.model import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATES,
    CommandName,
    IsolationTuple,
    JobCommand,
    JobRun,
    RunState,
    check_transition,
)
from sluice.control_plane.jobs.scripts import ScriptSources, parse_script_location
from sluice.control_plane.jobs.workers import worker_spec

pytestmark = pytest.mark.unit


# States


def test_terminal_states_are_glues() -> None:
    terminal = {s for s in RunState if s.is_terminal()}
    assert terminal == {"STOPPED", "SUCCEEDED", "FAILED", "TIMEOUT", "ERROR"}
    assert terminal == TERMINAL_STATES


def test_transition_table_covers_every_state_and_ends_nothing_terminal() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(RunState)
    for state in TERMINAL_STATES:
        assert ALLOWED_TRANSITIONS[state] == frozenset()


def test_every_active_state_can_reach_an_end() -> None:
    for state in set(RunState) - TERMINAL_STATES:
        seen, frontier = {state}, [state]
        while frontier:
            for nxt in ALLOWED_TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & TERMINAL_STATES, state


@pytest.mark.parametrize(
    ("from_states", "to_state", "retry"),
    [
        ({RunState.SUCCEEDED}, RunState.RUNNING, False),
        ({RunState.RUNNING, RunState.STOPPING}, RunState.FAILED, False),
        ({RunState.STOPPING}, RunState.RUNNING, False),
        (set(), RunState.RUNNING, False),
        ({RunState.RUNNING}, RunState.SUCCEEDED, True),
        ({RunState.STOPPING}, RunState.STOPPED, True),
    ],
)
def test_check_transition_refuses(
    from_states: set[RunState], to_state: RunState, retry: bool
) -> None:
    with pytest.raises(ValueError):
        check_transition(from_states, to_state, retry)


def test_check_transition_accepts_allowed_changes() -> None:
    check_transition({RunState.STARTING, RunState.RUNNING}, RunState.TIMEOUT, True)
    check_transition({RunState.RUNNING}, RunState.FAILED, True)
    check_transition({RunState.STOPPING}, RunState.STOPPED, False)


def test_run_deadline_counts_from_its_start() -> None:
    started = datetime(2024, 1, 1, tzinfo=UTC)
    run = JobRun(
        id="jr_1",
        job_name="etl",
        attempt=0,
        state=RunState.RUNNING,
        arguments={},
        command=JobCommand(CommandName.GLUEETL, "sluice://scripts/etl.py"),
        isolation=IsolationTuple("acct", "role"),
        started_on=started,
        last_modified_on=started,
        timeout=90,
        worker_type="G.1X",
        number_of_workers=2,
    )
    assert run.deadline == started + timedelta(minutes=90)
    assert run.account == "acct"


# Workers


def test_glue_workers_map_to_executors_one_worker_being_the_driver() -> None:
    g1 = worker_spec(CommandName.GLUEETL, "G.1X", 10)
    g2 = worker_spec(CommandName.GLUEETL, "G.2X", 10)
    g4 = worker_spec(CommandName.GLUEETL, "G.4X", 3)

    assert (g1.num_executors, g1.executor_cores, g1.executor_memory_mb) == (9, 1, 1024)
    assert (g2.executor_cores, g2.executor_memory_mb) == (2, 2048)
    assert (g4.num_executors, g4.executor_cores, g4.executor_memory_mb) == (2, 4, 4096)
    assert (g4.driver_cores, g4.driver_memory_mb) == (4, 4096)


def test_defaults_and_python_shell() -> None:
    default = worker_spec(CommandName.GLUEETL, "", 0)
    shell = worker_spec(CommandName.PYTHONSHELL, "G.2X", 10)

    assert (default.worker_type, default.number_of_workers, default.num_executors) == (
        "G.1X",
        2,
        1,
    )
    assert (shell.num_executors, shell.driver_cores) == (0, 1)


@pytest.mark.parametrize(("worker_type", "workers"), [("G.8X", 2), ("g.1x", 2), ("G.1X", 1)])
def test_unknown_worker_shapes_are_invalid(worker_type: str, workers: int) -> None:
    with pytest.raises(InvalidInput):
        worker_spec(CommandName.GLUEETL, worker_type, workers)


# Arguments


def test_run_arguments_override_defaults_but_not_non_overridable_ones() -> None:
    merged = checks.merged_arguments(
        {"--a": "job", "--b": "job", "--c": "job"},
        {"--b": "run", "--c": "run", "--d": "run"},
        {"--c": "fixed"},
    )
    assert merged == {"--a": "job", "--b": "run", "--c": "fixed", "--d": "run"}


@pytest.mark.parametrize("key", ["a", "-a", "--", "--a b", "--a=b", "---a"])
def test_argument_keys_must_look_like_options(key: str) -> None:
    with pytest.raises(InvalidInput):
        checks.merged_arguments({}, {key: "1"}, {})


# Scripts


def test_script_locations() -> None:
    assert parse_script_location("sluice://scripts/etl.py").uploaded_name == "etl.py"
    assert parse_script_location("file:///opt/etl.py").path == Path("/opt/etl.py")
    for bad in ("s3://b/etl.py", "sluice://scripts/../x.py", "file://etl.py", "etl.py"):
        with pytest.raises(InvalidInput):
            parse_script_location(bad)


def test_load_script_reads_local_files(tmp_path: Path) -> None:
    script = tmp_path / "etl.py"
    script.write_text("print('é')\n", encoding="utf-8")

    sources = ScriptSources(roots=(tmp_path,))
    assert sources.load(_NoStore(), "acct", f"file://{script}") == "print('é')\n"
    with pytest.raises(EntityNotFound):
        sources.load(_NoStore(), "acct", f"file://{tmp_path / 'absent.py'}")
    (tmp_path / "bin.py").write_bytes(b"\xff")
    with pytest.raises(InvalidInput):
        sources.load(_NoStore(), "acct", f"file://{tmp_path / 'bin.py'}")


class _NoStore:
    """Local scripts never touch the store."""

    def get_script(self, account: str, name: str) -> bytes:
        raise AssertionError("the store was asked for a local script")
