"""The jute records ZooKeeper 3.8 writes into txn logs and snapshots, with their encoders and decoders.

Field order and types follow `zookeeper-jute/src/main/resources/zookeeper.jute` (modules
`org.apache.zookeeper.data`, `org.apache.zookeeper.txn`, `org.apache.zookeeper.server.persistence`).
Decoding a whole txn-log entry follows `SerializeUtils.deserializeTxn` / `TxnLogEntry` of 3.8: header,
then the body chosen by the header type, then a `TxnDigest` if one is there.

`SetMaxChildrenTxn` exists in zookeeper.jute but no 3.8 code path writes or reads it (deserializeTxn has no
case for it), so it is not modelled.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from zkfle.impl.persistence.jute import JuteEOFError, JuteReader, JuteWriter

_TXN_HEADER = struct.Struct(">qiqqi")
"""TxnHeader's fields in jute order: long clientId, int cxid, long zxid, long time, int type."""
_STAT_PERSISTED = struct.Struct(">qqqqiiiqq")
"""StatPersisted's fields in jute order (60 bytes)."""


class OpCode(enum.IntEnum):
    """`ZooDefs.OpCode`, the txn types a server writes into its log."""

    CREATE = 1
    DELETE = 2
    SET_DATA = 5
    SET_ACL = 7
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CREATE_CONTAINER = 19
    DELETE_CONTAINER = 20
    CREATE_TTL = 21
    CREATE_SESSION = -10
    CLOSE_SESSION = -11
    ERROR = -1

    @property
    def java_name(self) -> str:
        """The name `Request.op2String` prints (TxnLogToolkit's dump uses it)."""
        return _JAVA_NAMES[self]


_JAVA_NAMES = {
    OpCode.CREATE: "create",
    OpCode.DELETE: "delete",
    OpCode.SET_DATA: "setData",
    OpCode.SET_ACL: "setACL",
    OpCode.CHECK: "check",
    OpCode.MULTI: "multi",
    OpCode.CREATE2: "create2",
    OpCode.RECONFIG: "reconfig",
    OpCode.CREATE_CONTAINER: "createContainer",
    OpCode.DELETE_CONTAINER: "deleteContainer",
    OpCode.CREATE_TTL: "createTTL",
    OpCode.CREATE_SESSION: "createSession",
    OpCode.CLOSE_SESSION: "closeSession",
    OpCode.ERROR: "error",
}

_OPCODES = {int(op): op for op in OpCode}


def op_name(txn_type: int) -> str:
    """`Request.op2String`: the Java name, or "unknown <type>" as ZooKeeper prints for others."""
    op = _OPCODES.get(txn_type)
    return op.java_name if op is not None else f"unknown {txn_type}"


