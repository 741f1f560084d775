"""The service's Prometheus metrics: requests by route template and status, their latency, refusals by code.

Granian runs several worker processes, each answering a share of the requests and of the scrapes, so the
counters live in prometheus_client's multiprocess mode: each worker writes its values to files under
PROMETHEUS_MULTIPROC_DIR (`flexreg serve` gives each server its own empty one under var/prometheus/) and a
scrape adds up every worker's files. prometheus_client picks its storage when first imported, from that
variable, so it is imported here on first use, in the worker, never at import time in the process that starts
the workers.
Without the variable (tests, a single in-process app) the values live in memory.

Labels hold only route templates, methods, statuses and problem codes: never a path, an id or a value.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: most answers take a few milliseconds, the slow tail (a draw, a PDF) up to seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Metrics(NamedTuple):
    requests: Counter
    latency: Histogram
    refusals: Counter


@functools.cache
def _metrics() -> _Metrics:
    from prometheus_client import Counter, Histogram

    return _Metrics(
        requests=Counter(
            "flexreg_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
        ),
        latency=Histogram(
            "flexreg_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
        ),
        refusals=Counter("flexreg_refusals", "Problem documents rendered, by problem code", ["code", "status"]),
    )


def observe_request(method: str, route: str, status: int | None, duration_ms: float) -> None:
    """Count one answered request (core.request_log calls this with its access line's facts)."""
    metrics = _metrics()
    metrics.requests.labels(method, route, str(status) if status is not None else "-").inc()
    metrics.latency.labels(method, route).observe(duration_ms / 1000)


def count_refusal(code: str, status: int) -> None:
    """Count one problem document (core.errors calls this for each it renders)."""
    _metrics().refusals.labels(code, str(status)).inc()


def prepare_multiprocess_dir(parent: Path) -> Path:
    """Give this server (this process and the workers it starts) an empty multiprocess directory under `parent`.

    The directory is named after this process's pid: two servers sharing one var dir (the crash and race
    tests start such pairs, and an operator may too) neither add up nor wipe each other's counts, and
    starting at the same moment cannot race on one directory. Files an earlier run left would be added to
    this run's counts, so directories of servers no longer running are removed here.
    """
    parent.mkdir(parents=True, exist_ok=True)
    own = str(os.getpid())
    for entry in parent.iterdir():
        if entry.is_dir() and entry.name.isdigit() and entry.name != own and _running(int(entry.name)):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:  # the flat layout of earlier versions
            entry.unlink(missing_ok=True)
    path = parent / own
    path.mkdir()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def exposition(extra: Iterable[Any] = ()) -> tuple[bytes, str]:
    """The text exposition of every worker's metrics and of `extra` (metric families computed for this scrape)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    _metrics()  # declared even before the first request, so a scrape always lists them
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    families = list(extra)
    scraped = CollectorRegistry()
    scraped.register(_Families(families))
    return generate_latest(registry) + generate_latest(scraped), CONTENT_TYPE_LATEST


class _Families:
    """A collector of metric families computed once for one scrape."""

    def __init__(self, families: list[Any]) -> None:
        self._families = families

    def collect(self) -> Iterable[Any]:
        return self._families
