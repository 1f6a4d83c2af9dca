"""init's command line.

Upstream takes its options from the kernel command line, so unknown options
are ignored rather than fatal; every option accepts `--name VALUE` and
`--name=VALUE`. This module only turns argv into an `Options` value; it
decides nothing about modes (that is `upstart.daemon.daemon`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONSOLE_TYPES = ("none", "log", "output", "owner")

# options that take a value
_VALUED = {
    "--confdir", "--prepend-confdir", "--append-confdir", "--default-console",
    "--logdir", "--startup-event", "--state-fd",
}
_FLAGS = {
    "--no-log", "--no-startup-event", "--no-dbus", "--session", "--user",
    "--no-inherit-env", "--no-cgroups", "--chroot-sessions", "--restart",
    "--write-state-file", "-q", "--quiet", "-v", "--verbose", "--debug",
    "--help", "--version", "--error",
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
    chroot_sessions: bool = False
    restart: bool = False
    state_fd: int | None = None
    write_state_file: bool = False
    priority: str = "message"
    debug: bool = False
    help: bool = False
    version: bool = False
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
        elif arg in _FLAGS:
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
    elif name == "--state-fd":
        try:
            opts.state_fd = int(value)
        except ValueError:
            opts.state_fd = None


def _apply_flag(opts: Options, flag: str) -> None:
    if flag == "--no-log":
        opts.no_log = True
    elif flag == "--no-startup-event":
        opts.startup_event = None
    elif flag == "--no-dbus":
        opts.no_dbus = True
    elif flag == "--session":
        opts.session_bus = True
    elif flag == "--user":
        opts.user = True
    elif flag == "--no-inherit-env":
        opts.no_inherit_env = True
    elif flag == "--no-cgroups":
        opts.no_cgroups = True
    elif flag == "--chroot-sessions":
        opts.chroot_sessions = True
    elif flag == "--restart":
        opts.restart = True
    elif flag == "--write-state-file":
        opts.write_state_file = True
    elif flag in ("-q", "--quiet", "--error"):
        opts.priority = "error"
    elif flag in ("-v", "--verbose"):
        opts.priority = "info"
    elif flag == "--debug":
        opts.priority = "debug"
        opts.debug = True
    elif flag == "--help":
        opts.help = True
    elif flag == "--version":
        opts.version = True
