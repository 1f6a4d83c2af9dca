"""Small readers the e2e tests share: a process's liveness and a file's text."""

from __future__ import annotations


def alive(pid: int) -> bool:
    """Is `pid` a live process (present and not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def read(path) -> str:
    """The file's text, or "" while it does not exist (yet)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
