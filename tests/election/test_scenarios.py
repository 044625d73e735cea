"""Election scenario files (tests/election/scenarios/*.txt), etcd raft `testdata` style.

Each file is a script for `zkfle.impl.drivers.election_net`; the text under every command is the output
it must produce. `ZKFLE_REWRITE=1 pytest tests/election` rewrites the expected output from the actual
one (review the diff before committing it).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from zkfle.impl.drivers.election_net import parse_script, rewrite_script, run_script

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.txt"))


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    text = path.read_text()
    header, _ = parse_script(text)
    assert re.search(r"ZOOKEEPER-\d+|[A-Z][A-Za-z]+Test|corpus|semantics\.md", " ".join(header)), (
        f"{path.name} must name the ZooKeeper test, JIRA or corpus run it comes from in its header"
    )
    if os.environ.get("ZKFLE_REWRITE") == "1":
        path.write_text(rewrite_script(text))
        return
    blocks, outputs = run_script(text)
    for block, actual in zip(blocks, outputs, strict=True):
        if actual != block.expected:
            diff = "\n".join(
                difflib.unified_diff(
                    block.expected.splitlines(), actual.splitlines(), "expected", "actual", lineterm=""
                )
            )
            pytest.fail(f"{path.name}:{block.line}: {block.command}\n{diff}")
