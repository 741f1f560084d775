"""The private PostgreSQL under var/ that the service and the tests use when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def start_embedded_postgres(var_dir: Path) -> str:
    """Start (or join) the embedded server and return its libpq URL; it stops when the last user exits."""
    data_dir = (var_dir / "pgdata").resolve()
    if data_dir not in _servers:
        # pgserver logs every initdb/pg_ctl command with its full output at INFO: keep its warnings only, so
        # what `make run` prints stays readable (the server's own log is in pgdata/log).
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL in %s", data_dir)
        with warnings.catch_warnings():
            # platformdirs warns that a root shell without a login session has no XDG_RUNTIME_DIR; harmless here.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pgserver  # imported lazily: only the embedded path needs it

            _servers[data_dir] = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    uri: str = _servers[data_dir].get_uri()
    return uri
