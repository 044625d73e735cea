"""The filesystem interface every disk access of impl goes through, and an in-memory implementation.

ZooKeeper's durability depends on the order of a few system calls (write, fsync, rename). Making each of
them one method lets the simulator crash a server between any two of them and lets `zkfle datadir` run the
real start-up code on a directory without writing to it (`CopyOnWriteFileSystem`). Paths are POSIX strings.

Crash model of `MemoryFileSystem.crash()` (a power failure): a file never fsynced since it was created is
gone, directory entry and all (on ext4 a new file's name and its delayed-allocation data reach the disk
together, at the next journal commit, unless fsynced first); a file fsynced at least once falls back to its
content at its last `fsync`. Renames, deletes, truncations and directory creation are durable at once
(ZooKeeper never fsyncs a directory, semantics.md §2.3). So everything that survives a crash was the object of
an fsync, which is exactly what trace events of durability (`epoch_write`, `txn_logged`, `snapshot`) record.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass, field
from typing import Protocol


class FileSystem(Protocol):
    """The operations ZooKeeper's persistence code performs, one method per system call that matters."""

    def exists(self, path: str) -> bool: ...
    def is_dir(self, path: str) -> bool: ...
    def list_dir(self, path: str) -> list[str]:
        """Names (not paths) of the entries of a directory, sorted; `FileNotFoundError` if absent."""
        ...

    def size(self, path: str) -> int: ...
    def read_bytes(self, path: str) -> bytes:
        """The whole content; `FileNotFoundError` if absent, `IsADirectoryError` for a directory."""
        ...

    def read_range(self, path: str, offset: int, length: int) -> bytes: ...
    def write_bytes(self, path: str, data: bytes) -> None:
        """Create or truncate, then write (`new FileOutputStream(path)` + write + flush; not yet durable)."""
        ...

    def append_bytes(self, path: str, data: bytes) -> None: ...
    def write_at(self, path: str, offset: int, data: bytes) -> None:
        """`FileChannel.write(buf, position)` / pwrite: overwrite at `offset`; a gap past the end reads as zeros."""
        ...

    def fsync(self, path: str) -> None: ...
    def rename(self, src: str, dst: str) -> None:
        """POSIX rename: replaces `dst` if it exists."""
        ...

    def delete(self, path: str) -> None: ...
    def truncate(self, path: str, size: int) -> None: ...
    def mkdirs(self, path: str) -> None: ...


def join(*parts: str) -> str:
    """Join path parts with `/`."""
    return posixpath.join(*parts)


@dataclass
class _File:
    data: bytearray = field(default_factory=bytearray)
    durable: bytearray = field(default_factory=bytearray)
    clean: int = 0
    """`data[:clean] == durable[:clean]`: an fsync copies only what follows (a txn log is fsynced after every
    append; copying the whole file each time made long runs quadratic)."""
    synced: bool = False
    """The file has been fsynced since it was created: it survives a crash."""


class MemoryFileSystem:
    """A `FileSystem` held in memory, with the crash model described in the module docstring."""

    def __init__(self) -> None:
        self._files: dict[str, _File] = {}
        self._dirs: set[str] = {"/"}

    @staticmethod
    @functools.lru_cache(maxsize=1024)
    def _norm(path: str) -> str:
        # memoized (a pure function of the string): the simulator's disks see a few dozen paths, each
        # normalised on every append and fsync
        return posixpath.normpath(posixpath.join("/", path))

    def _file(self, path: str) -> _File:
        norm = self._norm(path)
        found = self._files.get(norm)
        if found is None:
            if norm in self._dirs:
                raise IsADirectoryError(path)
            raise FileNotFoundError(path)
        return found

    def _need_parent(self, path: str) -> str:
        norm = self._norm(path)
        if posixpath.dirname(norm) not in self._dirs:
            raise FileNotFoundError(path)
        if norm in self._dirs:
            raise IsADirectoryError(path)
        return norm

    def exists(self, path: str) -> bool:
        norm = self._norm(path)
        return norm in self._files or norm in self._dirs

    def is_dir(self, path: str) -> bool:
        return self._norm(path) in self._dirs

    def list_dir(self, path: str) -> list[str]:
        norm = self._norm(path)
        if norm not in self._dirs:
            raise FileNotFoundError(path)
        names = [
            posixpath.basename(p) for p in (*self._files, *self._dirs) if p != norm and posixpath.dirname(p) == norm
        ]
        return sorted(names)

    def size(self, path: str) -> int:
        return len(self._file(path).data)

    def read_bytes(self, path: str) -> bytes:
        return bytes(self._file(path).data)

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        return bytes(self._file(path).data[offset : offset + length])

    def write_bytes(self, path: str, data: bytes) -> None:
        norm = self._need_parent(path)
        entry = self._files.setdefault(norm, _File())
        entry.data = bytearray(data)
        entry.clean = 0

    def append_bytes(self, path: str, data: bytes) -> None:
        norm = self._need_parent(path)
        self._files.setdefault(norm, _File()).data += data

    def write_at(self, path: str, offset: int, data: bytes) -> None:
        entry = self._file(path)
        if offset > len(entry.data):
            entry.data.extend(bytes(offset - len(entry.data)))
        entry.data[offset : offset + len(data)] = data
        entry.clean = min(entry.clean, offset)

    def fsync(self, path: str) -> None:
        entry = self._file(path)
        del entry.durable[entry.clean :]
        entry.durable += entry.data[entry.clean :]
        entry.clean = len(entry.data)
        entry.synced = True

    def rename(self, src: str, dst: str) -> None:
        entry = self._file(src)
        target = self._need_parent(dst)
        del self._files[self._norm(src)]
        self._files[target] = entry

    def delete(self, path: str) -> None:
        self._file(path)
        del self._files[self._norm(path)]

    def truncate(self, path: str, size: int) -> None:
        entry = self._file(path)
        del entry.data[size:]
        del entry.durable[size:]
        entry.clean = min(entry.clean, size)

    def mkdirs(self, path: str) -> None:
        norm = self._norm(path)
        while norm not in self._dirs:
            if norm in self._files:
                raise FileExistsError(path)
            self._dirs.add(norm)
            norm = posixpath.dirname(norm)

    def crash(self) -> None:
        """Lose everything not yet fsynced (see the module docstring)."""
        for path in [p for p, entry in self._files.items() if not entry.synced]:
            del self._files[path]
        for entry in self._files.values():
            entry.data = bytearray(entry.durable)
            entry.clean = len(entry.data)

    def paths(self) -> list[str]:
        """Every file path, sorted (for tests and for writing the tree out)."""
        return sorted(self._files)


