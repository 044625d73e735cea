"""zoo.cfg parsing (QuorumPeerConfig.parse, QuorumPeer.QuorumServer, java.util.Properties) against the corpus
configs and ZooKeeper's ConfigException texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkfle.impl.config import (
    ConfigError,
    config_string,
    java_hashmap_order,
    parse_config,
    parse_myid,
    parse_properties,
    parse_server,
)
from zkfle.impl.core.quorum import QuorumHierarchical, QuorumMaj
from zkfle.spec.vocabulary import LearnerType

BASE = "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=/d\n"
SERVERS = "server.1=127.0.0.1:2881:3881\nserver.2=127.0.0.1:2882:3882\nserver.3=127.0.0.1:2883:3883\n"


def test_every_corpus_config_parses_and_matches_the_captured_config_bytes(corpus: Path) -> None:
    """The notification config bytes captured on the wire equal QuorumVerifier.toString() of the zoo.cfg."""
    for path in sorted(corpus.rglob("zoo*.cfg")):
        myid = path.stem.removeprefix("zoo") + "\n"
        config = parse_config(path.read_bytes().decode("latin-1"), myid)
        assert config.tick_time_ms == 200 and config.server_id == int(myid)
        assert isinstance(config.verifier, QuorumMaj)
        standalone = "standalone" in path.parent.name
        assert config.is_distributed() is not standalone
        assert len(config.verifier.voting_members()) == (0 if standalone else 3)
    for folder in ("wire/real_pcap", "wire"):
        notes = json.loads((corpus / folder / "notifications.json").read_text())
        captured = {n["decoded"]["config"] for n in notes if "config" in n["decoded"] and n["decoded"]["config"]}
        cfg = "wire/real_pcap/ensemble/zoo1.cfg" if folder == "wire/real_pcap" else "wire/ensemble/zoo1.cfg"
        ours = parse_config((corpus / cfg).read_text(encoding="latin-1"), "1").config_string()
        if folder == "wire":  # the spy's ensemble config names the spy as server 3 on other ports
            assert ours.split("\n")[:2] == next(iter(captured)).split("\n")[:2]
        else:
            assert captured == {ours}


def test_properties_syntax() -> None:
    """java.util.Properties.load: comments, separators, continuation, escapes, leading blanks."""
    text = "# c\n! c\n  a = 1 \nb:2\nc 3\nd=\\\n   4\ne=\\u0041\\t\\q\n\nf\n"
    assert parse_properties(text) == {"a": "1 ", "b": "2", "c": "3", "d": "4", "e": "A\tq", "f": ""}
    assert parse_properties("k=1\nk=2") == {"k": "2"}


def test_server_lines() -> None:
    s = parse_server(4, "h:1:2:observer;10.0.0.1:2181")
    assert (s.role, s.client_host, s.client_port) == (LearnerType.OBSERVER, "10.0.0.1", 2181)
    assert s.to_string() == "h:1:2:observer;10.0.0.1:2181"
    assert parse_server(1, "[::1]:1:2").to_string() == "[::1]:1:2:participant"
    assert parse_server(1, "h:1:2;3").client_host == "0.0.0.0"
    bad = {
        "h:1": "h:1 does not have the form server_config or server_config;client_config where server_config is"
        " the pipe separated list of host:port:port or host:port:port:type and client_config is port or host:port",
        "h:1:1": "Client and election port must be different! Please update the configuration file on server.7",
        "h:1:2:boss": "Unrecognised peertype: boss",
        "h:x:2": "Address unresolved: h:x",
        "h:1:2|h:3:4": "Multiple address feature is disabled, but multiple addresses were specified for sid 7",
    }
    for value, message in bad.items():
        with pytest.raises(ConfigError) as error:
            parse_server(7, value)
        assert error.value.message == message


def test_myid() -> None:
    assert parse_myid("3\n") == 3 and parse_myid("+3") == 3
    for text, shown in (("abc", "abc"), ("1 ", "1 "), ("", "null")):
        with pytest.raises(ConfigError, match=f"^serverid {shown} is not a number$"):
            parse_myid(text)


@pytest.mark.parametrize(
    ("text", "myid", "message"),
    [
        ("tickTime=200\n" + SERVERS, "1", "dataDir is not set"),
        ("dataDir=/d\n" + SERVERS, "1", "tickTime is not set"),
        ("tickTime=200\nsyncLimit=5\ndataDir=/d\n" + SERVERS, "1", "initLimit is not set"),
        ("tickTime=200\ninitLimit=5\ndataDir=/d\n" + SERVERS, "1", "syncLimit is not set"),
        (BASE + SERVERS, None, "myid file is missing"),
        (BASE + "electionAlg=1\n" + SERVERS, "1", "Invalid electionAlg value. Only 3 is supported."),
        (BASE + "peerType=boss\n" + SERVERS, "1", "Unrecognised peertype: boss"),
        (BASE + "server.1=h:1:2:observer\n", "1", "Observers w/o participants is an invalid configuration"),
        (BASE + "standaloneEnabled=false\n", "1", "standaloneEnabled = false then number of participants should be >0"),
        (BASE + "standaloneEnabled=yes\n", "1", "Invalid option yes for standaloneEnabled. Choose 'true' or 'false.'"),
        (BASE + "initLimit=x\n", "1", 'For input string: "x"'),
        (BASE + SERVERS + "group.1=1:2\n", "1", "Server 3is not in a group"),
        (BASE + SERVERS + "group.1=1:2:3\ngroup.2=3\n", "1", "Server 3is in multiple groups"),
    ],
)
def test_refusals(text: str, myid: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, myid)
    assert error.value.message == message


def test_hierarchical_config_and_string() -> None:
    config = parse_config(BASE + SERVERS + "group.1=1:2\ngroup.2=3\nweight.3=0\nversion=1a\n", "2")
    assert isinstance(config.verifier, QuorumHierarchical)
    assert config.verifier.version == 0x1A and config.verifier.num_groups == 1
    assert config.config_string().split("\n")[3:] == [
        "group.1=1:2",
        "group.2=3",
        "weight.1=1",
        "weight.2=1",
        "weight.3=0",
        "version=1a",
    ]


def test_peer_type_follows_the_server_list() -> None:
    config = parse_config(BASE + SERVERS + "server.4=h:1:2:observer\npeerType=participant\n", "4")
    assert config.peer_type is LearnerType.OBSERVER
    assert any("doesn't match peerType" in w for w in config.warnings)
    assert config.config_string().endswith("server.4=h:1:2:observer\nversion=0")


def test_hashmap_order() -> None:
    """HashMap<Long,...> iterates by bucket (hash & (capacity-1)): ascending for small ids only."""
    assert java_hashmap_order([3, 1, 2]) == [1, 2, 3]
    assert java_hashmap_order([1, 2, 17]) == [1, 17, 2]
    servers = [parse_server(sid, f"h:{sid}0:{sid}1") for sid in (1, 2, 17)]
    text = config_string(servers, QuorumMaj(frozenset({1, 2, 17})))
    assert [line.split("=")[0] for line in text.split("\n")] == ["server.1", "server.17", "server.2", "version"]