class TxnDecodeError(Exception):
    """A txn whose bytes passed the CRC but which ZooKeeper cannot turn into a record.

    `kind` says how ZooKeeper fails: "io" is an `IOException` with `message` (fatal for restore);
    "npe" is a NullPointerException ZooKeeper hits later when it applies a null path.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class FileHeader:
    """`FileHeader{int magic; int version; long dbid}`: first 16 bytes of logs and snapshots."""

    magic: int
    version: int
    dbid: int

    def encode(self, w: JuteWriter) -> None:
        w.write_int(self.magic)
        w.write_int(self.version)
        w.write_long(self.dbid)

    @staticmethod
    def decode(r: JuteReader) -> FileHeader:
        return FileHeader(r.read_int(), r.read_int(), r.read_long())


@dataclass(frozen=True, slots=True)
class TxnHeader:
    """`TxnHeader{long clientId; int cxid; long zxid; long time; int type}` (32 bytes)."""

    client_id: int
    cxid: int
    zxid: int
    time: int
    type: int

    def encode(self, w: JuteWriter) -> None:
        # one pack of the five fields (the same bytes as write_long/int one by one): once per txn per server
        w.buf += _TXN_HEADER.pack(self.client_id, self.cxid, self.zxid, self.time, self.type)

    @staticmethod
    def decode(r: JuteReader) -> TxnHeader:
        return TxnHeader(*r.read_struct(_TXN_HEADER))


@dataclass(frozen=True, slots=True)
class TxnDigest:
    """`TxnDigest{int version; long treeDigest}`: the tree digest after the txn (DataTree digest v2)."""

    version: int
    tree_digest: int

    def encode(self, w: JuteWriter) -> None:
        w.write_int(self.version)
        w.write_long(self.tree_digest)

    @staticmethod
    def decode(r: JuteReader) -> TxnDigest:
        return TxnDigest(r.read_int(), r.read_long())


@dataclass(frozen=True, slots=True)
class StatPersisted:
    """`StatPersisted`: the stat a DataNode keeps (60 bytes), in jute field order."""

    czxid: int = 0
    mzxid: int = 0
    ctime: int = 0
    mtime: int = 0
    version: int = 0
    cversion: int = 0
    aversion: int = 0
    ephemeral_owner: int = 0
    pzxid: int = 0

    def encode(self, w: JuteWriter) -> None:
        w.buf += _STAT_PERSISTED.pack(  # one pack, the same bytes as the nine writes (once per node per snapshot)
            self.czxid, self.mzxid, self.ctime, self.mtime, self.version, self.cversion, self.aversion,
            self.ephemeral_owner, self.pzxid,
        )  # fmt: skip

    @staticmethod
    def decode(r: JuteReader) -> StatPersisted:
        return StatPersisted(*r.read_struct(_STAT_PERSISTED))


@dataclass(frozen=True, slots=True)
class Id:
    """`Id{ustring scheme; ustring id}`."""

    scheme: str | None
    id: str | None


@dataclass(frozen=True, slots=True)
class ACL:
    """`ACL{int perms; Id id}`; perms bits from `ZooDefs.Perms` (READ 1 ... ADMIN 16, ALL 31)."""

    perms: int
    id: Id

    def encode(self, w: JuteWriter) -> None:
        w.write_int(self.perms)
        w.write_ustring(self.id.scheme)
        w.write_ustring(self.id.id)

    @staticmethod
    def decode(r: JuteReader) -> ACL:
        perms = r.read_int()
        return ACL(perms, Id(r.read_ustring(), r.read_ustring()))


ACLList = tuple[ACL, ...]

OPEN_ACL_UNSAFE: ACLList = (ACL(31, Id("world", "anyone")),)
"""`ZooDefs.Ids.OPEN_ACL_UNSAFE`: world:anyone with every permission."""

READ_ACL_UNSAFE: ACLList = (ACL(1, Id("world", "anyone")),)
"""`ZooDefs.Ids.READ_ACL_UNSAFE`: world:anyone READ; DataTree.addConfigNode gives it to /zookeeper/config."""


def encode_acl_vector(w: JuteWriter, acl: ACLList | None) -> None:
    if acl is None:
        w.write_vector_count(None)
        return
    w.write_vector_count(len(acl))
    for entry in acl:
        entry.encode(w)


def decode_acl_vector(r: JuteReader) -> ACLList | None:
    count = r.read_vector_count()
    if count is None:
        return None
    return tuple(ACL.decode(r) for _ in range(max(count, 0)))


def _path(r: JuteReader) -> str:
    path = r.read_ustring()
    if path is None:
        raise TxnDecodeError("npe", "java.lang.NullPointerException (null path in txn)")
    return path


@dataclass(frozen=True, slots=True)
class CreateTxn:
    """`CreateTxn{path; buffer data; vector<ACL> acl; boolean ephemeral; int parentCVersion}`.

    Also the body of create2 (`OpCode.create2` shares the record). A V0 create (no parentCVersion,
    `CreateTxnV0`) decodes to parent_cversion -1, as deserializeTxn converts it.
    """

    path: str
    data: bytes | None
    acl: ACLList | None
    ephemeral: bool
    parent_cversion: int

    def encode(self, w: JuteWriter) -> None:
        w.write_ustring(self.path)
        w.write_buffer(self.data)
        encode_acl_vector(w, self.acl)
        w.write_bool(self.ephemeral)
        w.write_int(self.parent_cversion)

    @staticmethod
    def decode(r: JuteReader) -> CreateTxn:
        start = r.pos
        try:
            return CreateTxn(_path(r), r.read_buffer(), decode_acl_vector(r), r.read_bool(), r.read_int())
        except JuteEOFError:
            r.pos = start
            return CreateTxn(_path(r), r.read_buffer(), decode_acl_vector(r), r.read_bool(), -1)


@dataclass(frozen=True, slots=True)
class CreateContainerTxn:
    """`CreateContainerTxn{path; buffer data; vector<ACL> acl; int parentCVersion}`."""

    path: str
    data: bytes | None
    acl: ACLList | None
    parent_cversion: int

    def encode(self, w: JuteWriter) -> None:
        w.write_ustring(self.path)
        w.write_buffer(self.data)
        encode_acl_vector(w, self.acl)
        w.write_int(self.parent_cversion)

    @staticmethod
    def decode(r: JuteReader) -> CreateContainerTxn:
        return CreateContainerTxn(_path(r), r.read_buffer(), decode_acl_vector(r), r.read_int())


@dataclass(frozen=True, slots=True)
class CreateTTLTxn:
    """`CreateTTLTxn{path; buffer data; vector<ACL> acl; int parentCVersion; long ttl}`."""

    path: str
    data: bytes | None
    acl: ACLList | None
    parent_cversion: int
    ttl: int

    def encode(self, w: JuteWriter) -> None:
        w.write_ustring(self.path)
        w.write_buffer(self.data)
        encode_acl_vector(w, self.acl)
        w.write_int(self.parent_cversion)
        w.write_long(self.ttl)

    @staticmethod
    def decode(r: JuteReader) -> CreateTTLTxn:
        return CreateTTLTxn(_path(r), r.read_buffer(), decode_acl_vector(r), r.read_int(), r.read_long())


@dataclass(frozen=True, slots=True)
class DeleteTxn:
    """`DeleteTxn{path}`: body of delete and deleteContainer."""

    path: str

    def encode(self, w: JuteWriter) -> None:
        w.write_ustring(self.path)

    @staticmethod
    def decode(r: JuteReader) -> DeleteTxn:
        return DeleteTxn(_path(r))


@dataclass(frozen=True, slots=True)
class SetDataTxn:
    """`SetDataTxn{path; buffer data; int version}`: body of setData and of reconfig (on /zookeeper/config).

    `version` is the node's new version (PrepRequestProcessor already incremented it).
    """

    path: str
    data: bytes | None
    version: int

    def encode(self, w: JuteWriter) -> None:
        w.write_ustring(self.path)
        w.write_buffer(self.data)
        w.write_int(self.version)

    @staticmethod
    def decode(r: JuteReader) -> SetDataTxn:
        return SetDataTxn(_path(r), r.read_buffer(), r.read_int())


@dataclass(frozen=True, slots=True)
class CheckVersionTxn:
    """`CheckVersionTxn{path; int version}` (only inside multi)."""

    path: str
    version: int

    def encode(self, w: JuteWriter) -> None:
        w.write_ustring(self.path)
        w.write_int(self.version)

    @staticmethod
    def decode(r: JuteReader) -> CheckVersionTxn:
        return CheckVersionTxn(_path(r), r.read_int())


@dataclass(frozen=True, slots=True)
class SetACLTxn:
    """`SetACLTxn{path; vector<ACL> acl; int version}` (version = the new aversion)."""

    path: str
    acl: ACLList | None
    version: int

    def encode(self, w: JuteWriter) -> None:
        w.write_ustring(self.path)
        encode_acl_vector(w, self.acl)
        w.write_int(self.version)

    @staticmethod
    def decode(r: JuteReader) -> SetACLTxn:
        return SetACLTxn(_path(r), decode_acl_vector(r), r.read_int())


@dataclass(frozen=True, slots=True)
class CreateSessionTxn:
    """`CreateSessionTxn{int timeOut}`."""

    timeout: int

    def encode(self, w: JuteWriter) -> None:
        w.write_int(self.timeout)

    @staticmethod
    def decode(r: JuteReader) -> CreateSessionTxn:
        return CreateSessionTxn(r.read_int())


@dataclass(frozen=True, slots=True)
class CloseSessionTxn:
    """`CloseSessionTxn{vector<ustring> paths2Delete}` (3.6+, `zookeeper.closeSessionTxn.enabled` default true)."""

    paths_to_delete: tuple[str | None, ...] | None

    def encode(self, w: JuteWriter) -> None:
        if self.paths_to_delete is None:
            w.write_vector_count(None)
            return
        w.write_vector_count(len(self.paths_to_delete))
        for path in self.paths_to_delete:
            w.write_ustring(path)

    @staticmethod
    def decode(r: JuteReader) -> CloseSessionTxn:
        count = r.read_vector_count()
        if count is None:
            return CloseSessionTxn(None)
        return CloseSessionTxn(tuple(r.read_ustring() for _ in range(max(count, 0))))


@dataclass(frozen=True, slots=True)
class ErrorTxn:
    """`ErrorTxn{int err}`: a failed request (err is a `KeeperException.Code`)."""

    err: int

    def encode(self, w: JuteWriter) -> None:
        w.write_int(self.err)

    @staticmethod
    def decode(r: JuteReader) -> ErrorTxn:
        return ErrorTxn(r.read_int())


@dataclass(frozen=True, slots=True)
class SubTxn:
    """`Txn{int type; buffer data}`: one op of a multi, its body still encoded (DataTree decodes it)."""

    type: int
    data: bytes | None


@dataclass(frozen=True, slots=True)
class MultiTxn:
    """`MultiTxn{vector<Txn> txns}`."""

    txns: tuple[SubTxn, ...] | None

    def encode(self, w: JuteWriter) -> None:
        if self.txns is None:
            w.write_vector_count(None)
            return
        w.write_vector_count(len(self.txns))
        for sub in self.txns:
            w.write_int(sub.type)
            w.write_buffer(sub.data)

    @staticmethod
    def decode(r: JuteReader) -> MultiTxn:
        count = r.read_vector_count()
        if count is None:
            return MultiTxn(None)
        subs = []
        for _ in range(max(count, 0)):
            sub_type = r.read_int()
            subs.append(SubTxn(sub_type, r.read_buffer()))
        return MultiTxn(tuple(subs))


Txn = (
    CreateTxn
    | CreateContainerTxn
    | CreateTTLTxn
    | DeleteTxn
    | SetDataTxn
    | CheckVersionTxn
    | SetACLTxn
    | CreateSessionTxn
    | CloseSessionTxn
    | ErrorTxn
    | MultiTxn
)
"""Every txn body a 3.8 server writes."""


@dataclass(frozen=True, slots=True)
class TxnEntry:
    """One decoded log entry: `TxnLogEntry{header, txn, digest}`."""

    header: TxnHeader
    txn: Txn | None
    digest: TxnDigest | None


_BODY_DECODERS = {
    OpCode.CREATE_SESSION: CreateSessionTxn.decode,
    OpCode.CLOSE_SESSION: CloseSessionTxn.decode,
    OpCode.CREATE: CreateTxn.decode,
    OpCode.CREATE2: CreateTxn.decode,
    OpCode.CREATE_TTL: CreateTTLTxn.decode,
    OpCode.CREATE_CONTAINER: CreateContainerTxn.decode,
    OpCode.DELETE: DeleteTxn.decode,
    OpCode.DELETE_CONTAINER: DeleteTxn.decode,
    OpCode.RECONFIG: SetDataTxn.decode,
    OpCode.SET_DATA: SetDataTxn.decode,
    OpCode.SET_ACL: SetACLTxn.decode,
    OpCode.ERROR: ErrorTxn.decode,
    OpCode.MULTI: MultiTxn.decode,
}

_SUB_DECODERS = {
    OpCode.CREATE: CreateTxn.decode,
    OpCode.CREATE_TTL: CreateTTLTxn.decode,
    OpCode.CREATE_CONTAINER: CreateContainerTxn.decode,
    OpCode.DELETE: DeleteTxn.decode,
    OpCode.DELETE_CONTAINER: DeleteTxn.decode,
    OpCode.SET_DATA: SetDataTxn.decode,
    OpCode.ERROR: ErrorTxn.decode,
    OpCode.CHECK: CheckVersionTxn.decode,
}


def decode_txn_entry(data: bytes, start: int = 0, end: int | None = None) -> TxnEntry:
    """`SerializeUtils.deserializeTxn` (3.8): header, body by type, then an optional `TxnDigest`.

    Raises `JuteEOFError` when the body is cut short (the log reader treats that as the end of the file),
    `JuteLengthError` for an unreasonable length, and `TxnDecodeError("io", "Unsupported Txn with
    type=%d<type>")` for an unknown type (ZooKeeper's message really has the literal `%d`).
    A digest cut short is no digest (deserializeTxn catches that EOFException).
    """
    r = JuteReader(data, start, end)
    header = TxnHeader.decode(r)
    decoder = _BODY_DECODERS.get(header.type)  # type: ignore[call-overload]
    if decoder is None:
        raise TxnDecodeError("io", f"Unsupported Txn with type=%d{header.type}")
    txn: Txn = decoder(r)
    digest: TxnDigest | None
    try:
        digest = TxnDigest.decode(r)
    except JuteEOFError:
        digest = None
    return TxnEntry(header, txn, digest)


def decode_sub_txn(sub: SubTxn) -> Txn:
    """The record of one multi op, as DataTree.processTxn's multi case decodes it.

    Unknown types raise `TxnDecodeError("io", "Invalid type of op: <type>")`; a missing buffer is
    ZooKeeper's NullPointerException in `ByteBuffer.wrap(null)`.
    """
    decoder = _SUB_DECODERS.get(sub.type)  # type: ignore[call-overload]
    if decoder is None:
        raise TxnDecodeError("io", f"Invalid type of op: {sub.type}")
    if sub.data is None:
        raise TxnDecodeError("npe", "java.lang.NullPointerException (null multi op data)")
    record: Txn = decoder(JuteReader(sub.data))
    return record


def encode_txn_entry(header: TxnHeader, txn: Txn | None, digest: TxnDigest | None) -> bytes:
    """`Util.marshallTxnEntry(hdr, txn, digest)`: the bytes the log's checksum covers."""
    w = JuteWriter()
    header.encode(w)
    if txn is not None:
        txn.encode(w)
    if digest is not None:
        digest.encode(w)
    return w.getvalue()


def encode_sub_txn(txn: Txn) -> bytes:
    """The `data` of a multi op: the op's record alone."""
    w = JuteWriter()
    txn.encode(w)
    return w.getvalue()
