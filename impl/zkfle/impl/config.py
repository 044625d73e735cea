"""zoo.cfg parsing as ZooKeeper 3.8 does it (`QuorumPeerConfig.parse` / `parseProperties`), without IO.

The caller reads the files; this module turns their text into a frozen `QuorumPeerConfig`:
* `parse_properties` is `java.util.Properties.load` (comments, continuations, escapes, separators).
  `QuorumPeerConfig.parse` loads the file through a `FileInputStream`, so Properties reads it as
  ISO-8859-1: decode file bytes with "latin-1" before calling it.
* `parse_server` is `QuorumPeer.QuorumServer(long, String)` for a `server.N` value.
* `parse_myid` is `QuorumPeerConfig.setupMyId` applied to the text of `dataDir/myid`.
* `parse_config` is `parseProperties` + `setupQuorumPeerConfig` (`parseDynamicConfig`,
  `createQuorumVerifier`, `setupPeerType`, `checkValidity`) for a static config (no `dynamicConfigFile`).
* `config_string` is `QuorumVerifier.toString()`, the config text sent in every 3.8 notification.

Refusals raise `ConfigError` carrying ZooKeeper's exact message. ZooKeeper throws some of them as
`IllegalArgumentException` (e.g. "dataDir is not set", "initLimit is not set", a `NumberFormatException`'s
`For input string: "x"`), which `QuorumPeerConfig.parse(path)` wraps as `ConfigException("Error processing
<path>")`; `ConfigError.message` is always the innermost text. When several entries are bad, ZooKeeper
reports the first one in its `Properties` hash order; we report the first in file order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zkfle.impl.core.javalang import HostPortError, host_and_port, java_split, parse_long
from zkfle.impl.core.quorum import ConfigError, QuorumHierarchical, QuorumMaj
from zkfle.spec.vocabulary import LearnerType

__all__ = [
    "ConfigError",
    "ElectionAddress",
    "QuorumPeerConfig",
    "QuorumServer",
    "config_string",
    "java_hashmap_order",
    "parse_config",
    "parse_myid",
    "parse_properties",
    "parse_server",
]

_WRONG_FORMAT = (
    " does not have the form server_config or server_config;client_config where server_config is the pipe"
    " separated list of host:port:port or host:port:port:type and client_config is port or host:port"
)
INT32_MAX = (1 << 31) - 1
INT64_MAX = (1 << 63) - 1


# --- java.util.Properties.load --------------------------------------------------------------------------

_PROPS_WHITESPACE = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _logical_lines(text: str) -> Iterable[str]:
    """`Properties.LineReader.readLine`: natural lines joined on an odd number of trailing backslashes;
    leading whitespace of every natural line is skipped, blank and comment (`#`, `!`) lines dropped."""
    pending: str | None = None
    for natural in re.split(r"\r\n|\r|\n", text):
        line = natural.lstrip(_PROPS_WHITESPACE)
        if pending is None:
            if not line or line[0] in "#!":
                continue
            pending = ""
        slashes = len(line) - len(line.rstrip("\\"))
        if slashes % 2 == 1:
            pending += line[:-1]
            continue
        yield pending + line
        pending = None
    if pending is not None:
        yield pending


def _unescape(raw: str) -> str:
    """`Properties.loadConvert`: `\\t \\n \\r \\f`, `\\uXXXX`, and `\\c` -> `c` for any other c."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        i += 1
        if ch != "\\" or i >= len(raw):
            out.append(ch)
            continue
        ch = raw[i]
        i += 1
        if ch == "u":
            digits = raw[i : i + 4]
            if len(digits) < 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ConfigError("Malformed \\uxxxx encoding.")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_ESCAPES.get(ch, ch))
    return "".join(out)


def parse_properties(text: str) -> dict[str, str]:
    """`java.util.Properties.load(Reader)`: key/value pairs in file order, a later key replacing an earlier.

    The key ends at the first unescaped `=`, `:` or whitespace; then whitespace, at most one `=`/`:`, and
    more whitespace are skipped; the rest (trailing whitespace included) is the value. A malformed
    `\\uxxxx` raises ConfigError("Malformed \\uxxxx encoding.") (Java: IllegalArgumentException).
    """
    result: dict[str, str] = {}
    for line in _logical_lines(text):
        i = 0
        n = len(line)
        while i < n:
            ch = line[i]
            if ch == "\\":
                i += 2
                continue
            if ch in "=:" or ch in _PROPS_WHITESPACE:
                break
            i += 1
        key_end = min(i, n)
        j = key_end
        while j < n and line[j] in _PROPS_WHITESPACE:
            j += 1
        if j < n and line[j] in "=:":
            j += 1
            while j < n and line[j] in _PROPS_WHITESPACE:
                j += 1
        result[_unescape(line[:key_end])] = _unescape(line[j:])
    return result


