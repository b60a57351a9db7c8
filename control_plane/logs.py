"""Server logging: JSON lines (or plain text) on stderr.

Structured fields travel in `extra={"fields": {...}}` so both formats can print them.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

FIELDS_ATTR = "fields"


def fields(**values: Any) -> dict[str, Any]:
    """The `extra` argument that attaches structured fields to a log record."""
    return {FIELDS_ATTR: values}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the record's fields, exc if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_record_fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines: time, level, message, then key=value fields."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in _record_fields(record).items())
        if not extra:
            return line
        head, sep, tail = line.partition("\n")
        return f"{head} {extra}{sep}{tail}"


def configure_logging(level: str, log_format: str) -> None:
    """Send every log record of the process to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def _record_fields(record: logging.LogRecord) -> Mapping[str, Any]:
    values = getattr(record, FIELDS_ATTR, None)
    return values if isinstance(values, Mapping) else {}


def _utc_iso(created: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"
