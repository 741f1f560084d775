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

from core.jobs import JobRegistry, prune_job_queue

PERIODIC_JOBS = JobRegistry()
PERIODIC_JOBS.add("prune_job_queue", "17 3 * * *", prune_job_queue)
