"""How the service's log lines look: one JSON object per line (production) or plain text (development).

A JSON line holds `time` (UTC, ISO 8601), `level`, `logger`, `message` and, inside a request, `request_id`;
an access line (core.request_log) adds `method`, `route` (the template, never the raw path), `status` and
`duration_ms`. Nothing else from the record is copied: no arguments, no client address, no header, so what a
line may hold is exactly what its message says (and tests/registry/test_no_id_numbers_in_logs.py checks
that no message holds an ID number). Hand-written on msgspec, which the service already uses, rather than
adding python-json-logger for twenty lines.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import msgspec

from core.request_log import current_request_id
from core.settings import LogFormat

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# The fields an access line carries besides the message (set through `extra=` by core.request_log).
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")

_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (messages with line breaks stay one line: JSON escapes them)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id is not None:
            line["request_id"] = request_id
        for field in ACCESS_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return _encoder.encode(line).decode()


def formatter_config(log_format: LogFormat) -> dict[str, Any]:
    """The `formatters` entry of a logging dictConfig for this format (granian's workers are configured so)."""
    if log_format == "json":
        return {"()": f"{__name__}.JsonFormatter"}
    return {"format": TEXT_FORMAT}


def configure(log_format: LogFormat, level: int = logging.INFO) -> None:
    """The root logger writes to stderr in this format (the CLI's commands; `serve` configures its workers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