class CopyOnWriteFileSystem:
    """Reads through to `base`; every change stays in memory. Records what would have been written.

    `zkfle datadir` runs ZooKeeper's own start-up logic on this view of a real data directory, so the
    directory is never modified and the report can say which files start-up would write.
    """

    def __init__(self, base: FileSystem) -> None:
        self._base = base
        self._over = MemoryFileSystem()
        self._deleted: set[str] = set()
        self._copied: set[str] = set()
        self.changes: list[tuple[str, str]] = []
        """(operation, path) in the order they happened: `write`, `append`, `rename->DST`, `delete`, ..."""

    @staticmethod
    def _norm(path: str) -> str:
        return posixpath.normpath(posixpath.join("/", path))

    def _visible_in_base(self, norm: str) -> bool:
        return norm not in self._deleted and norm not in self._copied and self._base.exists(norm)

    def _copy_up(self, norm: str) -> None:
        if self._visible_in_base(norm) and not self._base.is_dir(norm):
            self._over.mkdirs(posixpath.dirname(norm))
            self._over.write_bytes(norm, self._base.read_bytes(norm))
            self._over.fsync(norm)
            self._copied.add(norm)

    def _prepare_write(self, path: str) -> str:
        norm = self._norm(path)
        parent = posixpath.dirname(norm)
        if not self.is_dir(parent):
            raise FileNotFoundError(path)
        self._over.mkdirs(parent)
        self._copy_up(norm)
        self._deleted.discard(norm)
        return norm

    def exists(self, path: str) -> bool:
        norm = self._norm(path)
        return self._over.exists(norm) or self._visible_in_base(norm)

    def is_dir(self, path: str) -> bool:
        norm = self._norm(path)
        return self._over.is_dir(norm) or (norm not in self._deleted and self._base.is_dir(norm))

    def list_dir(self, path: str) -> list[str]:
        norm = self._norm(path)
        names: set[str] = set()
        found = False
        if self._over.is_dir(norm):
            names.update(self._over.list_dir(norm))
            found = True
        if norm not in self._deleted and self._base.is_dir(norm):
            names.update(n for n in self._base.list_dir(norm) if self._visible_in_base(join(norm, n)))
            found = True
        if not found:
            raise FileNotFoundError(path)
        return sorted(names)

    def _reader(self, path: str) -> FileSystem:
        norm = self._norm(path)
        if self._over.exists(norm):
            return self._over
        if self._visible_in_base(norm):
            return self._base
        raise FileNotFoundError(path)

    def size(self, path: str) -> int:
        return self._reader(path).size(self._norm(path))

    def read_bytes(self, path: str) -> bytes:
        return self._reader(path).read_bytes(self._norm(path))

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        return self._reader(path).read_range(self._norm(path), offset, length)

    def write_bytes(self, path: str, data: bytes) -> None:
        self._over.write_bytes(self._prepare_write(path), data)
        self.changes.append(("write", self._norm(path)))

    def append_bytes(self, path: str, data: bytes) -> None:
        self._over.append_bytes(self._prepare_write(path), data)
        self.changes.append(("append", self._norm(path)))

    def write_at(self, path: str, offset: int, data: bytes) -> None:
        norm = self._prepare_write(path)
        if not self._over.exists(norm):
            raise FileNotFoundError(path)
        self._over.write_at(norm, offset, data)
        self.changes.append(("write", norm))

    def fsync(self, path: str) -> None:
        self._reader(path)

    def rename(self, src: str, dst: str) -> None:
        norm_src = self._prepare_write(src)
        norm_dst = self._prepare_write(dst)
        self._over.rename(norm_src, norm_dst)
        self._deleted.add(norm_src)
        self.changes.append((f"rename->{norm_dst}", norm_src))

    def delete(self, path: str) -> None:
        norm = self._norm(path)
        self._reader(path)
        if self._over.exists(norm):
            self._over.delete(norm)
        self._deleted.add(norm)
        self.changes.append(("delete", norm))

    def truncate(self, path: str, size: int) -> None:
        self._over.truncate(self._prepare_write(path), size)
        self.changes.append(("truncate", self._norm(path)))

    def mkdirs(self, path: str) -> None:
        norm = self._norm(path)
        if not self.is_dir(norm):
            self.changes.append(("mkdir", norm))
        self._over.mkdirs(norm)
