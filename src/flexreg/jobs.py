"""What runs beside the requests: the periodic jobs `flexreg worker` runs (and the worker `flexreg serve` starts),
and what a calendar change recomputes. Registered here, in the app factory layer, so the worker, the app and
`flexreg load-calendar` / `add-calendar-override` all see the same registrations (the CLI imports this module
before it loads a year).

- A periodic job: `PERIODIC_JOBS.add(name, cron_in_utc, async_fn)`, where `async_fn(sessionmaker, now)` opens
  its own transactions. Each period runs once across every process (core.jobs).
- A recompute on a loaded year: `calendar_store.on_year_loaded.append(async_fn)`, `async_fn(session, calendar,
  year)`, run inside the load's transaction; likewise `on_overrides_added` for provincial overrides.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.crypto import FieldCipher
from core.db import transaction
from core.jobs import JobRegistry, prune_job_queue
from core.rate_limits import prune_rate_limits
from core.settings import Settings
from flexreg import retention
from permits import anchors, calendar_store, signing, sweep, workdays
from permits.permit_issue import Issuer
from registry import access_log_anchors

logger = logging.getLogger(__name__)


@functools.cache
def _settings() -> Settings:
    """The worker's settings, from the environment it was started with (as the app's)."""
    return Settings.from_env()


def _issuer(settings: Settings) -> Issuer:
    return Issuer(FieldCipher(settings.data.data_key), settings.http.public_url, settings.timezone)


async def sweep_deadlines(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
    done = await sweep.sweep_deadlines(sessionmaker, now, issuer=_issuer(_settings()))
    if done:
        logger.info("deadline sweep: %s", ", ".join(f"{task} {action}" for task, action in done))


class _AnchorSigner:
    """The permits' Ed25519 signing key as a HeadSigner of both chains' anchors (the history's, the access log's):
    they verify against GET /permit-signing-keys."""

    def __init__(self, signer: signing.Signer) -> None:
        self._signer = signer

    @property
    def kid(self) -> str:
        return self._signer.kid

    def sign(self, message: bytes) -> bytes:
        return self._signer.private_key.sign(message)


async def publish_history_anchor(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
    settings = _settings()
    async with transaction(sessionmaker) as session:
        signer = await signing.current_signer(session, FieldCipher(settings.data.data_key))
        anchor = await anchors.publish_anchor(session, _AnchorSigner(signer), now=now, timezone=settings.timezone)
    if anchor is not None:
        logger.info("history anchor for %s: row %d, %s", anchor.day, anchor.seq, anchor.row_hash)


async def publish_access_log_anchor(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
    """The personal-data access log's head, signed with the same key as the history's (registry holds none)."""
    settings = _settings()
    async with transaction(sessionmaker) as session:
        signer = await signing.current_signer(session, FieldCipher(settings.data.data_key))
        anchor = await access_log_anchors.publish_anchor(
            session, _AnchorSigner(signer), now=now, timezone=settings.timezone
        )
    if anchor is not None:
        # The log line is a copy outside the database too, wherever the logs are shipped.
        logger.info("access log anchor for %s: row %d, %s", anchor.day, anchor.seq, anchor.row_hash)


async def apply_retention(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
    await retention.run_retention(sessionmaker, now, periods=_settings().retention)


async def _recompute_after_overrides(
    session: AsyncSession, calendar: workdays.NationalCalendar, overrides: Sequence[calendar_store.Override]
) -> None:
    for region in sorted({override.region for override in overrides}):
        await sweep.recompute_region(session, calendar, region)


PERIODIC_JOBS = JobRegistry()
PERIODIC_JOBS.add("prune_job_queue", "17 3 * * *", prune_job_queue)
# Ended rate-limit windows (core.rate_limits): the table holds the current windows only, give or take ten minutes.
PERIODIC_JOBS.add("prune_rate_limits", "*/10 * * * *", prune_rate_limits)
PERIODIC_JOBS.add("sweep_deadlines", "*/10 * * * *", sweep_deadlines)
# 23:55 in the city (UTC+8): the day's head, signed before the day ends.
PERIODIC_JOBS.add("publish_history_anchor", "55 15 * * *", publish_history_anchor)
# 23:56 in the city: the access log's head, likewise.
PERIODIC_JOBS.add("publish_access_log_anchor", "56 15 * * *", publish_access_log_anchor)
# 03:37 in the city: purge and clear what the retention periods no longer allow keeping (flexreg.retention).
PERIODIC_JOBS.add("apply_retention", "37 19 * * *", apply_retention)

calendar_store.on_year_loaded.append(sweep.recompute_provisional)
calendar_store.on_overrides_added.append(_recompute_after_overrides)
