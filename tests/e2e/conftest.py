"""Browser tests: Debian's chromium driven by Playwright against the real service on a real port.

The service runs the demo city, built at the fixed instant tests.clock.START in a database of its own, with its
clock standing there (tests/e2e/live_server.py). Playwright never downloads a browser: it drives
/usr/bin/chromium (FLEXREG_CHROMIUM elsewhere). Without that browser these tests are skipped, except where
FLEXREG_REQUIRE_BROWSER=1 (.ci/run sets it, after installing chromium and a CJK font), where that is a failure.
A failing test leaves a screenshot in test-artifacts/e2e/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from core.clock import FixedClock
from core.db import create_engine, create_sessionmaker, drop_database
from core.settings import Settings
from flexreg.demo import DemoCity, build_demo_city
from tests.clock import START
from tests.conftest import migrated_database

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("FLEXREG_CHROMIUM", "/usr/bin/chromium")
# As the machine's own probe starts it: no sandbox as root, and no background traffic to a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a loop of its own, whatever loop pytest-asyncio keeps for the session."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class LiveService:
    url: str
    city: DemoCity
    settings: Settings
    clock_file: Path

    def set_time(self, instant: dt.datetime) -> None:
        """Move the service's clock (it stands at tests.clock.START until a test does this)."""
        if instant.tzinfo is None:
            raise ValueError("an aware instant, please")
        self.clock_file.write_text(instant.isoformat())
        os.utime(self.clock_file, ns=(time.time_ns(), time.time_ns()))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the live server exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the live server never listened:\n{log.read_text()}")


@pytest.fixture(scope="session")
def chromium() -> str:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        message = f"no browser at {CHROMIUM} (Debian: apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("FLEXREG_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def live_service(server_url: str, chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    name = f"flexreg_e2e_{os.getpid()}"
    url = _run(migrated_database(server_url, name))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FLEXREG_VAR_DIR": str(tmp_path_factory.mktemp("e2e-var")),
        "FLEXREG_SECRET_KEY": "e2e-secret-key-" * 3,
        "FLEXREG_DATA_KEY": "e2e-data-key-00" * 3,
        "FLEXREG_PUBLIC_URL": base,
        "FLEXREG_DB_POOL_SIZE": "5",
        # Every test signs in from 127.0.0.1 (tests/core/test_rate_limits.py covers the limits).
        "FLEXREG_RATE_LIMITS": "off",
    }
    settings = msgspec.structs.replace(Settings.from_env(env), clock=FixedClock(START))

    async def build() -> DemoCity:
        engine = create_engine(settings)
        try:
            return await build_demo_city(create_sessionmaker(engine), settings)
        finally:
            await engine.dispose()

    city = _run(build())
    log = tmp_path_factory.mktemp("e2e-log") / "server.log"
    clock_file = log.with_name("clock")
    clock_file.write_text(START.isoformat())
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.live_server", "--port", str(port), "--clock-file", str(clock_file)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(port, server, log)
        yield LiveService(url=base, city=city, settings=settings, clock_file=clock_file)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        _run(drop_database(server_url, name))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def context(browser: Browser, live_service: LiveService) -> Iterator[BrowserContext]:
    live_service.set_time(START)
    context = browser.new_context(base_url=live_service.url, locale="zh-CN", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = context.new_page()
    yield page
    if request.node.stash.get(_FAILED, False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
        page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)


def screenshot_for_readme(page: Page, name: str) -> None:
    """Keep a screenshot the README shows (docs/screenshots/), taken by the test that proves the page works."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/console")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console")
