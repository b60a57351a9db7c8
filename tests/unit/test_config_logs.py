"""The server's log formats: JSON lines with structured fields, or readable text."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from sluice.control_plane.logs import JsonFormatter, TextFormatter, fields

pytestmark = pytest.mark.unit


def _record(msg: str, exc: bool = False, **values: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("sluice.test", logging.INFO, __file__, 1, msg, (), exc_info)
    for key, value in fields(**values).items():
        setattr(record, key, value)
    return record


def test_json_line_carries_fields() -> None:
    line = JsonFormatter().format(_record("rpc", method="/x/Y", code="OK", duration_ms=1.5))
    entry = json.loads(line)
    assert entry["msg"] == "rpc"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "sluice.test"
    assert (entry["method"], entry["code"], entry["duration_ms"]) == ("/x/Y", "OK", 1.5)
    assert entry["ts"].endswith("Z")
    assert "\n" not in line


def test_json_line_keeps_a_traceback_on_one_line() -> None:
    line = JsonFormatter().format(_record("unhandled error", exc=True))
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exc"]


def test_text_line_appends_key_values() -> None:
    line = TextFormatter().format(_record("server started", address="127.0.0.1:1"))
    assert line.endswith("INFO sluice.test: server started address=127.0.0.1:1")
