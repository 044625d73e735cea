"""ZooKeeper 3.8's in-memory tree (`server/DataTree.java`), enough to apply every txn type as
`DataTree.processTxn` does and to load and write snapshots (`DataTree.serialize/deserialize`).

Rules kept exactly (from DataTree.java, 3.8.0):

* createNode: the parent's cversion/pzxid change only if the new cversion (txn's parentCVersion, or
  current + 1 when it is -1) is greater than the current one; the ACL is counted in the cache before the
  NODEEXISTS check (so a failed create still adds a reference, as ZooKeeper does);
* deleteNode: the parent's pzxid becomes the zxid if larger, even when the child is missing (then
  NONODE); cversion is not changed by a delete;
* setData sets the version the txn carries; setACL sets aversion to the txn's version;
* a create (type create, not create2) failing with NODEEXISTS still raises the parent's
  cversion/pzxid (`setCversionPzxid`), the fuzzy-snapshot fix-up;
* closeSession deletes the txn's paths2Delete, then the session's remaining ephemerals;
* multi: if any op is an error, every op becomes an ErrorTxn (code 0 before the first error, -2
  RUNTIMEINCONSISTENCY after it) so nothing is applied; an undecodable op stops the multi where it is;
* errors inside one txn (NONODE, NODEEXISTS) are values (`ProcessTxnResult.err`), never raised;
* lastProcessedZxid only grows, and only after a whole txn (not per multi op);
* the tree digest (digest.py) follows every change, like NodeHashMapImpl.

Not modelled: quotas (`/zookeeper/quota` limit/stat nodes are plain nodes here: DataTree.updateQuotaStat
and setupQuota rewrite stat nodes, which only matters for snapshots of trees with quotas), watches.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from zkfle.impl.logline import Level, LogLine
from zkfle.impl.persistence.digest import DIGEST_VERSION, add_digest, node_digest, remove_digest
from zkfle.impl.persistence.javahash import (
    copy_capacity,
    grown_capacity,
    hash_order,
    long_hash,
    string_hash,
)
from zkfle.impl.persistence.records import (
    READ_ACL_UNSAFE,
    ACLList,
    CheckVersionTxn,
    CloseSessionTxn,
    CreateContainerTxn,
    CreateSessionTxn,
    CreateTTLTxn,
    CreateTxn,
    DeleteTxn,
    ErrorTxn,
    MultiTxn,
    OpCode,
    SetACLTxn,
    SetDataTxn,
    StatPersisted,
    Txn,
    TxnDecodeError,
    TxnDigest,
    TxnHeader,
    decode_sub_txn,
)
from zkfle.impl.persistence.snapshot import SnapshotContent, SnapshotError, SnapshotNode, ZxidDigest
from zkfle.spec.zxid import java_hex

OK = 0
NONODE = -101
NODEEXISTS = -110
RUNTIMEINCONSISTENCY = -2
"""`KeeperException.Code` values used by processTxn."""

OPEN_UNSAFE_ACL_ID = -1
"""`ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`: the key of a null ACL list (= world:anyone ALL)."""

CONTAINER_EPHEMERAL_OWNER = -(1 << 63)
"""`EphemeralType.CONTAINER_EPHEMERAL_OWNER` = Long.MIN_VALUE."""

_EXTENDED_MASK = -(1 << 56)  # 0xff00000000000000 as a Java long
_TTL_MAX = (1 << 40) - 1  # EphemeralType.TTL.maxValue(): ~(EXTENDED_MASK | RESERVED_BITS_MASK)
_RESERVED_BITS_MASK = 0x00FFFF0000000000

_CHILDREN_INITIAL_CAPACITY = 8
"""DataNode.addChild creates `new HashSet<String>(8)`."""


class KeeperError(Exception):
    """A KeeperException inside the tree (NONODE / NODEEXISTS); processTxn turns it into `err`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class ApplyError(Exception):
    """A RuntimeException ZooKeeper does not catch while applying a txn (e.g. a bad TTL): fatal."""


