"""Small readers the e2e tests share: a process's liveness, a file's text and
a pid file once written."""

from __future__ import annotations

import time


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


def pid_file(path, timeout: float = 10.0) -> int:
    """The pid in `path` once a whole line is written (a writer may be caught
    half-way); TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = read(path)
        if text.endswith("\n"):
            return int(text)
        time.sleep(0.02)
    raise TimeoutError(path)
