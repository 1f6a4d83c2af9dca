"""init's command line.

Upstream takes its options from the kernel command line, so unknown options
are ignored rather than fatal; every option accepts `--name VALUE` and
`--name=VALUE`. This module only turns argv into an `Options` value; it
decides nothing about modes (that is `upstart.daemon.daemon`).
"""

from __future__ import annotations

from upstart.records import dataclass, field

CONSOLE_TYPES = ("none", "log", "output", "owner")

# options that take a value
_VALUED = {
    "--confdir", "--prepend-confdir", "--append-confdir", "--default-console",
    "--logdir", "--startup-event", "--state-fd", "--history-bytes",
}


class OptionError(Exception):
    pass


@dataclass
class Options:
    confdirs: list[str] = field(default_factory=list)
    prepend_confdirs: list[str] = field(default_factory=list)
    append_confdirs: list[str] = field(default_factory=list)
    default_console: str = "log"
    logdir: str | None = None
    no_log: bool = False
    startup_event: str | None = "startup"
    no_dbus: bool = False
    session_bus: bool = False
    user: bool = False
    no_inherit_env: bool = False
    no_cgroups: bool = False
    job_tracking: bool | None = None     # issue #26: None = tracking.md's default
    chroot_sessions: bool = False
    restart: bool = False
    state_fd: int | None = None
    write_state_file: bool = False
    priority: str = "message"
    debug: bool = False
    debug_stanza: bool = False           # roadmap 07 §7 (RM-15): `debug` without --debug
    help: bool = False
    version: bool = False
    history_bytes: int | None = None     # the in-memory record window (issue #23)
    ignored: list[str] = field(default_factory=list)


def parse_options(argv: list[str]) -> Options:
    opts = Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        name, eq, value = arg.partition("=")
        if name in _VALUED:
            if not eq:
                if i >= len(argv):
                    raise OptionError(f"missing argument: {name}")
                value = argv[i]
                i += 1
            _apply_valued(opts, name, value)
        elif arg in _FLAG_EFFECT:
            _apply_flag(opts, arg)
        else:
            opts.ignored.append(arg)
    return opts


def _apply_valued(opts: Options, name: str, value: str) -> None:
    if name == "--confdir":
        opts.confdirs.append(value)
    elif name == "--prepend-confdir":
        opts.prepend_confdirs.append(value)
    elif name == "--append-confdir":
        opts.append_confdirs.append(value)
    elif name == "--default-console":
        if value not in CONSOLE_TYPES:
            raise OptionError(f"invalid console type specified: {value}")
        opts.default_console = value
    elif name == "--logdir":
        opts.logdir = value
    elif name == "--startup-event":
        opts.startup_event = value
    elif name == "--history-bytes":
        if not value.isdigit() or int(value) < 1024:
            raise OptionError(f"invalid history size (bytes, at least 1024): {value}")
        opts.history_bytes = int(value)
    elif name == "--state-fd":
        try:
            opts.state_fd = int(value)
        except ValueError:
            opts.state_fd = None


# flag -> (attribute, value); --debug also lowers the priority (below)
_FLAG_EFFECT = {
    "--no-log": ("no_log", True), "--no-startup-event": ("startup_event", None),
    "--no-dbus": ("no_dbus", True), "--session": ("session_bus", True),
    "--user": ("user", True), "--no-inherit-env": ("no_inherit_env", True),
    "--no-cgroups": ("no_cgroups", True), "--chroot-sessions": ("chroot_sessions", True),
    "--job-tracking": ("job_tracking", True), "--no-job-tracking": ("job_tracking", False),
    "--restart": ("restart", True), "--write-state-file": ("write_state_file", True),
    "-q": ("priority", "error"), "--quiet": ("priority", "error"),
    "--error": ("priority", "error"), "-v": ("priority", "info"),
    "--verbose": ("priority", "info"), "--debug": ("debug", True),
    "--debug-stanza": ("debug_stanza", True),
    "--help": ("help", True), "--version": ("version", True),
}


def _apply_flag(opts: Options, flag: str) -> None:
    attr, value = _FLAG_EFFECT[flag]
    setattr(opts, attr, value)
    if flag == "--debug":
        opts.priority = "debug"
