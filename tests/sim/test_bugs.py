"""The switch catalog: names, the 3.8.0 set, and the error for unknown names."""

from __future__ import annotations

import pytest

from zkfle.impl.bugs import ZOOKEEPER_3_8_0, Bug, UnknownBugError, parse_bugs


def test_parse_bugs_accepts_names_case_insensitively() -> None:
    assert parse_bugs(["zk_4643", "ZK-4646"]) == {Bug.ZK_4643, Bug.ZK_4646}


def test_unknown_bug_lists_the_known_ones() -> None:
    with pytest.raises(UnknownBugError) as info:
        parse_bugs(["ZK_9999"])
    assert all(b.value in str(info.value) for b in Bug)


def test_the_3_8_0_set_is_the_four_fixes_after_3_8_0() -> None:
    assert {b.value for b in ZOOKEEPER_3_8_0} == {"ZK_4643", "ZK_4646", "ZK_4685", "ZK_4712"}
