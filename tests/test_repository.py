"""The repository names no path of a developer's machine: what is committed must make sense on any clone."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT

# Home and work folders of the machines this is developed on (Linux, macOS, Windows).
# Written in pieces so that this file does not match itself.
_HOMES = "|".join(["wo" + "rk", "ro" + "ot", "ho" + "me", "Us" + "ers"])
MACHINE_PATH = re.compile(rf"(?<![\w.~-])/(?:{_HOMES})/|[A-Za-z]:\\(?:{_HOMES})\\", re.IGNORECASE)


def tracked_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_no_tracked_file_names_a_developer_machine_path() -> None:
    offenders = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        offenders += [f"{name}: {match.group(0)}" for match in MACHINE_PATH.finditer(text)]
    assert not offenders, offenders


@pytest.mark.parametrize(
    "text",
    ["Source: /" + "work/shared/DOMAIN.md", "see /" + "home/li/flexreg", "C:\\" + "Users\\li\\flexreg", "/" + "root/x"],
)
def test_the_check_recognises_machine_paths(text: str) -> None:
    assert MACHINE_PATH.search(text)


@pytest.mark.parametrize("text", ["../shared/DOMAIN.md", "./var/pgdata", "/api/v1/vendors", "~/work/"])
def test_the_check_leaves_repository_paths_alone(text: str) -> None:
    assert not MACHINE_PATH.search(text)
