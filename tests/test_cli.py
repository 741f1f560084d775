"""The flexreg command: migrate, demo (twice) and create-account on a database of its own; serve's start checks."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import pytest

from core.db import drop_database, recreate_database
from flexreg import cli, serving
from flexreg.cli import main
from flexreg.demo import STAFF

# Per process: suites run side by side on one server would otherwise drop each other's database.
NAME = f"flexreg_cli_check_{os.getpid()}"


@pytest.fixture
def cli_database(server_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[str]:
    url = asyncio.run(recreate_database(server_url, NAME))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FLEXREG_VAR_DIR", str(tmp_path))
    try:
        yield url
    finally:
        asyncio.run(drop_database(server_url, NAME))


async def _count(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


def test_cli_commands(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert main(["demo"]) == 0
    assert main(["demo"]) == 0
    accounts = asyncio.run(_count(cli_database, "SELECT count(*) FROM registry_account"))
    assert (
        main(
            [
                "create-account",
                "--role",
                "department",
                "--username",
                "rev_fire",
                "--password",
                "long enough",
                "--department",
                "fire_rescue",
            ]
        )
        == 0
    )
    assert asyncio.run(_count(cli_database, "SELECT count(*) FROM registry_account")) == accounts + 1
    assert (
        main(
            [
                "create-account",
                "--role",
                "street_office",
                "--username",
                "nowhere",
                "--password",
                "long enough",
                "--jurisdiction",
                "999999999999",
            ]
        )
        == 2
    )
    captured = capsys.readouterr()
    assert "created department account rev_fire" in captured.out
    assert "999999999999 does not exist" in captured.err
    assert "Traceback" not in captured.err


def test_create_account_keeps_the_apis_rules(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The password rule of POST /accounts, and no vendor account without its profile (vendors sign up)."""
    assert main(["migrate"]) == 0
    weak = ["create-account", "--role", "admin", "--username", "weak_admin", "--password", "abc"]
    assert main(weak) == 2
    assert "password: must be 8 to 128 characters long" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["create-account", "--role", "vendor", "--username", "orphan", "--password", "long enough"])
    assert refused.value.code == 2
    assert "invalid choice: 'vendor'" in capsys.readouterr().err
    spaced = ["create-account", "--role", "admin", "--username", "a b", "--password", "long enough"]
    assert main(spaced) == 2
    assert "username: may hold only ASCII letters" in capsys.readouterr().err
    long_name = ["create-account", "--role", "admin", "--username", "a" * 100, "--password", "long enough"]
    assert main(long_name) == 2
    assert "username: must be 3 to 64 characters long" in capsys.readouterr().err
    scoped_admin = [*weak[:-1], "long enough", "--jurisdiction", "110101001000"]
    assert main(scoped_admin) == 2
    assert "jurisdiction_code: is only for street_office accounts" in capsys.readouterr().err
    assert "Traceback" not in capsys.readouterr().err
    assert asyncio.run(_count(cli_database, "SELECT count(*) FROM registry_account")) == 0


@pytest.fixture(params=["plain", "reuseport"])
def taken_port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A port something listens on: a plain server, or one bound like granian binds (SO_REUSEPORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        if request.param == "reuseport":
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_serve_refuses_a_port_already_in_use(
    taken_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("serve went on although the port is taken")

    monkeypatch.setattr(cli, "_settings_with_database", must_not_run)
    monkeypatch.setattr(cli, "serve", must_not_run)
    assert main(["serve", "--host", "127.0.0.1", "--port", str(taken_port)]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1:{taken_port} is already in use" in err
    assert "Traceback" not in err


def test_port_check_passes_a_free_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serving.check_port_free("127.0.0.1", port)


def test_ready_block_ends_with_the_urls_and_the_demo_accounts() -> None:
    block = serving.ready_block(serving.base_url("0.0.0.0", 8000), demo=True)
    assert "API   http://127.0.0.1:8000/api/v1" in block
    assert "Docs  http://127.0.0.1:8000/schema" in block
    assert "Console http://127.0.0.1:8000/console" in block
    for username, password, *_ in STAFF:
        assert f"{username:20} {password}" in block
    assert block.index("Docs") < block.index("demo_admin")
    assert "demo_admin" not in serving.ready_block("http://127.0.0.1:8000", demo=False)


def test_ready_block_waits_for_the_service_to_answer() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert not serving.wait_until_answering(f"http://127.0.0.1:{free}", timeout=0.5)

    class OpenAPI(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/schema/openapi.json" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert serving.wait_until_answering(f"http://127.0.0.1:{server.server_port}", timeout=5)
    finally:
        server.shutdown()
        server.server_close()


def test_serve_names_an_address_it_cannot_listen_on(capsys: pytest.CaptureFixture[str]) -> None:
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine, so the bind itself fails.
    assert main(["serve", "--host", "192.0.2.1", "--port", "8000"]) == 1
    err = capsys.readouterr().err
    assert "cannot listen on 192.0.2.1:8000" in err
    assert "Traceback" not in err
