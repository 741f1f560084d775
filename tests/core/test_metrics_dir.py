"""Each `flexreg serve` gets its own multiprocess metrics directory; those of stopped servers go."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.metrics import MULTIPROC_ENV, prepare_multiprocess_dir


def _a_dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(child.stdout)


def _restored_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    # prepare_multiprocess_dir sets the variable; later tests' in-memory metrics must not see it
    monkeypatch.setenv(MULTIPROC_ENV, "")
    monkeypatch.delenv(MULTIPROC_ENV)


def test_a_running_servers_files_stay_and_a_stopped_ones_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _restored_afterwards(monkeypatch)
    running = tmp_path / str(os.getppid())  # pytest's parent: another server, as far as this test cares
    running.mkdir()
    (running / "counter_1.db").write_bytes(b"kept")
    stopped = tmp_path / str(_a_dead_pid())
    stopped.mkdir()
    (stopped / "counter_2.db").write_bytes(b"stale")
    (tmp_path / "counter_3.db").write_bytes(b"flat layout of an earlier version")

    path = prepare_multiprocess_dir(tmp_path)

    assert path == tmp_path / str(os.getpid())
    assert list(path.iterdir()) == []
    assert os.environ[MULTIPROC_ENV] == str(path)
    assert sorted(entry.name for entry in tmp_path.iterdir()) == sorted([running.name, path.name])
    assert (running / "counter_1.db").read_bytes() == b"kept"


def test_preparing_twice_in_one_process_starts_empty_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _restored_afterwards(monkeypatch)
    first = prepare_multiprocess_dir(tmp_path)
    (first / "counter_1.db").write_bytes(b"earlier run")

    again = prepare_multiprocess_dir(tmp_path)

    assert again == first
    assert list(again.iterdir()) == []
