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


def test_the_3_8_0_set_is_the_fixes_after_3_8_0_and_the_unmerged_1653() -> None:
    assert {b.value for b in ZOOKEEPER_3_8_0} == {"ZK_1653", "ZK_4394", "ZK_4643", "ZK_4646", "ZK_4685", "ZK_4712"}


def test_jira_numbers_are_accepted() -> None:
    assert parse_bugs(["4643", "ZOOKEEPER-1191"]) == {Bug.ZK_4643, Bug.ZK_1191}


def test_every_entry_is_documented() -> None:
    for bug in Bug:
        info = bug.info
        assert info.jira.startswith("ZOOKEEPER-") and bug.value.removeprefix("ZK_") in info.jira
        assert info.scenario and info.fix and info.where


def test_a_switch_brings_the_switches_its_code_lacked() -> None:
    # the code before ZOOKEEPER-4269's fix (3.5-3.7) had no updatingEpoch marker either (ZOOKEEPER-1653)
    assert parse_bugs(["ZK_4269"]) == {Bug.ZK_4269, Bug.ZK_1653}
    assert all(parse_bugs([b.value]) >= {b, *b.info.requires} for b in Bug)
