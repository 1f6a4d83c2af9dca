"""A minimal writer for the kernel's initramfs format (cpio "newc").

Enough for an initramfs: directories, regular files, symlinks and device
nodes, all owned by root, written without touching the host's filesystem
(no mknod, no staging tree). Several archives may be concatenated: the
kernel unpacks them in order, later entries replacing earlier ones.
"""

from __future__ import annotations

import os
import stat

_TRAILER = "TRAILER!!!"


class CpioWriter:
    def __init__(self, fileobj, mtime: int = 0):
        self.f = fileobj
        self.ino = 1
        self.mtime = mtime
        self.seen: set[str] = set()

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0),
               mtime: int | None = None) -> None:
        name = name.lstrip("/")
        encoded = name.encode() + b"\0"
        fields = (
            self.ino, mode, 0, 0, 1, self.mtime if mtime is None else int(mtime), len(data),
            0, 0, rdev[0], rdev[1], len(encoded), 0,
        )
        self.ino += 1
        header = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.f.write(header + encoded)
        self.f.write(b"\0" * ((4 - (len(header) + len(encoded)) % 4) % 4))
        self.f.write(data)
        self.f.write(b"\0" * ((4 - len(data) % 4) % 4))

    def _parents(self, path: str) -> None:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.dir("/" + "/".join(parts[:i]))

    def dir(self, path: str, mode: int = 0o755) -> None:
        path = "/" + path.strip("/")
        if path == "/" or path in self.seen:
            return
        self._parents(path)
        self.seen.add(path)
        self._entry(path, stat.S_IFDIR | mode)

    def file(self, path: str, data: bytes, mode: int = 0o644, mtime: int | None = None) -> None:
        self._parents(path)
        self.seen.add(path)
        self._entry(path, stat.S_IFREG | mode, data, mtime=mtime)

    def copy(self, path: str, source: str, mode: int | None = None) -> None:
        """The host file `source` (symlinks followed) as `path`, keeping its mtime."""
        st = os.stat(source)
        with open(source, "rb") as f:
            data = f.read()
        self.file(path, data, stat.S_IMODE(st.st_mode) if mode is None else mode,
                  mtime=int(st.st_mtime))

    def symlink(self, path: str, target: str) -> None:
        self._parents(path)
        self.seen.add(path)
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def node(self, path: str, kind: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._parents(path)
        self.seen.add(path)
        fmt = stat.S_IFCHR if kind == "c" else stat.S_IFBLK
        self._entry(path, fmt | mode, rdev=(major, minor))

    def close(self) -> None:
        self._entry(_TRAILER, 0)
        # pad the archive to a 512-byte block so concatenation stays aligned
        pos = self.f.tell()
        self.f.write(b"\0" * ((512 - pos % 512) % 512))
