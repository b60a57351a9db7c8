from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sluice.agents.runs import RunRequest, RunState
from sluice.agents.script_runner import execute_script

pytestmark = pytest.mark.unit


def _run(tmp_path: Path, script: str, **kwargs):
    first_lines: list[float] = []
    request = RunRequest("r1", script, **kwargs)
    outcome = execute_script(request, tmp_path, {"spark": "SPARK"}, first_lines.append)
    return outcome, first_lines


def test_script_sees_spark_argv_env_and_cwd(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from sluice.sdk.args import getResolvedOptions\n"
        "assert spark == 'SPARK'\n"
        "assert getResolvedOptions(sys.argv, ['name']) == {'name': 'v'}\n"
        "assert os.environ['SL_SECRET'] == 's'\n"
        "assert os.getcwd() == os.path.dirname(__file__)\n"
        "assert __name__ == '__main__'\n"
    )
    cwd, argv = os.getcwd(), list(sys.argv)
    outcome, first_lines = _run(
        tmp_path, script, arguments={"name": "v"}, run_env={"SL_SECRET": "s"}
    )
    assert outcome.state is RunState.SUCCEEDED, outcome.error_message
    assert len(first_lines) == 1
    assert (os.getcwd(), sys.argv, os.environ.get("SL_SECRET")) == (cwd, argv, None)
    assert (tmp_path / "script.py").read_text() == script


def test_raising_script_fails_with_its_own_traceback(tmp_path: Path, capsys) -> None:
    outcome, _ = _run(tmp_path, "x = 1\n\ndef f():\n    return x / 0\n\nf()\n")
    assert outcome.state is RunState.FAILED
    message = outcome.error_message
    assert message.startswith("Traceback (most recent call last):")
    assert 'script.py", line 6' in message and "line 4, in f" in message
    assert message.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "script_runner.py" not in message
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_syntax_error_fails_and_never_starts(tmp_path: Path) -> None:
    outcome, first_lines = _run(tmp_path, "print('ok')\nx = (\n")
    assert outcome.state is RunState.FAILED
    assert "SyntaxError" in outcome.error_message and "script.py" in outcome.error_message
    assert first_lines == []


@pytest.mark.parametrize(("code", "state"), [("0", RunState.SUCCEEDED), ("3", RunState.FAILED)])
def test_sys_exit(tmp_path: Path, code: str, state: RunState) -> None:
    outcome, _ = _run(tmp_path, f"import sys\nsys.exit({code})\n")
    assert outcome.state is state


def test_glue_scripts_import_awsglue_and_the_path_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sluice.agents.glue_api import PATH

    # As in a fresh run: another module of the session may have put awsglue on the path already.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != PATH])
    for name in [m for m in sys.modules if m == "awsglue" or m.startswith("awsglue.")]:
        monkeypatch.delitem(sys.modules, name)
    before = list(sys.path)
    script = (
        "import awsglue.utils\n"
        "args = awsglue.utils.getResolvedOptions(__import__('sys').argv, ['name'])\n"
        "assert args['name'] == 'v' and args['job_bookmark_option'] == 'job-bookmark-disable'\n"
    )
    outcome, _ = _run(tmp_path, script, arguments={"name": "v"})
    assert outcome.state is RunState.SUCCEEDED, outcome.error_message
    assert sys.path == before
