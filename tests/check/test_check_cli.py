"""`zkfle check` end to end: exit codes, the JSON of cli.md, JUnit, text, --jobs, globs, --graph, bad input."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from zkfle.checker.cli import main
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant
from zkfle.spec.zxid import Epoch, ServerId, Zxid

TRACES = Path(__file__).resolve().parent.parent.parent / "traces" / "invariants"
OK = TRACES / "MSG_INTEGRITY" / "ok-fifo.ndjson"
BAD = TRACES / "MSG_INTEGRITY" / "bad-out-of-order.ndjson"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_codes_and_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(OK), "--format", "json")
    assert code == 0
    (entry,) = json.loads(out)["traces"]
    assert entry == {"path": str(OK), "events": 8, "ok": True, "violations": [], "errors": []}
    code, out, _ = _run(capsys, str(BAD), str(OK), "--format", "json")
    assert code == 1
    bad, ok = json.loads(out)["traces"]
    assert (bad["path"], ok["path"]) == (str(BAD), str(OK))
    (violation,) = bad["violations"]
    assert set(violation) == {"invariant", "seq", "sid", "message", "witness", "minimal_witness"}
    assert (violation["invariant"], violation["seq"], violation["sid"]) == ("MSG_INTEGRITY", 8, 1)
    assert violation["witness"] == [5, 6, 8]  # both sends, and the late recv


def test_bad_input_is_exit_2_with_line_and_column(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "bad.ndjson"
    lines = OK.read_text().splitlines()
    trace.write_text("\n".join([*lines[:3], lines[3][:-1] + ",}", *lines[4:]]) + "\n")
    code, out, err = _run(capsys, str(trace), str(OK), "--format", "json")
    assert code == 2 and "Traceback" not in err
    first, second = json.loads(out)["traces"]
    (error,) = first["errors"]
    assert error["line"] == 4 and error["column"] > 1 and "JSON" in error["message"]
    assert first["ok"] is False and second["ok"] is True
    code, out, _ = _run(capsys, str(tmp_path / "missing.ndjson"))
    assert code == 2 and "cannot read" in out


def test_unknown_kind_needs_skip_unknown(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "extra.ndjson"
    trace.write_text(OK.read_text() + '{"seq": 9, "t": 9.0, "sid": 1, "ev": "gc_pause"}\n')
    assert _run(capsys, str(trace))[0] == 2
    code, out, _ = _run(capsys, str(trace), "--skip-unknown")
    assert code == 0 and "OK, 8 events" in out


def test_gzip_and_globs_and_jobs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "a.ndjson.gz").write_bytes(gzip.compress(BAD.read_bytes()))
    (tmp_path / "b.ndjson").write_bytes(OK.read_bytes())
    code, serial, _ = _run(capsys, str(tmp_path / "*.ndjson*"), "--format", "json")
    assert code == 1
    assert [t["ok"] for t in json.loads(serial)["traces"]] == [False, True]
    code, parallel, _ = _run(capsys, str(tmp_path / "*.ndjson*"), "--format", "json", "--jobs", "2")
    assert code == 1 and parallel == serial
    code, _, err = _run(capsys, str(tmp_path / "nothing-*.ndjson"))
    assert code == 2 and "no trace matches" in err


def test_junit_has_one_case_per_invariant(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(BAD), str(OK), "--format", "junit")
    assert code == 1
    suites = ET.fromstring(out)
    bad, ok = suites.findall("testsuite")
    assert [c.get("name") for c in bad.findall("testcase")] == [i.value for i in Invariant]
    assert (bad.get("failures"), ok.get("failures"), ok.get("tests")) == ("1", "0", str(len(Invariant)))
    failed = [c.get("name") for c in bad.findall("testcase") if c.find("failure") is not None]
    assert failed == ["MSG_INTEGRITY"]


def test_text_report_explains_and_reproduces(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = BAD.read_text().splitlines()
    header = json.loads(lines[0])
    header["meta"]["cmd"] = "zkfle simulate --seed 7"
    trace = tmp_path / "t.ndjson"
    trace.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    code, out, _ = _run(capsys, str(trace))
    assert code == 1
    assert Invariant.MSG_INTEGRITY.holds_when in out
    assert "broke at seq 8 on server 1" in out and "before: server 1:" in out
    assert "reproduce: zkfle simulate --seed 7" in out
    assert '* {"ev":"recv","seq":8' in out


def test_graph_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, ensemble: ModuleType) -> None:
    state = tmp_path / "state.dot"
    assert _run(capsys, str(OK), "--graph", str(state))[0] == 0
    text = state.read_text()
    assert text.startswith('digraph "zkfle state machine"') and '"DOWN" -> "STARTING" [label="boot x2"];' in text
    hb = tmp_path / "hb.dot"
    assert _run(capsys, str(BAD), "--graph", str(hb), "--graph-kind", "happens-before")[0] == 1
    assert '"5" -> "8" [style=dashed];' in hb.read_text()
    ens = ensemble.standard_run(3)
    good = tmp_path / "run.ndjson"
    good.write_bytes(ensemble.encode(ens.header, ens.events))
    assert _run(capsys, str(good), "--graph", str(hb), "--graph-kind", "happens-before")[0] == 0
    assert hb.read_text().count("->") > len(ens.events) // 2


def test_jobs_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, str(OK), "--jobs", "0")
    assert code == 2 and "--jobs" in err


def test_header_disks_reach_the_checker(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one = ServerId(1)
    header = tr.TraceHeader(
        zkfle_trace=1,
        servers=[tr.ServerEntry(one, "participant")],
        quorum=tr.MajorityQuorum(),
        source="test",
        seed=None,
        meta={},
        disks={
            one: tr.DiskState(zxid=Zxid(5), current_epoch=Epoch(0), accepted_epoch=Epoch(0), current_epoch_tmp=None)
        },
    )
    events: list[tr.Event] = [
        tr.Boot(seq=1, t=0.0, sid=one),
        tr.Recovered(seq=2, t=0.0, sid=one, zxid=Zxid(0), current_epoch=Epoch(0), accepted_epoch=Epoch(0)),
    ]
    trace = tmp_path / "d.ndjson"
    trace.write_bytes(tr.encode_header(header) + b"".join(tr.encode_event(e) for e in events))
    code, out, _ = _run(capsys, str(trace), "--format", "json")
    assert code == 1
    assert [v["invariant"] for v in json.loads(out)["traces"][0]["violations"]] == ["RECOVERY_FAITHFUL"]


def test_a_header_zookeeper_would_reject_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = OK.read_text().splitlines()
    header = json.loads(lines[0])
    header["quorum"] = {"kind": "hierarchical", "groups": {"1": [1, 2]}, "weights": {}}
    trace = tmp_path / "h.ndjson"
    trace.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    code, out, err = _run(capsys, str(trace), "--format", "json")
    assert code == 2 and "Traceback" not in err
    (error,) = json.loads(out)["traces"][0]["errors"]
    assert error == {"line": 1, "column": 1, "message": "header: participant 3 is in no group"}


def test_a_hierarchical_header_is_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = TRACES.joinpath("DECISION_QUORUM", "ok-cold-start.ndjson").read_text().splitlines()
    header = json.loads(lines[0])
    header["quorum"] = {"kind": "hierarchical", "groups": {"1": [1, 2], "2": [3]}, "weights": {"3": 0}}
    trace = tmp_path / "h.ndjson"
    trace.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    # ... but server 3 weighs 0, and totalOrderPredicate never prefers a zero-weight leader (ZOOKEEPER-491):
    # server 1's switch to server 3 (seq 27) does not follow from the rules any more
    code, out, _ = _run(capsys, str(trace), "--format", "json")
    (result,) = json.loads(out)["traces"]
    assert code == 1 and result["errors"] == []
    assert {v["invariant"] for v in result["violations"]} == {"FLE_CONFORMS"}
    assert result["violations"][0]["seq"] == 27


def test_reports_are_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    bad = sorted(str(p) for p in TRACES.glob("*/bad-*.ndjson"))
    for fmt in ("text", "json", "junit"):
        first = _run(capsys, *bad, "--format", fmt)
        assert first[0] == 1
        assert _run(capsys, *bad, "--format", fmt) == first
