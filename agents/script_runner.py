"""Executing one run's script in the host process, with its arguments and environment."""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sluice.agents.glue_api import PATH as GLUE_API_PATH
from sluice.agents.runs import RunRequest, RunState


@dataclass(frozen=True)
class ScriptOutcome:
    """How a script ended: SUCCEEDED, or FAILED with the reason (a traceback)."""

    state: RunState
    error_message: str = ""


def execute_script(
    request: RunRequest,
    run_dir: Path,
    script_globals: Mapping[str, Any],
    on_first_line: Callable[[float], None],
) -> ScriptOutcome:
    """Run request's script as __main__ in run_dir, with its argv and environment, then restore.

    The process's cwd, sys.argv and os.environ are the run's while it executes: an environment
    executes one run at a time, and this is what a script expects of a process of its own.

    Args:
        request: the run.
        run_dir: its working dir; the script is saved there and runs with it as cwd.
        script_globals: names the script finds ready, e.g. `spark`.
        on_first_line: called with the time just before the script's first line executes.
    """
    script_path = run_dir / request.script_name
    script_path.write_text(request.script_text, encoding="utf-8")
    with _scoped_process_state(request.argv(str(script_path)), run_dir, request.run_env):
        try:
            code = compile(request.script_text, str(script_path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            return _failed(traceback.format_exception_only(exc))
        namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__file__": str(script_path),
            "__builtins__": builtins,
            **script_globals,
        }
        on_first_line(time.time())
        try:
            exec(code, namespace)
        except SystemExit as exc:
            if exc.code in (None, 0):
                return ScriptOutcome(RunState.SUCCEEDED)
            return _failed([f"SystemExit: the script exited with status {exc.code!r}\n"])
        # User code may raise anything; every failure of it is the run's failure.
        except BaseException as exc:
            return _failed(_script_traceback(exc, str(script_path)))
    return ScriptOutcome(RunState.SUCCEEDED)


def _failed(lines: list[str]) -> ScriptOutcome:
    text = "".join(lines)
    # The traceback is part of the run's stderr as well as of its error message.
    print(text, file=sys.stderr, end="" if text.endswith("\n") else "\n", flush=True)
    return ScriptOutcome(RunState.FAILED, text.rstrip("\n"))


def _script_traceback(exc: BaseException, script_path: str) -> list[str]:
    """The traceback of exc from the script's own frames on (the host's frames are noise)."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script_path:
        tb = tb.tb_next
    return traceback.format_exception(exc, value=exc, tb=tb or exc.__traceback__)


@contextlib.contextmanager
def _scoped_process_state(argv: list[str], cwd: Path, run_env: Mapping[str, str]) -> Iterator[None]:
    saved_argv = sys.argv
    saved_cwd = os.getcwd()
    saved_env = {key: os.environ.get(key) for key in run_env}
    saved_path = list(sys.path)
    try:
        sys.argv = argv
        os.chdir(cwd)
        os.environ.update(run_env)
        # As `python script.py` would: the script's dir first on sys.path; then Sluice's
        # awsglue, so that Glue scripts' `from awsglue.context import GlueContext` works.
        sys.path.insert(0, str(cwd))
        sys.path.insert(1, GLUE_API_PATH)
        yield
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