# --- Java number parsing and String.split ---------------------------------------------------------------


def _parse_java_int(text: str, *, bits: int = 32, radix: int = 10) -> int:
    """`Integer.parseInt` / `Long.parseLong`; failure -> `NumberFormatException` text as a ConfigError."""
    value = parse_long(text, bits=bits, radix=radix)
    if value is None:
        suffix = "" if radix == 10 else f" under radix {radix}"
        raise ConfigError(f'For input string: "{text}"{suffix}')
    return value


def _parse_java_long(text: str, *, radix: int = 10) -> int:
    return _parse_java_int(text, bits=64, radix=radix)


# --- server.N -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElectionAddress:
    """One `host:quorumPort:electionPort` of a server line (`MultipleAddresses` pair entries)."""

    host: str
    quorum_port: int
    election_port: int


@dataclass(frozen=True, slots=True)
class QuorumServer:
    """`QuorumPeer.QuorumServer`: a parsed `server.<sid>` line.

    `client_host`/`client_port` are set only when the line had a `;[host:]port` part
    (`isClientAddrFromStatic` false), which is also what makes `toString()` append it.
    """

    sid: int
    addresses: tuple[ElectionAddress, ...]
    role: LearnerType = LearnerType.PARTICIPANT
    client_host: str | None = None
    client_port: int | None = None

    def to_string(self) -> str:
        """`QuorumServer.toString()`: `host:port:port[|...]:participant|observer[;clientHost:port]`.

        Quorum and election addresses are sorted by host string separately and paired by position, as the
        Java code does; IPv6 hosts are bracketed (`delimitedHostString`).
        """
        by_quorum = sorted(self.addresses, key=lambda a: a.host)
        by_election = sorted(self.addresses, key=lambda a: a.host)
        text = "|".join(
            f"{_delimited(q.host)}:{q.quorum_port}:{e.election_port}"
            for q, e in zip(by_quorum, by_election, strict=True)
        )
        text += ":observer" if self.role is LearnerType.OBSERVER else ":participant"
        if self.client_host is not None and self.client_port is not None:
            text += f";{_delimited(self.client_host)}:{self.client_port}"
        return text


def _delimited(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _host_and_port(text: str) -> list[str]:
    """`ConfigUtils.getHostAndPort`, its errors as ConfigError."""
    try:
        return host_and_port(text)
    except HostPortError as exc:
        raise ConfigError(exc.message) from None


def _socket_port(host: str, port_text: str) -> int:
    """`new InetSocketAddress(host, Integer.parseInt(port))`: a bad number -> "Address unresolved: h:p";
    a number outside 0..65535 -> IllegalArgumentException "port out of range:N"."""
    try:
        port = _parse_java_int(port_text)
    except ConfigError:
        raise ConfigError(f"Address unresolved: {host}:{port_text}") from None
    if not 0 <= port <= 0xFFFF:
        raise ConfigError(f"port out of range:{port}")
    return port


def _learner_type(text: str) -> LearnerType:
    """`QuorumServer.getType`: trimmed, case-insensitive `observer` / `participant`."""
    match text.strip().lower():
        case "observer":
            return LearnerType.OBSERVER
        case "participant":
            return LearnerType.PARTICIPANT
        case _:
            raise ConfigError("Unrecognised peertype: " + text)


def parse_server(sid: int, value: str, *, multi_address_enabled: bool = False) -> QuorumServer:
    """`QuorumServer(long sid, String addressStr)`, with its checks in ZooKeeper's order.

    `multi_address_enabled` is the system property `zookeeper.multiAddress.enabled` (default false).
    """
    server_client = java_split(value, ";")
    server_parts = java_split(server_client[0], "|") if server_client else [""]
    client_host: str | None = None
    client_port: int | None = None
    if len(server_client) == 2:
        client = _host_and_port(server_client[1])
        if len(client) > 2:
            raise ConfigError(value + _WRONG_FORMAT)
        client_host = client[0] if len(client) == 2 else "0.0.0.0"
        client_port = _socket_port(client_host, client[-1])
    if not multi_address_enabled and len(server_parts) > 1:
        raise ConfigError(f"Multiple address feature is disabled, but multiple addresses were specified for sid {sid}")
    role: LearnerType | None = None
    addresses: list[ElectionAddress] = []
    for part in server_parts:
        fields = _host_and_port(part)
        if len(server_client) > 2 or not 3 <= len(fields) <= 4:
            raise ConfigError(value + _WRONG_FORMAT)
        quorum_port = _socket_port(fields[0], fields[1])
        election_port = _socket_port(fields[0], fields[2])
        if quorum_port == election_port:
            raise ConfigError(
                f"Client and election port must be different! Please update the configuration file on server.{sid}"
            )
        if len(fields) == 4:
            this_role = _learner_type(fields[3])
            if role is None:
                role = this_role
            if role is not this_role:
                raise ConfigError(
                    f"Multiple addresses should have similar roles: {LearnerType.PARTICIPANT.name} vs {this_role.name}"
                )
        addresses.append(ElectionAddress(fields[0], quorum_port, election_port))
    return QuorumServer(sid, tuple(addresses), role or LearnerType.PARTICIPANT, client_host, client_port)


# --- myid -----------------------------------------------------------------------------------------------


def parse_myid(text: str) -> int:
    """`QuorumPeerConfig.setupMyId`: `Long.parseLong` of the first line (`BufferedReader.readLine`, no trim).

    An empty file reads as null: "serverid null is not a number". Java: IllegalArgumentException.
    """
    first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0] if text else None
    try:
        return _parse_java_long(first if first is not None else "")
    except ConfigError:
        raise ConfigError(f"serverid {first if first is not None else 'null'} is not a number") from None


