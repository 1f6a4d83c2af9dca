"""Command construction: from a `Process` stanza to an argv.

Exactly upstream's rules (spec 01 §4, `job_process_start`):

* a `script` whose text has no newline, or only trailing newlines, runs as
  `/bin/sh -e -c TEXT /bin/sh` (text cut at the first newline);
* a longer script runs as `/bin/sh -e /proc/self/fd/9`; its text, prefixed
  with `exec 9<&-\\n`, is fed to the child through a pipe that is fd 9;
* `exec CMD` containing any of the 22 `SHELL_CHARS` runs as
  `/bin/sh -e -c "exec CMD" /bin/sh` (same one-line/multi-line rule);
* any other `exec CMD` is split on blanks (SP, TAB, CR, LF; no quoting)
  and executed with `execvp` semantics against the job's own `PATH`.

This module is pure: it never touches a process or a file.
"""

from __future__ import annotations


from upstart.jobfile.model import Process
from upstart.records import dataclass

SHELL = "/bin/sh"
SHELL_CHARS = "~`!$^&*()=|\\{}[];\"'<>?"
SCRIPT_FD = 9
_BLANKS = " \t\r\n"


@dataclass(frozen=True)
class Command:
    """What to execute: `argv` (argv[0] is searched in PATH when it has no
    `/`), plus the bytes to feed on fd 9 when `script` is not None."""

    argv: tuple[str, ...]
    script: bytes | None = None


def needs_shell(process: Process) -> bool:
    return process.script or any(c in SHELL_CHARS for c in process.command)


def build_command(process: Process) -> Command:
    if not needs_shell(process):
        return Command(tuple(_split_blanks(process.command)))
    text = process.command if process.script else f"exec {process.command}"
    nl = text.find("\n")
    if nl < 0 or text[nl:].strip("\n") == "":
        one_line = text if nl < 0 else text[:nl]
        return Command((SHELL, "-e", "-c", one_line, SHELL))
    data = ("exec %d<&-\n" % SCRIPT_FD + text).encode()
    return Command((SHELL, "-e", "/proc/self/fd/%d" % SCRIPT_FD), data)


def _split_blanks(text: str) -> list[str]:
    out: list[str] = []
    word: list[str] = []
    for ch in text:
        if ch in _BLANKS:
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(ch)
    if word:
        out.append("".join(word))
    return out


def env_mapping(env: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`KEY=VALUE` entries as an ordered mapping (entries without `=` are
    names only and cannot be passed to a process: they are dropped)."""
    out: dict[str, str] = {}
    for entry in env:
        key, sep, value = entry.partition("=")
        if sep:
            out[key] = value
    return out


def exec_path(env: dict[str, str]) -> list[str]:
    """The directories `execvp` searches: the job's PATH, else the libc default."""
    path = env.get("PATH")
    if path is None:
        path = "/bin:/usr/bin"
    return [d or "." for d in path.split(":")]