def ttl_ephemeral_owner(ttl: int) -> int:
    """`EphemeralType.TTL.toEphemeralOwner`: 0xff in the high byte, the TTL in the low 40 bits."""
    if ttl > _TTL_MAX or ttl <= 0:
        raise ApplyError(f"ttl must be positive and cannot be larger than: {_TTL_MAX}")
    return _EXTENDED_MASK | ttl


class EphemeralKind:
    """`EphemeralType.get` results (VOID, NORMAL, CONTAINER, TTL) as strings."""

    VOID = "VOID"
    NORMAL = "NORMAL"
    CONTAINER = "CONTAINER"
    TTL = "TTL"


def ephemeral_kind(owner: int, extended_types_enabled: bool) -> str:
    """`EphemeralType.get(ephemeralOwner)`; TTL only exists with `zookeeper.extendedTypesEnabled=true`."""
    if extended_types_enabled and (owner & _EXTENDED_MASK) == _EXTENDED_MASK:
        if (owner & _RESERVED_BITS_MASK) >> 40 != 0:
            raise ApplyError(f"Invalid ephemeralOwner. 0x[{java_hex(owner)}]")
        return EphemeralKind.TTL
    if owner == CONTAINER_EPHEMERAL_OWNER:
        return EphemeralKind.CONTAINER
    return EphemeralKind.VOID if owner == 0 else EphemeralKind.NORMAL


@dataclass(slots=True)
class DataNode:
    """`DataNode`: data, ACL key, stat, and the child names (insertion order + Java table capacity)."""

    data: bytes | None
    acl: int
    stat: StatPersisted
    children: dict[str, None] = field(default_factory=dict)
    child_capacity: int = 0

    def add_child(self, name: str) -> None:
        if name in self.children:
            return
        if self.child_capacity == 0:
            self.child_capacity = _CHILDREN_INITIAL_CAPACITY
        self.children[name] = None
        self.child_capacity = grown_capacity(self.child_capacity, len(self.children))

    def remove_child(self, name: str) -> None:
        self.children.pop(name, None)

    def children_in_java_order(self) -> list[str]:
        """The order `HashSet.toArray` gives, which is what DataTree.serializeNode writes."""
        if not self.children:
            return []
        return hash_order(self.children, string_hash, self.child_capacity)


class ACLCache:
    """`ReferenceCountedACLCache`: ACL lists interned as long keys with reference counts.

    `convertAcls(null)` is -1 (world:anyone ALL); any non-null list, even OPEN_ACL_UNSAFE, gets the next
    index. An entry is dropped when its count falls to 0. `capacity` tracks the Java HashMap table of
    `longKeyMap` so the serialized order is ZooKeeper's.
    """

    __slots__ = ("acl_index", "by_acl", "by_key", "capacity", "refs")

    def __init__(self) -> None:
        self.by_key: dict[int, ACLList] = {}
        self.by_acl: dict[ACLList, int] = {}
        self.refs: dict[int, int] = {}
        self.acl_index = 0
        self.capacity = 16

    def convert_acls(self, acl: ACLList | None) -> int:
        if acl is None:
            return OPEN_UNSAFE_ACL_ID
        key = self.by_acl.get(acl)
        if key is None:
            self.acl_index += 1
            key = self.acl_index
            self.by_key[key] = acl
            self.by_acl[acl] = key
            self.capacity = grown_capacity(self.capacity, len(self.by_key))
        self.add_usage(key)
        return key

    def add_usage(self, key: int) -> None:
        """Unknown keys are ignored (ZooKeeper logs INFO "Ignoring acl N as it does not exist in the cache")."""
        if key == OPEN_UNSAFE_ACL_ID or key not in self.by_key:
            return
        self.refs[key] = self.refs.get(key, 0) + 1

    def remove_usage(self, key: int) -> None:
        if key == OPEN_UNSAFE_ACL_ID or key not in self.by_key:
            return
        count = self.refs.get(key, 0) - 1
        if count <= 0:
            self.refs.pop(key, None)
            del self.by_acl[self.by_key.pop(key)]
        else:
            self.refs[key] = count

    def load(self, entries: tuple[tuple[int, ACLList], ...]) -> None:
        """`deserialize`: replaces the cache; aclIndex becomes the largest key; counts start at 0."""
        self.by_key.clear()
        self.by_acl.clear()
        self.refs.clear()
        for key, acl in entries:
            self.acl_index = max(self.acl_index, key)
            self.by_key[key] = acl
            self.by_acl[acl] = key
            self.refs[key] = 0
        self.capacity = grown_capacity(self.capacity, len(self.by_key))

    def purge_unused(self) -> None:
        for key in [k for k, count in self.refs.items() if count <= 0]:
            del self.refs[key]
            del self.by_acl[self.by_key.pop(key)]

    def serialized_order(self) -> list[int]:
        """Keys in the order of `new HashMap<>(longKeyMap)`, which serialize iterates."""
        source = hash_order(self.by_key, long_hash, self.capacity)
        return hash_order(source, long_hash, copy_capacity(len(source)))