# --- java.util.HashMap iteration order ------------------------------------------------------------------


def _long_bucket_hash(key: int) -> int:
    """`Long.hashCode` then `HashMap.hash`'s spread (`h ^ (h >>> 16)`), as an unsigned 32-bit value."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    h = (unsigned ^ (unsigned >> 32)) & 0xFFFFFFFF
    return h ^ (h >> 16)


def java_hashmap_order(keys: Iterable[int]) -> list[int]:
    """The iteration order of a `HashMap<Long, ?>` after `put`ting `keys` in the given order.

    The table starts at 16 buckets and doubles whenever the size exceeds 3/4 of it; iteration walks the
    buckets in index order (`hash & (capacity - 1)`) and each bucket in insertion order (resizing keeps
    that relative order). For small non-negative ids this is ascending order. Not modelled: buckets that
    reach 8 entries (treeification, or the resize it forces below 64 buckets).
    """
    unique = list(dict.fromkeys(keys))
    capacity = 16
    while len(unique) > capacity * 3 // 4:
        capacity *= 2
    position = {key: index for index, key in enumerate(unique)}
    return sorted(unique, key=lambda k: (_long_bucket_hash(k) & (capacity - 1), position[k]))


# --- QuorumPeerConfig -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuorumPeerConfig:
    """What `QuorumPeerConfig` holds after `parse`, restricted to what start-up and election need.

    `servers` is sorted by sid. `server_id` is None when no myid text was given (standalone needs none).
    `peer_type` is the role after `setupPeerType` (the server list wins over `peerType=`).
    `tick_time_ms`, `init_limit` and `sync_limit` are 0 when unset, as in ZooKeeper.
    """

    servers: tuple[QuorumServer, ...]
    verifier: QuorumMaj | QuorumHierarchical
    server_id: int | None
    peer_type: LearnerType
    tick_time_ms: int
    init_limit: int
    sync_limit: int
    data_dir: str
    data_log_dir: str
    client_port: int
    election_alg: int
    standalone_enabled: bool
    reconfig_enabled: bool
    warnings: tuple[str, ...]

    def server(self, sid: int) -> QuorumServer | None:
        """`getView().get(sid)`."""
        return next((s for s in self.servers if s.sid == sid), None)

    def is_distributed(self) -> bool:
        """`QuorumPeerConfig.isDistributed`: not standalone-enabled, or more than one voting member."""
        return not self.standalone_enabled or len(self.verifier.voting_members()) > 1

    def config_string(self) -> str:
        """`QuorumVerifier.toString()` of this config (the bytes FLE puts in notifications, UTF-8)."""
        return config_string(self.servers, self.verifier)


def config_string(servers: Iterable[QuorumServer], verifier: QuorumMaj | QuorumHierarchical) -> str:
    """`QuorumMaj.toString()` / `QuorumHierarchical.toString()`.

    `server.<sid>=<QuorumServer.toString()>` lines in `allMembers` order (a `HashMap<Long, ...>`:
    ascending for ids below 16, see `java_hashmap_order`), for the hierarchical verifier then
    `group.<gid>=<sid>:<sid>...` and `weight.<sid>=<w>` lines (members in `serverGroup` order, groups and
    weights in their own maps' order), then `version=<hex>`, with no trailing newline. The corpus
    notifications for 3 servers carry exactly `server.1=...\\nserver.2=...\\nserver.3=...\\nversion=0`.
    """
    by_sid = {s.sid: s for s in servers}
    lines = [f"server.{sid}={by_sid[sid].to_string()}" for sid in java_hashmap_order(sorted(by_sid))]
    if isinstance(verifier, QuorumHierarchical):
        group_of = {sid: gid for gid, members in verifier.groups for sid in members}
        members_text: dict[int, str] = {}
        for sid in java_hashmap_order(sorted(group_of)):
            gid = group_of[sid]
            members_text[gid] = f"{members_text[gid]}:{sid}" if gid in members_text else str(sid)
        lines += [f"group.{gid}={members_text[gid]}" for gid in java_hashmap_order(members_text)]
        weights = dict(verifier.weights)
        lines += [f"weight.{sid}={weights[sid]}" for sid in java_hashmap_order(sorted(weights))]
    lines.append(f"version={verifier.version & 0xFFFFFFFFFFFFFFFF:x}")
    return "\n".join(lines)


def _java_boolean(key: str, value: str) -> bool:
    """`QuorumPeerConfig.parseBoolean`: exactly "true"/"false", case-insensitive."""
    match value.lower():
        case "true":
            return True
        case "false":
            return False
        case _:
            raise ConfigError(f"Invalid option {value} for {key}. Choose 'true' or 'false.'")


def _suffix_long(key: str) -> int:
    """`Long.parseLong(key.substring(key.indexOf('.') + 1))` (no dot: the whole key)."""
    return _parse_java_long(key[key.find(".") + 1 :])


def _create_verifier(props: Mapping[str, str], servers: list[QuorumServer]) -> QuorumMaj | QuorumHierarchical:
    """`QuorumPeerConfig.createQuorumVerifier`: hierarchical if any key starts with `group` or `weight`."""
    participants = frozenset(s.sid for s in servers if s.role is LearnerType.PARTICIPANT)
    observers = frozenset(s.sid for s in servers if s.role is LearnerType.OBSERVER)
    version = _parse_java_long(props["version"], radix=16) if "version" in props else 0
    keys = [key.strip() for key in props]
    if not any(k.startswith(("group", "weight")) for k in keys):
        return QuorumMaj(participants, observers, version)
    groups: dict[int, frozenset[int]] = {}
    seen: set[int] = set()
    weights: dict[int, int] = {}
    for key, value in props.items():
        if key.startswith("group"):
            members = [_parse_java_long(part) for part in java_split(value, ":")]
            for sid in members:
                if sid in seen:
                    raise ConfigError(f"Server {sid}is in multiple groups")
                seen.add(sid)
            groups[_suffix_long(key)] = frozenset(members)
        elif key.startswith("weight"):
            weights[_suffix_long(key)] = _parse_java_long(value)
    return QuorumHierarchical(groups, weights, participants, observers, version)


def parse_dynamic_config(
    props: Mapping[str, str], *, standalone_enabled: bool = True, multi_address_enabled: bool = False
) -> tuple[tuple[QuorumServer, ...], QuorumMaj | QuorumHierarchical, tuple[str, ...]]:
    """`QuorumPeerConfig.parseDynamicConfig`: the `server.N`, `group.G`, `weight.S` and `version` keys.

    Returns the servers (sorted by sid), the quorum verifier, and the warnings ZooKeeper logs.
    """
    warnings: list[str] = []
    servers = [
        parse_server(_suffix_long(k), v, multi_address_enabled=multi_address_enabled)
        for k, v in props.items()
        if k.startswith("server.")
    ]
    by_sid = {s.sid: s for s in servers}
    verifier = _create_verifier(props, list(by_sid.values()))
    voters = len(verifier.voting_members())
    observers = len(verifier.observing_members())
    if voters == 0:
        if not standalone_enabled:
            raise ConfigError("standaloneEnabled = false then number of participants should be >0")
        if observers > 0:
            raise ConfigError("Observers w/o participants is an invalid configuration")
    elif voters == 1 and standalone_enabled:
        warnings.append("Invalid configuration, only one server specified (ignoring)")
        if observers > 0:
            raise ConfigError("Observers w/o quorum is an invalid configuration")
    elif voters <= 2:
        warnings.append("No server failure will be tolerated. You need at least 3 servers.")
    elif voters % 2 == 0:
        warnings.append("Non-optimal configuration, consider an odd number of servers.")

    return tuple(by_sid[sid] for sid in sorted(by_sid)), verifier, tuple(warnings)


def parse_config(text: str, myid_text: str | None = None, *, multi_address_enabled: bool = False) -> QuorumPeerConfig:
    """`QuorumPeerConfig.parseProperties` + `setupQuorumPeerConfig` for a static zoo.cfg.

    `myid_text` is the content of `dataDir/myid`, or None when the file does not exist (setupMyId skips
    it then). Rules, in ZooKeeper's order: each key/value is trimmed; numbers via `Integer.parseInt`;
    `electionAlg` must be 3 ("Invalid electionAlg value. Only 3 is supported."); `peerType` must be
    observer/participant ("Unrecognised peertype: X"); `standaloneEnabled`/`reconfigEnabled` strict
    booleans; then "dataDir is not set", "tickTime is not set"; then `parseDynamicConfig` over the same
    properties (server lines untrimmed, `version` hex): 0 participants with `standaloneEnabled=false` ->
    "standaloneEnabled = false then number of participants should be >0", 0 participants with observers
    -> "Observers w/o participants is an invalid configuration", 1 participant and standalone enabled
    with observers -> "Observers w/o quorum is an invalid configuration"; then myid; then in
    distributed mode "initLimit is not set", "syncLimit is not set", "myid file is missing".
    Warnings ZooKeeper logs (and carries on) are returned in `warnings`, with its texts.
    Not modelled: `dynamicConfigFile` (refused), SASL/SSL/metrics keys (ignored, as unknown keys become
    system properties), the client-address consistency check of `setupClientPort`.
    """
    props = parse_properties(text)
    if "dynamicConfigFile" in props:
        raise ConfigError("zkfle: dynamicConfigFile is not supported")
    values = {key.strip(): value.strip() for key, value in props.items()}
    data_dir = values.get("dataDir")
    data_log_dir = values.get("dataLogDir")
    ints = {"clientPort": 0, "tickTime": 0, "initLimit": 0, "syncLimit": 0, "electionAlg": 3}
    peer_type = LearnerType.PARTICIPANT
    standalone_enabled = True
    reconfig_enabled = False
    warnings: list[str] = []
    for key, value in values.items():
        if key in ints:
            ints[key] = _parse_java_int(value)
            if key == "electionAlg" and ints[key] != 3:
                raise ConfigError("Invalid electionAlg value. Only 3 is supported.")
        elif key == "peerType":
            match value.lower():
                case "observer":
                    peer_type = LearnerType.OBSERVER
                case "participant":
                    peer_type = LearnerType.PARTICIPANT
                case _:
                    raise ConfigError("Unrecognised peertype: " + value)
        elif key == "standaloneEnabled":
            standalone_enabled = _java_boolean(key, value)
        elif key == "reconfigEnabled":
            reconfig_enabled = _java_boolean(key, value)
    if data_dir is None:
        raise ConfigError("dataDir is not set")
    if ints["tickTime"] == 0:
        raise ConfigError("tickTime is not set")

    servers, verifier, dynamic_warnings = parse_dynamic_config(
        props, standalone_enabled=standalone_enabled, multi_address_enabled=multi_address_enabled
    )
    warnings.extend(dynamic_warnings)

    server_id = parse_myid(myid_text) if myid_text is not None else None
    by_list = LearnerType.OBSERVER if server_id in verifier.observing_members() else LearnerType.PARTICIPANT
    if by_list is not peer_type:
        warnings.append(
            f"Peer type from servers list ({by_list.name}) doesn't match peerType ({peer_type.name}). "
            "Defaulting to servers list."
        )
        peer_type = by_list
    config = QuorumPeerConfig(
        servers=servers,
        verifier=verifier,
        server_id=server_id,
        peer_type=peer_type,
        tick_time_ms=ints["tickTime"],
        init_limit=ints["initLimit"],
        sync_limit=ints["syncLimit"],
        data_dir=data_dir,
        data_log_dir=data_log_dir if data_log_dir is not None else data_dir,
        client_port=ints["clientPort"],
        election_alg=ints["electionAlg"],
        standalone_enabled=standalone_enabled,
        reconfig_enabled=reconfig_enabled,
        warnings=tuple(warnings),
    )
    if config.is_distributed():
        if config.init_limit == 0:
            raise ConfigError("initLimit is not set")
        if config.sync_limit == 0:
            raise ConfigError("syncLimit is not set")
        if server_id is None:
            raise ConfigError("myid file is missing")
    return config
