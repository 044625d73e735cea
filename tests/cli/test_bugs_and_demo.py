"""`zkfle bugs` lists the catalog; docs/bugs.md's table is the catalog; `zkfle demo` runs the main job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkfle.checker.cli import main
from zkfle.impl.bugs import CATALOG, ZOOKEEPER_3_8_0

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bugs.md"


def test_bugs_json_is_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bugs", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)["bugs"]
    assert [e["id"] for e in entries] == [b.value for b in CATALOG]
    assert {e["id"] for e in entries if e["in_3_8_0"]} == {b.value for b in ZOOKEEPER_3_8_0}
    assert {e["id"]: e["requires"] for e in entries if e["requires"]} == {"ZK_4269": ["ZK_1653"]}
    assert all(e["invariant"] == CATALOG[b].invariant.value for e, b in zip(entries, CATALOG, strict=True))


def test_bugs_text_names_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bugs"]) == 0
    out = capsys.readouterr().out
    assert all(f"{b.value} " in out and info.jira in out for b, info in CATALOG.items())


def test_the_docs_table_is_the_catalog() -> None:
    rows = [line for line in DOCS.read_text(encoding="utf-8").splitlines() if line.startswith("| `ZK_")]
    expected = [
        f"| `{b.value}` | {i.jira} | {'yes' if i.in_3_8_0 else 'no'} | `{i.invariant.value}` | `{i.where}` |"
        for b, i in CATALOG.items()
    ]
    assert rows == expected


def test_demo_writes_trace_report_and_data_dirs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "invariants hold" in printed and "written to" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["traces"][0]["ok"] is True and report["traces"][0]["events"] > 1000
    assert (out / "report.txt").read_text().startswith(str(out / "trace.ndjson"))
    assert sorted(p.name for p in (out / "data").iterdir()) == ["zk1", "zk2", "zk3", "zk4", "zk5"]
    assert main(["datadir", str(out / "data" / "zk5")]) == 0  # the leader at the end would start
