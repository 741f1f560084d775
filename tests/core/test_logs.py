"""Log lines: JSON in production by default, text in development, and a JSON line that is one object."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from core.logs import JsonFormatter
from core.settings import Settings, log_format_from_env


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "text"),
        ({"FLEXREG_ENV": "production"}, "json"),
        ({"FLEXREG_ENV": "production", "FLEXREG_LOG_FORMAT": "text"}, "text"),
        ({"FLEXREG_LOG_FORMAT": " JSON "}, "json"),
    ],
)
def test_the_log_format_follows_the_environment(environ: dict[str, str], expected: str) -> None:
    assert log_format_from_env(environ) == expected


def test_an_unknown_log_format_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="FLEXREG_LOG_FORMAT must be json or text"):
        Settings.from_env({"FLEXREG_LOG_FORMAT": "xml", "FLEXREG_VAR_DIR": "/nonexistent"})


def test_a_json_line_is_one_object_with_its_exception() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("flexreg", logging.ERROR, __file__, 1, "first\nsecond %s", ("x",), None)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "first\nsecond x"
    assert parsed["level"] == "ERROR"
    assert parsed["logger"] == "flexreg"
    assert "RuntimeError: boom" in parsed["exception"]
    assert parsed["time"].endswith("+00:00")
    assert "request_id" not in parsed  # outside a request
