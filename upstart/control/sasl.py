"""Server side of the D-Bus SASL handshake, as a pure state machine.

A D-Bus connection starts with a NUL byte and CRLF-terminated text
commands. We accept only `AUTH EXTERNAL`: the hex-encoded uid the client
claims must equal the uid the kernel reports for the peer (SO_PEERCRED),
and that uid must be one the server accepts. We also answer
`NEGOTIATE_UNIX_FD` with `AGREE_UNIX_FD` (after OK). `BEGIN` ends the text
phase; whatever bytes follow belong to the binary message stream.

Owns: parsing the text phase and choosing replies. Never touches a socket:
`feed(bytes)` returns the reply bytes; the server writes them.
"""

from __future__ import annotations

MAX_LINE = 16384
MAX_COMMANDS = 32


class _AnyUid:
    """`allowed_uids` for a socket open to every user (the system socket: the
    method-level policy in the server decides what each caller may do)."""

    def __contains__(self, uid: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY_UID"


ANY_UID = _AnyUid()


class SaslError(Exception):
    """The peer broke the protocol; drop the connection."""


class SaslServer:
    def __init__(self, peer_uid: int, allowed_uids: frozenset[int] | set[int], guid: str):
        self.peer_uid = peer_uid
        self.allowed_uids = allowed_uids
        self.guid = guid
        self.buf = bytearray()
        self.seen_nul = False
        self.authenticated = False
        self.unix_fd = False
        self.done = False          # BEGIN received
        self.waiting_data = False  # AUTH EXTERNAL without initial response
        self.commands = 0

    _STATE = ("seen_nul", "authenticated", "unix_fd", "done", "waiting_data", "commands")

    def export(self) -> dict:
        """The handshake's progress, for the init that takes the connection
        over across a re-exec (JSON-able)."""
        out = {name: getattr(self, name) for name in self._STATE}
        out["buf"] = bytes(self.buf).hex()
        return out

    def restore(self, state: dict) -> None:
        """Continue a handshake `export` described (the peer uid is the
        kernel's, read again by the new init)."""
        for name in self._STATE:
            if name in state:
                setattr(self, name, type(getattr(self, name))(state[name]))
        self.buf = bytearray(bytes.fromhex(state.get("buf", "")))

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """Consume handshake bytes. Returns (reply bytes, leftover bytes after
        BEGIN). Raises SaslError when the peer must be dropped."""
        self.buf += data
        replies = []
        if not self.seen_nul and self.buf:
            if self.buf[0] != 0:
                raise SaslError("missing initial NUL byte")
            del self.buf[0]
            self.seen_nul = True
        while not self.done:
            end = self.buf.find(b"\r\n")
            if end < 0:
                if len(self.buf) > MAX_LINE:
                    raise SaslError("line too long")
                break
            line = bytes(self.buf[:end])
            del self.buf[:end + 2]
            self.commands += 1
            if self.commands > MAX_COMMANDS:
                raise SaslError("too many commands")
            replies.append(self._command(line))
        leftover = b""
        if self.done:
            leftover = bytes(self.buf)
            self.buf.clear()
        return b"".join(r for r in replies if r), leftover

    def _ok(self) -> bytes:
        self.authenticated = True
        return b"OK " + self.guid.encode() + b"\r\n"

    def _check(self, hexid: bytes) -> bytes:
        if hexid:
            try:
                claimed = bytes.fromhex(hexid.decode("ascii")).decode("ascii")
                uid = int(claimed)
            except ValueError:
                return b"REJECTED EXTERNAL\r\n"
            if uid != self.peer_uid:
                return b"REJECTED EXTERNAL\r\n"
        if self.peer_uid not in self.allowed_uids:
            return b"REJECTED EXTERNAL\r\n"
        return self._ok()

    def _command(self, line: bytes) -> bytes:
        words = line.split(b" ")
        cmd = words[0]
        if self.authenticated:
            if cmd == b"BEGIN":
                self.done = True
                return b""
            if cmd == b"NEGOTIATE_UNIX_FD":
                self.unix_fd = True
                return b"AGREE_UNIX_FD\r\n"
            if cmd in (b"CANCEL", b"ERROR"):
                self.authenticated = False
                return b"REJECTED EXTERNAL\r\n"
            return b"ERROR \"unexpected command\"\r\n"
        if self.waiting_data:
            self.waiting_data = False
            if cmd == b"DATA":
                return self._check(words[1] if len(words) > 1 else b"")
            return b"REJECTED EXTERNAL\r\n"
        if cmd == b"AUTH":
            if len(words) >= 2 and words[1] == b"EXTERNAL":
                if len(words) >= 3:
                    return self._check(words[2])
                self.waiting_data = True
                return b"DATA\r\n"
            return b"REJECTED EXTERNAL\r\n"
        if cmd in (b"CANCEL", b"ERROR"):
            return b"REJECTED EXTERNAL\r\n"
        if cmd == b"BEGIN":
            raise SaslError("BEGIN before authentication")
        return b"ERROR \"unknown command\"\r\n"
