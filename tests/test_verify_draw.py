"""`flexreg verify-draw`: recomputes a draw from its public results alone, and names what a tampered one broke."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest

from flexreg import verify_draw
from flexreg.cli import main
from flexreg.verify_draw import verify
from venues.draw import Application, draw

VECTOR_PATH = Path(__file__).resolve().parent / "venues" / "draw_vector.json"


def vector_results() -> dict[str, Any]:
    results: dict[str, Any] = json.loads(VECTOR_PATH.read_text(encoding="utf-8"))["results"]
    return results


def names(results: dict[str, Any]) -> list[str]:
    return [mismatch.what for mismatch in verify(results).mismatches]


def test_verify_draw_accepts_the_documented_vector() -> None:
    verdict = verify(vector_results())
    assert verdict.mismatches == []
    assert verdict.matches


def test_verify_draw_does_not_import_the_draw_code() -> None:
    tree = ast.parse(Path(verify_draw.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name == "venues" or name.startswith("venues.") for name in imported), imported


@pytest.mark.parametrize("beacon", [None, "", "上证指数 3287.41"])
def test_verify_draw_accepts_real_draws_with_and_without_beacon(beacon: str | None) -> None:
    pitches = [f"p{i}" for i in range(40)]
    applications = [
        Application(
            applicant_ref=f"ref-{i:03d}", tier=1 + i % 3, choices=tuple(pitches[(i * 7 + j) % 40] for j in range(5))
        )
        for i in range(120)
    ]
    result = draw(
        round_id="round-x", seed=b"\x01" * 32, beacon_value=beacon, pitch_ids=pitches, applications=applications
    )
    results = json.loads(msgspec.json.encode(result))
    assert verify(results).mismatches == []
    assert len(results["waiting_list"]) == 80


def test_verify_draw_rejects_swapped_assignments() -> None:
    results = vector_results()
    first, second = results["assignments"][0], results["assignments"][1]
    first["pitch_id"], second["pitch_id"] = second["pitch_id"], first["pitch_id"]
    assert names(results) == ["assignments"]
    assert "entry 1" in str(verify(results).mismatches[0])


def test_verify_draw_rejects_an_altered_key() -> None:
    results = vector_results()
    entry = results["order"][2]
    entry["lottery_key"] = "00" * 32
    assert names(results) == [f"lottery_key[{entry['applicant_ref']}]"]


def test_verify_draw_rejects_a_changed_seed() -> None:
    results = vector_results()
    results["seed"] = "00" + results["seed"][2:]
    found = names(results)
    assert found[0] == "seed_commitment"
    assert all(what.startswith("lottery_key[") for what in found[1:8])
    assert len([what for what in found if what.startswith("lottery_key[")]) == len(results["order"])


def test_verify_draw_rejects_a_changed_seed_with_a_matching_commitment() -> None:
    """Re-committing to another seed still breaks every published key (and the published commitment moves)."""
    results = vector_results()
    results["seed"] = "11" * 32
    results["seed_commitment"] = hashlib.sha256(bytes.fromhex(results["seed"])).hexdigest()
    found = names(results)
    assert "seed_commitment" not in found
    assert any(what.startswith("lottery_key[") for what in found)


def test_verify_draw_detects_a_commitment_mismatch() -> None:
    results = vector_results()
    results["seed_commitment"] = hashlib.sha256(results["seed"].encode()).hexdigest()  # of the hex text: wrong
    assert names(results) == ["seed_commitment"]


def test_verify_draw_rejects_an_edited_choice() -> None:
    results = vector_results()
    entry = results["order"][0]
    entry["choices"] = ["pitch-C1", *entry["choices"]]
    found = names(results)
    assert found[0] == "applications_digest"
    assert "assignments" in found


def test_verify_draw_rejects_a_reordered_draw() -> None:
    results = vector_results()
    results["order"][0], results["order"][1] = results["order"][1], results["order"][0]
    assert names(results) == ["order"]


def test_verify_draw_rejects_a_promoted_tier() -> None:
    results = vector_results()
    results["order"][-1]["tier"] = 1
    found = names(results)
    assert found[:2] == ["applications_digest", "order"]


def test_verify_draw_rejects_a_shortened_waiting_list() -> None:
    results = vector_results()
    results["waiting_list"] = results["waiting_list"][:1]
    assert names(results) == ["waiting_list"]


def test_verify_draw_rejects_a_dropped_beacon() -> None:
    results = vector_results()
    del results["beacon_value"]
    assert all(what.startswith("lottery_key[") for what in names(results)[:7])


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda r: r.update(algorithm="flexreg-draw-v0"), "algorithm"),
        (lambda r: r.pop("seed"), "seed"),
        (lambda r: r.update(seed="abc"), "seed"),
        (lambda r: r.update(pitch_ids="pitch-A1"), "pitch_ids"),
        (lambda r: r.update(order={}), "order"),
        (lambda r: r["order"][0].update(tier="1"), "order[0].tier"),
        (lambda r: r["order"][0].pop("choices"), "order[0].choices"),
        (lambda r: r.update(assignments=None), "assignments"),
    ],
)
def test_verify_draw_names_malformed_fields(edit: Any, what: str) -> None:
    results = copy.deepcopy(vector_results())
    edit(results)
    assert what in names(results)


def test_verify_draw_cli_accepts_the_results_block_copied_from_the_doc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = (VECTOR_PATH.parents[2] / "docs" / "draw.md").read_text(encoding="utf-8")
    last_block = re.findall(r"```json\n(.*?\n)```", doc, flags=re.DOTALL)[-1]
    copied = tmp_path / "copied.json"
    copied.write_text(last_block, encoding="utf-8")
    assert main(["verify-draw", str(copied)]) == 0
    assert "the draw matches" in capsys.readouterr().out


def test_verify_draw_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "results.json"
    good.write_text(json.dumps(vector_results(), ensure_ascii=False), encoding="utf-8")
    assert main(["verify-draw", str(good)]) == 0
    assert "matches" in capsys.readouterr().out

    tampered = vector_results()
    tampered["waiting_list"].reverse()
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered), encoding="utf-8")
    assert main(["verify-draw", str(bad)]) == 1
    assert "mismatch waiting_list" in capsys.readouterr().out

    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main(["verify-draw", str(broken)]) == 2
    assert main(["verify-draw", str(tmp_path / "missing.json")]) == 2
    array = tmp_path / "array.json"
    array.write_text("[]", encoding="utf-8")
    assert main(["verify-draw", str(array)]) == 2
    assert "verify-draw" in capsys.readouterr().err


@pytest.fixture
def results_server() -> Iterator[str]:
    body = json.dumps(vector_results()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/api/v1/allocation-rounds/r1/results":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_verify_draw_cli_reads_a_url(results_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-draw", f"{results_server}/api/v1/allocation-rounds/r1/results"]) == 0
    assert "the draw matches" in capsys.readouterr().out
    assert main(["verify-draw", f"{results_server}/api/v1/allocation-rounds/r2/results"]) == 2
    assert "cannot read" in capsys.readouterr().err
