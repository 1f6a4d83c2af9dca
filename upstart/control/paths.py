"""Object paths of the control plane: upstream's naming and escaping.

Owns the mapping between (job, instance) names and D-Bus object paths:
the manager at `/com/ubuntu/Upstart`, a job at `.../jobs/<esc(job)>` and an
instance at `.../jobs/<esc(job)>/<esc(instance)>`; a job of a chroot session
(docs/design/sessions.md) has its escaped root first:
`.../jobs/<esc(root)>/<esc(job)>[/<esc(instance)>]`. A root is an absolute
path and a job name never starts with `/`, so the first element tells the two
apart (`_2f...`). Escaping keeps
`[A-Za-z0-9]`, turns every other byte of the UTF-8 text into `_` plus two
lowercase hex digits, and the empty string into `_`. Escaping is injective,
so `unescape` recovers the name. Pure functions; never touches a socket.
"""

from __future__ import annotations

MANAGER_PATH = "/com/ubuntu/Upstart"
JOBS_PATH = MANAGER_PATH + "/jobs"

_KEEP = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def escape(name: str) -> str:
    """Escape one path element the way upstream's `nih_dbus_path` does."""
    if not name:
        return "_"
    out = []
    for byte in name.encode("utf-8", "surrogateescape"):
        if byte in _KEEP:
            out.append(chr(byte))
        else:
            out.append("_%02x" % byte)
    return "".join(out)


def unescape(element: str) -> str | None:
    """Invert `escape`; None when `element` is not a valid escaped form."""
    if element == "_":
        return ""
    if not element:
        return None
    raw = bytearray()
    i = 0
    n = len(element)
    while i < n:
        c = element[i]
        if c == "_":
            hexpart = element[i + 1:i + 3]
            if len(hexpart) != 2 or hexpart != hexpart.lower():
                return None
            try:
                raw.append(int(hexpart, 16))
            except ValueError:
                return None
            i += 3
        elif ord(c) < 128 and ord(c) in _KEEP:
            raw.append(ord(c))
            i += 1
        else:
            return None
    name = raw.decode("utf-8", "surrogateescape")
    if escape(name) != element:   # e.g. "_41" for a kept "A": not canonical
        return None
    return name


def job_path(job: str, root: str | None = None) -> str:
    """A job's path; `root`: the chroot session it belongs to (None: global)."""
    if root is not None:
        return JOBS_PATH + "/" + escape(root) + "/" + escape(job)
    return JOBS_PATH + "/" + escape(job)


def instance_path(job: str, instance: str, root: str | None = None) -> str:
    if root is not None:
        return JOBS_PATH + "/" + escape(root) + "/" + escape(job) + "/" + escape(instance)
    return JOBS_PATH + "/" + escape(job) + "/" + escape(instance)


def parse(path: str) -> tuple | None:
    """Classify an object path.

    Returns `("manager",)`, `("job", job)`, `("instance", job, instance)`, or
    None for any other path (including non-canonical escapes).
    """
    if path == MANAGER_PATH:
        return ("manager",)
    if not path.startswith(JOBS_PATH + "/"):
        return None
    parts = path[len(JOBS_PATH) + 1:].split("/")
    if len(parts) > 2:
        return None
    names = [unescape(p) for p in parts]
    if any(n is None for n in names):
        return None
    if len(names) == 1:
        return ("job", names[0])
    return ("instance", names[0], names[1])


def parse_scoped(path: str) -> tuple[str | None, tuple] | None:
    """Classify an object path that may belong to a chroot session.

    Returns `(root, target)` where `root` is the session's chroot path (None
    for a global object) and `target` is as `parse` gives it; None for any
    other path. A path whose first element under `jobs/` unescapes to an
    absolute path is a session path (`root`, then job, then instance).
    """
    if path.startswith(_SESSION_PREFIX):
        parts = path[len(JOBS_PATH) + 1:].split("/")
        if len(parts) in (2, 3):
            names = [unescape(p) for p in parts]
            if not any(n is None for n in names):
                target = ("job", names[1]) if len(names) == 2 else \
                    ("instance", names[1], names[2])
                return names[0], target
        return None
    target = parse(path)
    return None if target is None else (None, target)


_SESSION_PREFIX = JOBS_PATH + "/" + escape("/")
