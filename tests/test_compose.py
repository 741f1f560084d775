"""docker-compose.yml, checked without a Docker engine: its services, their order, health checks and commands
(each one the `flexreg` command line accepts), and the proxy's network as the app's trusted proxies."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.client_address import parse_trusted_proxies
from flexreg.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_the_services_and_their_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "app", "worker", "proxy"}
    assert services["db"]["image"] == "postgres:16"
    expected = {
        "migrate": {"db": "service_healthy"},
        "app": {"migrate": "service_completed_successfully"},
        "worker": {"migrate": "service_completed_successfully"},
        "proxy": {"app": "service_healthy"},
    }
    for name, needs in expected.items():
        assert {other: spec["condition"] for other, spec in services[name]["depends_on"].items()} == needs, name
    # Whatever another service waits on being healthy says how it is checked.
    for service in services.values():
        for other, spec in (service.get("depends_on") or {}).items():
            if spec["condition"] == "service_healthy":
                assert services[other]["healthcheck"]["test"], other
    assert services["migrate"]["restart"] == "no"


def test_every_command_is_one_the_cli_accepts(compose: dict[str, Any]) -> None:
    parser = build_parser()
    commands = {name: s["command"] for name, s in compose["services"].items() if s.get("command")}
    assert set(commands) == {"migrate", "app", "worker"}
    parsed = {}
    for name, command in commands.items():
        assert command[0] == "flexreg", name
        parsed[name] = parser.parse_args(command[1:])  # exits (fails the test) on an unknown command or option
    assert parsed["migrate"].command == "migrate"
    assert parsed["worker"].command == "worker"
    app = parsed["app"]
    assert (app.command, app.host, app.port) == ("serve", "0.0.0.0", 8000)
    assert app.workers > 1
    # The worker service runs the periodic jobs, the one-shot service the migrations: the replicas do neither.
    assert app.no_worker
    assert app.no_migrate


def test_the_app_is_checked_for_readiness_and_stops_gracefully(compose: dict[str, Any]) -> None:
    app = compose["services"]["app"]
    assert any("/ready" in part for part in app["healthcheck"]["test"])
    grace = int(app["stop_grace_period"].removesuffix("s"))
    assert grace > int(app["environment"]["FLEXREG_SHUTDOWN_TIMEOUT"])


def test_the_proxy_is_the_apps_only_trusted_proxy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    trusted = parse_trusted_proxies(services["app"]["environment"]["FLEXREG_TRUSTED_PROXIES"])
    proxy_address = ipaddress.ip_address(services["proxy"]["networks"]["edge"]["ipv4_address"])
    assert any(proxy_address in network for network in trusted)
    (edge,) = compose["networks"]["edge"]["ipam"]["config"]
    assert all(network.subnet_of(ipaddress.ip_network(edge["subnet"])) for network in trusted)
    # The backend network (the database, Prometheus) is not the proxy's: the proxy is on `edge` only.
    assert set(services["proxy"]["networks"]) == {"edge"}
    assert "edge" not in services["db"]["networks"]
    mounted = [volume.split(":")[0] for volume in services["proxy"]["volumes"]]
    conf = (ROOT / mounted[0]).read_text()
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in conf
    assert re.search(r"location = /metrics \{\s*return 404;", conf)


def test_every_setting_named_is_one_the_service_reads(compose: dict[str, Any]) -> None:
    settings_source = (ROOT / "src" / "core" / "settings.py").read_text()
    named = {
        key
        for service in compose["services"].values()
        for key in (service.get("environment") or {})
        if key.startswith("FLEXREG_")
    }
    assert named
    assert {key for key in named if f'"{key}"' not in settings_source} == set()