@dataclass(frozen=True, slots=True)
class ProcessTxnResult:
    """The parts of `DataTree.ProcessTxnResult` restore looks at."""

    zxid: int
    type: int
    err: int
    path: str | None


def _with_child_change(s: StatPersisted, cversion: int, pzxid: int) -> StatPersisted:
    """`replace(s, cversion=..., pzxid=...)` spelled out: it runs for every create on every server."""
    return StatPersisted(s.czxid, s.mzxid, s.ctime, s.mtime, s.version, cversion, s.aversion, s.ephemeral_owner, pzxid)


class DataTree:
    """The tree, the ACL cache, ephemerals, sessions (ZKDatabase.sessionsWithTimeouts) and digests."""

    def __init__(self, extended_types_enabled: bool = False) -> None:
        self.extended_types_enabled = extended_types_enabled
        self.nodes: dict[str, DataNode] = {}
        self.acl_cache = ACLCache()
        self.ephemerals: dict[int, set[str]] = {}
        self.containers: set[str] = set()
        self.ttls: set[str] = set()
        self.sessions: dict[int, int] = {}
        self.session_capacity = 16
        self.last_processed_zxid = 0
        self.tree_digest = 0
        self.digest_from_loaded_snapshot: ZxidDigest | None = None
        self.last_processed_zxid_digest: ZxidDigest | None = None
        self.digest_mismatches: list[int] = []
        self.log: list[LogLine] = []
        self._first_mismatch = True
        self._put("", DataNode(b"", OPEN_UNSAFE_ACL_ID, StatPersisted()))
        self._put("/zookeeper", DataNode(b"", OPEN_UNSAFE_ACL_ID, StatPersisted()))
        self.nodes[""].add_child("zookeeper")
        self.nodes["/zookeeper"].add_child("quota")
        self._put("/zookeeper/quota", DataNode(b"", OPEN_UNSAFE_ACL_ID, StatPersisted()))
        # DataTree.addConfigNode
        self.nodes["/zookeeper"].add_child("config")
        self._put("/zookeeper/config", DataNode(b"", OPEN_UNSAFE_ACL_ID, StatPersisted()))
        self.set_acl("/zookeeper/config", READ_ACL_UNSAFE, -1)

    # -- the node map with its digest (NodeHashMapImpl) ------------------------------------------------

    @property
    def node_count(self) -> int:
        """`DataTree.getNodeCount`: ZooKeeper's map holds the root twice (as "" and as "/")."""
        return len(self.nodes) + 1

    def get(self, path: str) -> DataNode | None:
        """`nodes.get`: "/" is the root's alias."""
        return self.nodes.get("" if path == "/" else path)

    def _put(self, path: str, node: DataNode) -> None:
        old = self.nodes.get(path)
        self.nodes[path] = node
        self.tree_digest = add_digest(self.tree_digest, node_digest(path, node.data, node.stat))
        if old is not None:
            self.tree_digest = remove_digest(self.tree_digest, node_digest(path, old.data, old.stat))

    def _remove(self, path: str) -> None:
        old = self.nodes.pop(path)
        self.tree_digest = remove_digest(self.tree_digest, node_digest(path, old.data, old.stat))

    def _change(self, path: str, node: DataNode, data: bytes | None, stat: StatPersisted) -> None:
        """preChange + mutation + postChange."""
        self.tree_digest = remove_digest(self.tree_digest, node_digest(path, node.data, node.stat))
        node.data = data
        node.stat = stat
        self.tree_digest = add_digest(self.tree_digest, node_digest(path, data, stat))

    # -- DataTree operations -------------------------------------------------------------------------

    def create_node(  # noqa: PLR0917 - DataTree.createNode's own parameter list
        self,
        path: str,
        data: bytes | None,
        acl: ACLList | None,
        ephemeral_owner: int,
        parent_cversion: int,
        zxid: int,
        time: int,
    ) -> None:
        """`DataTree.createNode`; raises KeeperError(NONODE / NODEEXISTS)."""
        slash = path.rfind("/")
        parent_name, child_name = path[:slash], path[slash + 1 :]
        stat = StatPersisted(
            czxid=zxid, mzxid=zxid, ctime=time, mtime=time, ephemeral_owner=ephemeral_owner, pzxid=zxid
        )
        parent = self.get(parent_name)
        if parent is None:
            raise KeeperError(NONODE)
        key = self.acl_cache.convert_acls(acl)
        if child_name in parent.children:
            raise KeeperError(NODEEXISTS)
        if parent_cversion == -1:
            parent_cversion = parent.stat.cversion + 1
        pstat = parent.stat
        if parent_cversion > pstat.cversion:
            pstat = _with_child_change(pstat, parent_cversion, zxid)
        self._change(parent_name, parent, parent.data, pstat)
        parent.add_child(child_name)
        self._put(path, DataNode(data, key, stat))
        kind = ephemeral_kind(ephemeral_owner, self.extended_types_enabled)
        if kind == EphemeralKind.CONTAINER:
            self.containers.add(path)
        elif kind == EphemeralKind.TTL:
            self.ttls.add(path)
        elif ephemeral_owner != 0:
            self.ephemerals.setdefault(ephemeral_owner, set()).add(path)

    def delete_node(self, path: str, zxid: int) -> None:
        """`DataTree.deleteNode`; raises KeeperError(NONODE) after updating the parent's pzxid."""
        slash = path.rfind("/")
        parent_name, child_name = path[:slash], path[slash + 1 :]
        parent = self.get(parent_name)
        if parent is None:
            raise KeeperError(NONODE)
        parent.remove_child(child_name)
        pstat = parent.stat
        if zxid > pstat.pzxid:
            pstat = replace(pstat, pzxid=zxid)
        self._change(parent_name, parent, parent.data, pstat)
        node = self.get(path)
        if node is None:
            raise KeeperError(NONODE)
        self._remove("" if path == "/" else path)
        self.acl_cache.remove_usage(node.acl)
        owner = node.stat.ephemeral_owner
        kind = ephemeral_kind(owner, self.extended_types_enabled)
        if kind == EphemeralKind.CONTAINER:
            self.containers.discard(path)
        elif kind == EphemeralKind.TTL:
            self.ttls.discard(path)
        elif owner != 0 and owner in self.ephemerals:
            self.ephemerals[owner].discard(path)

    def set_data(self, path: str, data: bytes | None, version: int, zxid: int, time: int) -> None:
        """`DataTree.setData`: data, mtime, mzxid and the given version."""
        node = self.get(path)
        if node is None:
            raise KeeperError(NONODE)
        s = node.stat  # dataclasses.replace spelled out: it runs for every setData on every server
        stat = StatPersisted(s.czxid, zxid, s.ctime, time, version, s.cversion, s.aversion, s.ephemeral_owner, s.pzxid)
        self._change(path, node, data, stat)

    def set_acl(self, path: str, acl: ACLList | None, version: int) -> None:
        """`DataTree.setACL`: drop the old ACL's reference, set aversion, intern the new ACL."""
        node = self.get(path)
        if node is None:
            raise KeeperError(NONODE)
        self.acl_cache.remove_usage(node.acl)
        stat = replace(node.stat, aversion=version)
        self.tree_digest = remove_digest(self.tree_digest, node_digest(path, node.data, node.stat))
        node.stat = stat
        node.acl = self.acl_cache.convert_acls(acl)
        self.tree_digest = add_digest(self.tree_digest, node_digest(path, node.data, stat))

    def set_cversion_pzxid(self, path: str, new_cversion: int, zxid: int) -> None:
        """`DataTree.setCversionPzxid`: only raises cversion (-1 = current + 1); a trailing '/' is ignored."""
        if path.endswith("/"):
            path = path[:-1]
        node = self.get(path)
        if node is None:
            raise KeeperError(NONODE)
        if new_cversion == -1:
            new_cversion = node.stat.cversion + 1
        if new_cversion > node.stat.cversion:
            self._change(path, node, node.data, replace(node.stat, cversion=new_cversion, pzxid=zxid))

    def kill_session(self, session: int, zxid: int, paths_in_txn: tuple[str | None, ...] | None) -> None:
        """`DataTree.killSession`: the txn's paths first, then the session's other ephemerals."""
        local = self.ephemerals.pop(session, None)
        if paths_in_txn is not None:
            self._delete_nodes(session, zxid, paths_in_txn)
        if local is None:
            return
        if paths_in_txn is not None:
            for path in paths_in_txn:
                local.discard(path)
            if local:
                listed = ", ".join(sorted(local))
                self.log.append(
                    LogLine(
                        Level.WARN,
                        f"Unexpected extra paths under session [{listed}] which are not in txn 0x{java_hex(zxid)}",
                    )
                )
        self._delete_nodes(session, zxid, tuple(sorted(local)))

    def _delete_nodes(self, session: int, zxid: int, paths: tuple[str | None, ...]) -> None:
        for path in paths:
            if path is None:
                raise ApplyError("java.lang.NullPointerException (null path in closeSession txn)")
            try:
                self.delete_node(path, zxid)
            except KeeperError:
                self.log.append(
                    LogLine(
                        Level.WARN,
                        f"Ignoring NoNodeException for path {path} while removing ephemeral for dead session "
                        f"0x{java_hex(session)}",
                    )
                )

    # -- processTxn ----------------------------------------------------------------------------------

    def process_txn(self, header: TxnHeader, txn: Txn | None, is_sub_txn: bool = False) -> ProcessTxnResult:
        """`DataTree.processTxn(header, txn, isSubTxn)`."""
        err = OK
        path: str | None = None
        try:
            path, err = self._apply(header, txn)
        except KeeperError as exc:
            err = exc.code
            path = _txn_path(txn)
        except TxnDecodeError as exc:
            if exc.kind != "io":
                raise ApplyError(exc.message) from None
        if header.type == OpCode.CREATE and err == NODEEXISTS and isinstance(txn, CreateTxn):
            parent = txn.path[: txn.path.rfind("/")]
            try:
                self.set_cversion_pzxid(parent, txn.parent_cversion, header.zxid)
            except KeeperError as exc:
                self.log.append(LogLine(Level.ERROR, f"Failed to set parent cversion for: {parent}"))
                err = exc.code
        if not is_sub_txn:
            self.last_processed_zxid = max(self.last_processed_zxid, header.zxid)
            if self.digest_from_loaded_snapshot is not None:
                self.compare_snapshot_digests(header.zxid)
            else:
                self.last_processed_zxid_digest = ZxidDigest(header.zxid, DIGEST_VERSION, self.tree_digest)
        return ProcessTxnResult(header.zxid, header.type, err, path)

    def _apply(self, header: TxnHeader, txn: Txn | None) -> tuple[str | None, int]:
        owner = header.client_id
        match txn:
            case CreateTxn() if header.type in (OpCode.CREATE, OpCode.CREATE2):
                eph = owner if txn.ephemeral else 0
                self.create_node(txn.path, txn.data, txn.acl, eph, txn.parent_cversion, header.zxid, header.time)
                return txn.path, OK
            case CreateTTLTxn() if header.type == OpCode.CREATE_TTL:
                eph = ttl_ephemeral_owner(txn.ttl)
                self.create_node(txn.path, txn.data, txn.acl, eph, txn.parent_cversion, header.zxid, header.time)
                return txn.path, OK
            case CreateContainerTxn() if header.type == OpCode.CREATE_CONTAINER:
                eph = CONTAINER_EPHEMERAL_OWNER
                self.create_node(txn.path, txn.data, txn.acl, eph, txn.parent_cversion, header.zxid, header.time)
                return txn.path, OK
            case DeleteTxn() if header.type in (OpCode.DELETE, OpCode.DELETE_CONTAINER):
                self.delete_node(txn.path, header.zxid)
                return txn.path, OK
            case SetDataTxn() if header.type in (OpCode.SET_DATA, OpCode.RECONFIG):
                self.set_data(txn.path, txn.data, txn.version, header.zxid, header.time)
                return txn.path, OK
            case SetACLTxn() if header.type == OpCode.SET_ACL:
                self.set_acl(txn.path, txn.acl, txn.version)
                return txn.path, OK
            case CloseSessionTxn() if header.type == OpCode.CLOSE_SESSION:
                self.kill_session(owner, header.zxid, txn.paths_to_delete)
                return None, OK
            case None if header.type == OpCode.CLOSE_SESSION:
                self.kill_session(owner, header.zxid, None)
                return None, OK
            case ErrorTxn() if header.type == OpCode.ERROR:
                return None, txn.err
            case CheckVersionTxn() if header.type == OpCode.CHECK:
                return txn.path, OK
            case MultiTxn() if header.type == OpCode.MULTI:
                return None, self._apply_multi(header, txn)
            case CreateSessionTxn() if header.type == OpCode.CREATE_SESSION:
                return None, OK
            case _:
                raise AssertionError(f"txn body {txn!r} does not match header type {header.type}")

    def _apply_multi(self, header: TxnHeader, multi: MultiTxn) -> int:
        subs = multi.txns or ()
        failed = any(sub.type == OpCode.ERROR for sub in subs)
        post_failed = False
        err = OK
        for sub in subs:
            record = decode_sub_txn(sub)
            sub_type = sub.type
            if sub_type == OpCode.ERROR:
                post_failed = True
            if failed and sub_type != OpCode.ERROR:
                sub_type = OpCode.ERROR
                record = ErrorTxn(RUNTIMEINCONSISTENCY if post_failed else OK)
            sub_header = TxnHeader(header.client_id, header.cxid, header.zxid, header.time, sub_type)
            result = self.process_txn(sub_header, record, is_sub_txn=True)
            if result.err != OK and err == OK:
                err = result.err
        return err

    # -- digests -------------------------------------------------------------------------------------

    def _report_mismatch(self, zxid: int) -> None:
        """`reportDigestMismatch`: counted; RateLogger prints the first of a run at WARN."""
        if not self.digest_mismatches:
            self.log.append(LogLine(Level.WARN, f"Message:Digests are not matching. Value is Zxid. Value:{zxid}"))
        self.digest_mismatches.append(zxid)

    def compare_snapshot_digests(self, zxid: int) -> None:
        """`DataTree.compareSnapshotDigests`, called after each txn while the snapshot digest is pending."""
        target = self.digest_from_loaded_snapshot
        assert target is not None
        if zxid == target.zxid:
            if target.digest_version != DIGEST_VERSION:
                self.log.append(
                    LogLine(
                        Level.INFO,
                        f"Digest version changed, local: {target.digest_version}, new: {DIGEST_VERSION}, "
                        "skip comparing digest now.",
                    )
                )
            elif self.tree_digest != target.digest:
                self._report_mismatch(zxid)
            self.digest_from_loaded_snapshot = None

    def compare_digest(self, header: TxnHeader, digest: TxnDigest | None) -> bool:
        """`DataTree.compareDigest`: the log's digest against the tree after the txn (not while fuzzy)."""
        if digest is None or self.digest_from_loaded_snapshot is not None:
            return True
        if digest.version != DIGEST_VERSION:
            return True
        if digest.tree_digest != self.tree_digest:
            self._report_mismatch(header.zxid)
            if self._first_mismatch:
                self.log.append(
                    LogLine(
                        Level.ERROR,
                        f"First digest mismatch on txn: 0x{java_hex(header.zxid)} type {header.type}, "
                        f"expected digest is {digest.tree_digest}, actual digest is {self.tree_digest}, ",
                    )
                )
                self._first_mismatch = False
            return False
        return True

    # -- snapshots -----------------------------------------------------------------------------------

    def load_snapshot(self, content: SnapshotContent, snapshot_zxid: int) -> None:
        """`DataTree.deserialize` + `deserializeZxidDigest` (sessions are the caller's: FileSnap merges them).

        Raises SnapshotError("io", "Invalid Datatree, unable to find parent ...") like ZooKeeper.
        Ephemerals/containers/ttls are not cleared first, exactly as DataTree.deserialize does not.
        """
        self.acl_cache.load(content.acls)
        self.nodes.clear()
        self.tree_digest = 0
        for snap in content.nodes:
            node = DataNode(snap.data, snap.acl, snap.stat)
            self._put(snap.path, node)
            self.acl_cache.add_usage(snap.acl)
            slash = snap.path.rfind("/")
            if slash == -1:
                continue
            parent = self.nodes.get(snap.path[:slash])
            if parent is None:
                raise SnapshotError(
                    "io", f"Invalid Datatree, unable to find parent {snap.path[:slash]} of path {snap.path}"
                )
            parent.add_child(snap.path[slash + 1 :])
            owner = snap.stat.ephemeral_owner
            kind = ephemeral_kind(owner, self.extended_types_enabled)
            if kind == EphemeralKind.CONTAINER:
                self.containers.add(snap.path)
            elif kind == EphemeralKind.TTL:
                self.ttls.add(snap.path)
            elif owner != 0:
                self.ephemerals.setdefault(owner, set()).add(snap.path)
        self.acl_cache.purge_unused()
        self.digest_from_loaded_snapshot = None
        digest = content.digest
        if digest is None:
            return
        if digest.zxid > 0:
            self.log.append(
                LogLine(
                    Level.INFO,
                    f"The digest in the snapshot has digest version of {digest.digest_version}, with zxid as "
                    f"0x{java_hex(digest.zxid)}, and digest value as {digest.digest}",
                )
            )
            self.digest_from_loaded_snapshot = digest
        else:
            self.log.append(LogLine(Level.INFO, "The digest value is empty in snapshot"))
        if digest.zxid > 0 and digest.zxid < snapshot_zxid:
            self.log.append(
                LogLine(
                    Level.INFO,
                    f"The zxid of snapshot digest 0x{java_hex(digest.zxid)} is smaller than the known snapshot "
                    f"highest zxid, the snapshot started with zxid 0x{java_hex(snapshot_zxid)}. It will be invalid "
                    "to use this snapshot digest associated with this zxid, will ignore comparing it.",
                )
            )
            self.digest_from_loaded_snapshot = None

    def add_session(self, session: int, timeout: int) -> None:
        """`sessions.put` (ZKDatabase.sessionsWithTimeouts)."""
        self.sessions[session] = timeout
        self.session_capacity = grown_capacity(self.session_capacity, len(self.sessions))

    def to_snapshot(self, digest_enabled: bool = True) -> SnapshotContent:
        """What `FileSnap.serialize` writes for this tree, in ZooKeeper's (Java hash) orders."""
        sessions = hash_order(
            hash_order(self.sessions, long_hash, self.session_capacity), long_hash, copy_capacity(len(self.sessions))
        )
        acls = tuple((key, self.acl_cache.by_key[key]) for key in self.acl_cache.serialized_order())
        nodes: list[SnapshotNode] = []
        stack = [""]
        while stack:
            path = stack.pop()
            node = self.nodes.get(path)
            if node is None:
                continue
            nodes.append(SnapshotNode(path, node.data, node.acl, node.stat))
            stack.extend(f"{path}/{child}" for child in reversed(node.children_in_java_order()))
        digest: ZxidDigest | None = None
        if digest_enabled:
            digest = self.last_processed_zxid_digest or ZxidDigest(0, DIGEST_VERSION, 0)
        return SnapshotContent(tuple((sid, self.sessions[sid]) for sid in sessions), acls, tuple(nodes), digest)


def _txn_path(txn: Txn | None) -> str | None:
    return getattr(txn, "path", None)
