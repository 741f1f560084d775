"""The periodic jobs `flexreg worker` runs (and the worker `flexreg serve` starts beside the HTTP workers).

Register a job here by name: `PERIODIC_JOBS.add(name, cron_in_utc, async_fn)`, where `async_fn(sessionmaker,
now)` opens its own transactions. Each period runs once across every process (core.jobs).
"""

from __future__ import annotations

from core.jobs import JobRegistry, prune_job_queue

PERIODIC_JOBS = JobRegistry()
PERIODIC_JOBS.add("prune_job_queue", "17 3 * * *", prune_job_queue)
