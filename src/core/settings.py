"""Settings read once from the environment; nothing else in the service reads os.environ."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from core.client_address import Network, parse_trusted_proxies
from core.clock import Clock, SystemClock
from core.rate_limit_rules import DEFAULT_RATE_LIMITS, RateLimit, parse_rate_limits

logger = logging.getLogger(__name__)

Environment = Literal["development", "production"]
LogFormat = Literal["json", "text"]


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True):
    # A libpq-style URL (postgresql://user@host:port/db); None means "start the embedded server under var/".
    url: str | None
    # A fixed pool: overflow connections are opened and closed per request under load, which costs more
    # than waiting briefly for a pooled one (measured with make bench).
    pool_size: int = 20
    max_overflow: int = 0
    # How long a request waits for a pooled connection before it is answered 503 with Retry-After.
    pool_timeout_seconds: float = 5.0
    statement_timeout_ms: int = 5000
    lock_timeout_ms: int = 2000


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True):
    secret_key: bytes
    algorithm: str = "HS256"
    audience: str = "flexreg-api"
    issuer: str = "flexreg"
    # Access tokens are short (FLEXREG_ACCESS_TOKEN_TTL): a leaked one is good for minutes; apps refresh.
    token_ttl_seconds: int = 900
    # A refresh token (rotated on every use) lives this long unused (FLEXREG_REFRESH_TOKEN_TTL): 30 days.
    refresh_ttl_seconds: int = 30 * 86400
    # A spent refresh token presented again this soon after its spending, while the token it was answered with is
    # unused, is a retry after a lost response: answered once more instead of revoking the sign-in
    # (registry.sessions; FLEXREG_REFRESH_REUSE_GRACE_SECONDS, 0 turns it off).
    refresh_reuse_grace_seconds: int = 30
    # The console's session cookie (core.browser_session) holds a token of this lifetime: a working day.
    session_ttl_seconds: int = 8 * 3600
    leeway_seconds: int = 30
    # Sign-in throttle (registry.throttle), per username and client address: this many failures are free,
    # then each further attempt waits 2^(n - free) seconds after the last failure, at most the cap.
    login_free_failures: int = 3
    login_delay_cap_seconds: int = 900
    # A pair's failures are forgotten this long after its last one.
    login_memory_seconds: int = 86400
    # And per username across all clients, gentler: this many failures in a window refuse further attempts
    # from clients that have failed for it, until the window ends (a client with no failure still gets in).
    login_failure_limit: int = 100
    login_window_seconds: int = 900


class DataSettings(msgspec.Struct, frozen=True, kw_only=True):
    # Root key for field encryption and keyed hashes of ID numbers; held outside the database.
    data_key: bytes


class HttpSettings(msgspec.Struct, frozen=True, kw_only=True):
    max_body_bytes: int = 1024 * 1024
    max_document_bytes: int = 5 * 1024 * 1024
    max_json_depth: int = 32
    # Parts of one multipart body (an upload is one file; Litestar's default would read up to 1,000).
    max_multipart_parts: int = 8
    # Browser origins allowed to call the API cross-origin (CORS); empty means no CORS headers at all.
    cors_origins: tuple[str, ...] = ()
    # The service's public address as people and scanners reach it: permit verification links and QR codes
    # point here, and it is the `iss` of permit tokens (FLEXREG_PUBLIC_URL, no trailing slash).
    public_url: str = "http://127.0.0.1:8000"
    # A tile server the console's map may draw under the places ({z}/{x}/{y}; FLEXREG_TILE_URL), for
    # deployments that have one; None: a plain background with the jurisdiction's outline (no outside tiles).
    tile_url: str | None = None
    tile_attribution: str = ""
    # Reverse proxies whose X-Forwarded-For names the caller (core.client_address; FLEXREG_TRUSTED_PROXIES).
    trusted_proxies: tuple[Network, ...] = ()
    # How long an Idempotency-Key stays claimed by a request that has not finished: after it a retry takes the
    # key over (the first attempt crashed). A slower first attempt then cannot complete and is rolled back
    # (core.idempotency), so a short lease costs retries, never a double write (FLEXREG_IDEMPOTENCY_LEASE_SECONDS).
    idempotency_lease_seconds: int = 60


class OpsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What operators and their tools see: log lines, metrics, health probes, shutdown."""

    # FLEXREG_LOG_FORMAT: one JSON object per line for a log shipper, or plain text for a person.
    log_format: LogFormat = "text"
    # Who may read /metrics (flexreg.ops): a bearer token (FLEXREG_METRICS_TOKEN) or a caller from these
    # networks (FLEXREG_METRICS_NETWORKS, through trusted proxies); neither set: loopback only.
    metrics_token: str | None = None
    metrics_networks: tuple[Network, ...] = ()
    # /ready: how long the database may take to answer before the instance is reported not ready.
    ready_timeout_seconds: float = 2.0
    # On SIGTERM `serve` stops accepting and gives requests in flight this long (FLEXREG_SHUTDOWN_TIMEOUT).
    shutdown_timeout_seconds: int = 30


class RetentionSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How long personal data with a natural end is kept (flexreg.retention; docs/retention.md says why)."""

    # A rejected key-group claim, its decision and evidence, from the decision: past the 6 months in which the
    # vendor may sue over it (行政诉讼法 Art. 46), with a margin.
    rejected_claim_days: int = 200
    # An uploaded document no claim or application cites, from its upload.
    unused_document_days: int = 30
    # The free-text purpose of a staff read in the access log (the row and its chain stay): PIPL Art. 56 keeps
    # records of processing at least 3 years.
    access_purpose_days: int = 3 * 365
    # Failed sign-in counts, from their window's start: long past any throttle window, kept for a security review.
    login_failure_days: int = 30
    # Ended sign-ins (signed out, revoked, or every token of them expired) and expired refresh tokens, from the
    # end or the expiry: records of network access are kept at least 6 months (网络安全法 Art. 21(3)).
    session_days: int = 180


_RETENTION = RetentionSettings()


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    environment: Environment
    var_dir: Path
    timezone: str
    db: DatabaseSettings
    auth: AuthSettings
    data: DataSettings
    http: HttpSettings = HttpSettings()
    # Requests per window by limit name (core.rate_limits; FLEXREG_RATE_LIMITS); empty: no limits.
    rate_limits: Mapping[str, RateLimit] = DEFAULT_RATE_LIMITS
    ops: OpsSettings = OpsSettings()
    retention: RetentionSettings = RetentionSettings()
    # Where "now" comes from: the system clock in service, a FixedClock in tests (no test depends on the date).
    clock: Clock = SystemClock()

    def now(self) -> dt.datetime:
        """The current instant (UTC)."""
        return self.clock.now()

    def today(self) -> dt.date:
        """The date in the city's time zone."""
        return self.clock.now().astimezone(ZoneInfo(self.timezone)).date()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build the settings from the environment, generating development keys under var/ when missing."""
        env = dict(os.environ if environ is None else environ)
        environment = env.get("FLEXREG_ENV", "development")
        if environment not in ("development", "production"):
            raise ValueError(f"FLEXREG_ENV must be development or production, not {environment!r}")
        var_dir = Path(env.get("FLEXREG_VAR_DIR", "var")).resolve()
        return cls(
            environment=environment,  # type: ignore[arg-type]
            var_dir=var_dir,
            timezone=env.get("FLEXREG_TIMEZONE", "Asia/Shanghai"),
            db=DatabaseSettings(
                url=env.get("DATABASE_URL") or None,
                pool_size=int(env.get("FLEXREG_DB_POOL_SIZE", "20")),
            ),
            auth=AuthSettings(
                secret_key=_key(env, "FLEXREG_SECRET_KEY", var_dir, environment),
                token_ttl_seconds=_seconds(env, "FLEXREG_ACCESS_TOKEN_TTL", 900),
                refresh_ttl_seconds=_seconds(env, "FLEXREG_REFRESH_TOKEN_TTL", 30 * 86400),
                refresh_reuse_grace_seconds=_seconds(env, "FLEXREG_REFRESH_REUSE_GRACE_SECONDS", 30, allow_zero=True),
            ),
            data=DataSettings(data_key=_key(env, "FLEXREG_DATA_KEY", var_dir, environment)),
            http=HttpSettings(
                cors_origins=_origins(env.get("FLEXREG_CORS_ORIGINS", "")),
                public_url=_public_url(env.get("FLEXREG_PUBLIC_URL", "http://127.0.0.1:8000")),
                tile_url=_tile_url(env.get("FLEXREG_TILE_URL", "")),
                tile_attribution=env.get("FLEXREG_TILE_ATTRIBUTION", "").strip(),
                trusted_proxies=parse_trusted_proxies(env.get("FLEXREG_TRUSTED_PROXIES", "")),
                idempotency_lease_seconds=_positive(env, "FLEXREG_IDEMPOTENCY_LEASE_SECONDS", 60),
            ),
            rate_limits=parse_rate_limits(env.get("FLEXREG_RATE_LIMITS", "")),
            ops=OpsSettings(
                log_format=log_format_from_env(env),
                metrics_token=env.get("FLEXREG_METRICS_TOKEN", "").strip() or None,
                metrics_networks=parse_trusted_proxies(
                    env.get("FLEXREG_METRICS_NETWORKS", ""), name="FLEXREG_METRICS_NETWORKS"
                ),
                shutdown_timeout_seconds=int(env.get("FLEXREG_SHUTDOWN_TIMEOUT", "30")),
            ),
            retention=RetentionSettings(
                rejected_claim_days=_positive(
                    env, "FLEXREG_RETAIN_REJECTED_CLAIMS_DAYS", _RETENTION.rejected_claim_days
                ),
                unused_document_days=_positive(
                    env, "FLEXREG_RETAIN_UNUSED_DOCUMENTS_DAYS", _RETENTION.unused_document_days
                ),
                access_purpose_days=_positive(
                    env, "FLEXREG_RETAIN_ACCESS_PURPOSES_DAYS", _RETENTION.access_purpose_days
                ),
                login_failure_days=_positive(env, "FLEXREG_RETAIN_LOGIN_FAILURES_DAYS", _RETENTION.login_failure_days),
                session_days=_positive(env, "FLEXREG_RETAIN_SESSIONS_DAYS", _RETENTION.session_days),
            ),
        )


def log_format_from_env(environ: dict[str, str] | None = None) -> LogFormat:
    """FLEXREG_LOG_FORMAT (json or text); by default JSON in production and text in development.

    Apart from the settings because the CLI configures logging before it can build them (a production
    start without its keys must still say so in the deployment's format).
    """
    env = os.environ if environ is None else environ
    default = "json" if env.get("FLEXREG_ENV", "development") == "production" else "text"
    value = env.get("FLEXREG_LOG_FORMAT", "").strip().lower() or default
    if value not in ("json", "text"):
        raise ValueError(f"FLEXREG_LOG_FORMAT must be json or text, not {value!r}")
    return value  # type: ignore[return-value]


def _seconds(env: dict[str, str], name: str, default: int, *, allow_zero: bool = False) -> int:
    """A positive whole number of seconds (or zero, where zero turns something off)."""
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < (0 if allow_zero else 1):
        kind = "whole number" if allow_zero else "positive whole number"
        raise ValueError(f"{name}: {value!r} is not a {kind} of seconds")
    return int(value)


_ORIGIN = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


def _origins(value: str) -> tuple[str, ...]:
    """FLEXREG_CORS_ORIGINS: comma-separated origins (`https://console.example.cn`), or `*` for any."""
    origins = tuple(part.strip() for part in value.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"FLEXREG_CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port], no path), nor *"
            )
    return origins


_PUBLIC_URL = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def _public_url(value: str) -> str:
    """FLEXREG_PUBLIC_URL: an http(s) URL with an optional path prefix, no query or fragment; a trailing slash is
    dropped."""
    url = value.strip().rstrip("/")
    if not _PUBLIC_URL.fullmatch(url):
        raise ValueError(f"FLEXREG_PUBLIC_URL: {value!r} is not an http(s) URL (scheme://host[:port][/path])")
    return url


def _tile_url(value: str) -> str | None:
    """FLEXREG_TILE_URL: an http(s) tile template naming {z}, {x} and {y}, or empty for none."""
    url = value.strip()
    if not url:
        return None
    if not url.startswith(("https://", "http://")) or not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise ValueError(f"FLEXREG_TILE_URL: {value!r} is not an http(s) tile template with {{z}}, {{x}} and {{y}}")
    return url


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _key(env: dict[str, str], name: str, var_dir: Path, environment: str) -> bytes:
    """A secret from the environment (hex or text), or in development one generated once into var/."""
    value = env.get(name)
    if value:
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value.encode()
    if environment == "production":
        raise RuntimeError(f"{name} must be set in production")
    path = var_dir / name.lower()
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers starting together must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            logger.warning("%s is not set; generated a development key into %s", name, path)
    return bytes.fromhex(path.read_text().strip())
