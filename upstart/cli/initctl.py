"""initctl: the command-line client of init (and start/stop/restart/reload/status).

Parses the command line the way libnih does (global options, then a command,
then command options and global options mixed with the arguments; argv[0]
naming a command acts as that command), picks the connection (spec 04 §1),
makes the D-Bus calls of each command through `upstart.control.client` and
prints exactly what upstream prints: status lines on stdout, errors as
`PROG: message` on stderr, usage errors followed by the `--help` hint.
Exit status is 0 or 1, nothing else.

Owns: command semantics on the client side. Never: talks to the engine,
imports anything heavy on the common path (initctl must start in a few
milliseconds), or prints a D-Bus error name instead of its text.
"""

# no `from __future__ import annotations`: on initctl's start path it is an import
# (of __future__) like any other (issue #23); annotations here are Python 3.11 syntax

import os
import sys

from upstart.control import client
from upstart.control.client import CallError, ConnectError

MANAGER = client.MANAGER_PATH
MANAGER_IFACE = client.MANAGER_IFACE
JOB_IFACE = client.JOB_IFACE
INSTANCE_IFACE = client.INSTANCE_IFACE
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
UNKNOWN_INSTANCE = "com.ubuntu.Upstart0_6.Error.UnknownInstance"

# Options: key → (short, long, takes argument). Globals apply everywhere.
GLOBAL_OPTS = {
    "session": ("", "session", False), "system": ("", "system", False),
    "dest": ("", "dest", True), "user": ("", "user", False),
    "quiet": ("q", "quiet", False), "verbose": ("v", "verbose", False),
    "debug": ("", "debug", False), "help": ("", "help", False),
    "version": ("", "version", False),
    "global_scope": ("", "global", False),   # roadmap (CT-27); after an env command,
}                                            # that command's own --global wins
_NO_WAIT = {"no_wait": ("n", "no-wait", False)}
_GLOBAL_ENV = {"global": ("g", "global", False)}
COMMAND_OPTS = {
    "start": _NO_WAIT, "stop": _NO_WAIT, "restart": _NO_WAIT, "emit": _NO_WAIT,
    "show-config": {"enumerate": ("e", "enumerate", False)},
    "check-config": {"ignore_events": ("i", "ignore-events", True),
                     "warn": ("w", "warn", False)},
    "get-env": _GLOBAL_ENV, "list-env": _GLOBAL_ENV, "reset-env": _GLOBAL_ENV,
    "unset-env": _GLOBAL_ENV,
    "set-env": {"global": ("g", "global", False), "retain": ("r", "retain", False)},
    # roadmap (issue #12): observability
    "list": {"failed": ("", "failed", False)},
    "why": {"json": ("", "json", False)},
    "timeline": {"svg": ("", "svg", True), "json": ("", "json", False),
                 "file": ("f", "file", True)},
}
COMMANDS = ("start", "stop", "restart", "reload", "status", "list", "emit",
            "reload-configuration", "version", "log-priority", "show-config",
            "check-config", "usage", "get-env", "list-env", "set-env", "unset-env",
            "reset-env", "list-sessions", "notify-disk-writeable", "notify-dbus-address",
            "notify-cgroup-manager-address", "help", "set-state", "clear-state",
            "list-states", "list-timers", "why", "timeline", "resume")


class UsageError(Exception):
    """A command-line problem: printed with the `--help` hint."""


class Failure(Exception):
    """A reported failure: printed as `PROG: text`, exit 1."""


class Done(Exception):
    """Finished early with this exit code (help, version)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class Ctx:
    """One run of initctl: options, output streams, the connection."""

    def __init__(self, prog: str, out, err):
        self.prog = prog
        self.out = out
        self.err = err
        self.opts: dict = {}
        self.ignored: list[str] = []
        self.conn = None
        self.user_mode = False

    def message(self, text: str) -> None:
        if not self.opts.get("quiet"):
            self.out.write(text + "\n")

    def info(self, text: str) -> None:
        if self.opts.get("verbose") or self.opts.get("debug"):
            self.out.write(text + "\n")

    # ------------------------------------------------------------ connection

    def connect(self):
        """Open the connection chosen by spec 04 §1 (once)."""
        if self.conn is not None:
            return self.conn
        if self.opts.get("global_scope"):     # roadmap 07 §9 (CT-27)
            from upstart.cli.initctl_global import connect_global
            self.conn = connect_global(self)
            return self.conn
        env = os.environ
        session = env.get("UPSTART_SESSION")
        use_bus = self.opts.get("system") or self.opts.get("session")
        if not session and not use_bus and os.getuid() != 0:
            # an ordinary user's initctl finds that user's own Session Init
            # (its session file), as a login shell has no UPSTART_SESSION yet
            session = _own_session(env)
        dest = self.opts.get("dest")
        if self.opts.get("user") and not session:
            raise Failure("UPSTART_SESSION isn't set in the environment. "
                          "Unable to locate the Upstart instance.")
        if session and not use_bus:
            self.user_mode = True
            try:
                self.conn = client.Connection(session, pipelined=True)
            except ConnectError as exc:
                raise Failure("Unable to connect to Upstart: %s" % exc) from None
            if dest:
                # upstream's proxy for a named destination adds a match rule,
                # which a private connection refuses
                try:
                    self.conn.call("/org/freedesktop/DBus", "org.freedesktop.DBus",
                                   "AddMatch", "s", ("type='signal'",))
                except CallError as exc:
                    raise Failure(exc.message) from None
            return self.conn
        if not use_bus and os.getuid() == 0:
            if dest:
                raise UsageError("--dest given without --system")
            try:
                self.conn = client.Connection("unix:abstract=/com/ubuntu/upstart",
                                              pipelined=True)
            except ConnectError as exc:
                raise Failure("Unable to connect to Upstart: %s" % exc) from None
            return self.conn
        system = not self.opts.get("session")
        if system:
            address = env.get("DBUS_SYSTEM_BUS_ADDRESS") or \
                "unix:path=/var/run/dbus/system_bus_socket"
        else:
            address = env.get("DBUS_SESSION_BUS_ADDRESS") or ""
        try:
            if not address:
                raise ConnectError("Unable to autolaunch a dbus-daemon without a $DISPLAY "
                                   "for X11")
            self.conn = client.Connection(address, bus=True,
                                          destination=dest or client.BUS_NAME)
        except ConnectError as exc:
            if system and not use_bus:
                # no system bus: an ordinary user still reaches init's own socket,
                # where looking is allowed and changing is refused (docs/security.md)
                try:
                    self.conn = client.Connection("unix:abstract=/com/ubuntu/upstart")
                    return self.conn
                except ConnectError:
                    pass
            raise Failure("%s: %s" % ("Unable to connect to system bus" if system
                                      else "Unable to connect to session bus", exc)) from None
        return self.conn

    def call(self, path, iface, member, sig="", body=()):
        conn = self.connect()
        try:
            return conn.call(path, iface, member, sig, body)
        except CallError as exc:
            raise Failure(exc.message) from None

    def get(self, path, iface, name):
        return self.call(path, client.PROPERTIES_IFACE, "Get", "ss", (iface, name))[0][1]


def _own_session(env) -> str | None:
    """The newest live Session Init of this user, from
    `$XDG_RUNTIME_DIR/upstart/sessions/PID.session` (by default `/run/user/UID`, where
    upstart-user-session puts it: RM-07), or None."""
    runtime = env.get("XDG_RUNTIME_DIR") or "/run/user/%d" % os.getuid()
    directory = os.path.join(runtime, "upstart", "sessions")
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    best = None
    for name in names:
        pid_text, dot, ext = name.partition(".")
        if ext != "session" or not pid_text.isdigit():
            continue
        path = os.path.join(directory, name)
        try:
            st = os.stat(path)
            if st.st_uid != os.getuid():
                continue
            os.kill(int(pid_text), 0)
            with open(path) as f:
                line = f.readline().strip()
        except OSError:
            continue
        if line.startswith("UPSTART_SESSION="):
            if best is None or st.st_mtime > best[0]:
                best = (st.st_mtime, line[len("UPSTART_SESSION="):])
    return best[1] if best else None


def _usage_error(ctx: Ctx, text: str) -> int:
    ctx.err.write("%s: %s\nTry `%s --help' for more information.\n"
                  % (ctx.prog, text, ctx.prog))
    return 1


# ----------------------------------------------------------------- parsing

def _find(table: dict, short: str | None = None, long: str | None = None):
    for key, (s, lo, takes) in table.items():
        if (short is not None and s == short) or (long is not None and lo == long):
            return key, takes
    return None, False


def _parse(ctx: Ctx, args: list[str], table: dict, stop_at_command: bool):
    """libnih-style option parsing. Returns (non-option arguments, rest):
    with `stop_at_command`, parsing stops at the first non-option (the
    command) and `rest` is what follows it."""
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            return positional, []
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            key, takes = _find(table, long=name)
            if key is None:
                raise UsageError("invalid option: --%s" % name)
            if takes:
                if not eq:
                    if i >= len(args):
                        raise UsageError("missing argument: --%s" % name)
                    value = args[i]
                    i += 1
                _set(ctx, key, value)
            else:
                if eq:
                    raise UsageError("unexpected argument: %s" % arg)
                _set(ctx, key, True)
            continue
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                ch = arg[j]
                j += 1
                key, takes = _find(table, short=ch)
                if key is None:
                    raise UsageError("invalid option: -%s" % ch)
                if takes:
                    if j < len(arg):
                        value = arg[j:]
                    elif i < len(args):
                        value = args[i]
                        i += 1
                    else:
                        raise UsageError("missing argument: -%s" % ch)
                    _set(ctx, key, value)
                    break
                _set(ctx, key, True)
            continue
        if stop_at_command:
            return [arg], args[i:]
        positional.append(arg)
    return positional, []


def _set(ctx: Ctx, key: str, value) -> None:
    if key == "help":
        raise _HelpRequested()
    if key == "version":
        from upstart.version import version_text
        ctx.out.write(version_text(ctx.prog))
        raise Done(0)
    if key == "ignore_events":
        ctx.ignored.extend(e for e in value.split(",") if e)
        return
    ctx.opts[key] = value


class _HelpRequested(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv
    prog = os.path.basename(argv[0]) if argv and argv[0] else "initctl"
    ctx = Ctx(prog, sys.stdout, sys.stderr)
    try:
        code = run_command(ctx, list(argv[1:]))
    except Done as done:
        code = done.code
    except UsageError as exc:
        code = _usage_error(ctx, str(exc))
    except Failure as exc:
        ctx.err.write("%s: %s\n" % (prog, exc))
        code = 1
    except KeyboardInterrupt:
        code = 1
    except BrokenPipeError:
        code = 1
    finally:
        if ctx.conn is not None:
            ctx.conn.close()
    try:
        ctx.out.flush()
    except BrokenPipeError:
        pass
    return code


def run_command(ctx: Ctx, args: list[str]) -> int:
    """One command line (without the program name) on `ctx`: what `main` runs,
    and what upstart-mountall runs for each event on one connection."""
    command = ctx.prog if ctx.prog in COMMANDS and ctx.prog != "help" else None
    shorthand = command is not None
    if command is None:
        try:
            found, args = _parse(ctx, args, GLOBAL_OPTS, stop_at_command=True)
        except _HelpRequested:
            from upstart.cli.initctl_help import program_help
            ctx.out.write(program_help(ctx.prog))
            return 0
        if not found:
            raise UsageError("missing command")
        command = found[0]
        if command not in COMMANDS:
            raise UsageError("invalid command: %s" % command)
    table = dict(COMMAND_OPTS.get(command, {}))
    table.update(GLOBAL_OPTS)
    try:
        positional, _ = _parse(ctx, args, table, stop_at_command=False)
    except _HelpRequested:
        from upstart.cli.initctl_help import command_help
        ctx.out.write(command_help(ctx.prog, command, shorthand))
        return 0
    handler = _HANDLERS[command]
    return handler(ctx, positional)


# ---------------------------------------------------------------- job commands

def _job_target(ctx: Ctx, args: list[str]):
    """(job name, instance name from UPSTART_INSTANCE or None) or usage error."""
    if args:
        return args[0], None
    job = os.environ.get("UPSTART_JOB")
    inst = os.environ.get("UPSTART_INSTANCE")
    if job is None or inst is None:
        raise UsageError("missing job name")
    return job, inst


def _instance_props(ctx: Ctx, inst_path: str | None):
    if inst_path is None:
        return None
    try:
        props = ctx.connect().get_all(inst_path, INSTANCE_IFACE)
    except CallError as exc:
        if exc.name == UNKNOWN_METHOD:
            return None
        raise Failure(exc.message) from None
    return props


def _status(ctx: Ctx, job_path: str, inst_path: str | None) -> str:
    from upstart.cli.initctl_format import status_line
    name = ctx.get(job_path, JOB_IFACE, "name")
    return status_line(name, _instance_props(ctx, inst_path))


def _job_path(ctx: Ctx, job: str) -> str:
    return ctx.call(MANAGER, MANAGER_IFACE, "GetJobByName", "s", (job,))[0]


def cmd_start(ctx: Ctx, args: list[str]) -> int:
    return _start_like(ctx, args, "Start")


def cmd_restart(ctx: Ctx, args: list[str]) -> int:
    return _start_like(ctx, args, "Restart")


def _start_like(ctx: Ctx, args: list[str], method: str) -> int:
    job, inst = _job_target(ctx, args)
    job_path = _job_path(ctx, job)
    if inst is not None:
        inst_path = ctx.call(job_path, JOB_IFACE, "GetInstanceByName", "s", (inst,))[0]
        ctx.call(inst_path, INSTANCE_IFACE, method, "b", (False,))
    else:
        wait = not ctx.opts.get("no_wait")
        inst_path = ctx.call(job_path, JOB_IFACE, method, "asb", (args[1:], wait))[0]
    ctx.message(_status(ctx, job_path, inst_path))
    return 0


def cmd_stop(ctx: Ctx, args: list[str]) -> int:
    job, inst = _job_target(ctx, args)
    job_path = _job_path(ctx, job)
    if inst is not None:
        inst_path = ctx.call(job_path, JOB_IFACE, "GetInstanceByName", "s", (inst,))[0]
        ctx.call(inst_path, INSTANCE_IFACE, "Stop", "b", (False,))
    else:
        env = args[1:]
        inst_path = ctx.call(job_path, JOB_IFACE, "GetInstance", "as", (env,))[0]
        wait = not ctx.opts.get("no_wait")
        ctx.call(job_path, JOB_IFACE, "Stop", "asb", (env, wait))
    ctx.message(_status(ctx, job_path, inst_path))
    return 0


def cmd_reload(ctx: Ctx, args: list[str]) -> int:
    job, inst = _job_target(ctx, args)
    job_path = _job_path(ctx, job)
    if inst is not None:
        inst_path = ctx.call(job_path, JOB_IFACE, "GetInstanceByName", "s", (inst,))[0]
    else:
        inst_path = ctx.call(job_path, JOB_IFACE, "GetInstance", "as", (args[1:],))[0]
    try:
        ctx.connect().call(inst_path, INSTANCE_IFACE, "Reload")
        return 0
    except CallError as exc:
        if exc.name != UNKNOWN_METHOD:
            raise Failure(exc.message) from None
    # an init without Instance.Reload: signal the main process ourselves
    processes = ctx.get(inst_path, INSTANCE_IFACE, "processes")
    if not processes or processes[0][0] != "main":
        raise Failure("Not running")
    import signal
    try:
        os.kill(processes[0][1], signal.SIGHUP)
    except OSError as exc:
        raise Failure(exc.strerror) from None
    return 0


def cmd_status(ctx: Ctx, args: list[str]) -> int:
    job, inst = _job_target(ctx, args)
    job_path = _job_path(ctx, job)
    conn = ctx.connect()
    inst_path = None
    if inst is not None:
        inst_path = ctx.call(job_path, JOB_IFACE, "GetInstanceByName", "s", (inst,))[0]
    else:
        try:
            inst_path = conn.call(job_path, JOB_IFACE, "GetInstance", "as", (args[1:],))[0]
        except CallError as exc:
            if args[1:] or exc.name != UNKNOWN_INSTANCE:
                raise Failure(exc.message) from None
    ctx.message(_status(ctx, job_path, inst_path))
    if ctx.opts.get("verbose"):                  # roadmap (issue #12): additive only
        from upstart.cli.initctl_observe import status_extra
        status_extra(ctx, job)
    return 0


def _pipeline(conn, calls, batch: int = 256):
    """Send the calls in batches, collecting the replies in order (a
    CallError in place of a failed one): a round trip per batch, not per call."""
    results = []
    for start in range(0, len(calls), batch):
        serials = [conn.send(*c) for c in calls[start:start + batch]]
        for serial in serials:
            try:
                results.append(conn.wait_reply(serial))
            except CallError as exc:
                if exc.name in ("org.freedesktop.DBus.Error.NoReply",
                                "org.freedesktop.DBus.Error.Disconnected"):
                    raise Failure(exc.message) from None
                results.append(exc)
    return results


def cmd_list(ctx: Ctx, args: list[str]) -> int:
    from upstart.cli.initctl_format import status_line
    if ctx.opts.get("failed"):                   # roadmap (issue #12)
        from upstart.cli.initctl_observe import list_failed
        return list_failed(ctx)
    conn = ctx.connect()
    job_paths = ctx.call(MANAGER, MANAGER_IFACE, "GetAllJobs")[0]
    calls = []
    for path in job_paths:
        calls.append((path, client.PROPERTIES_IFACE, "Get", "ss", (JOB_IFACE, "name")))
        calls.append((path, JOB_IFACE, "GetAllInstances"))
    replies = _pipeline(conn, calls)
    jobs = []
    for k in range(len(job_paths)):
        name, insts = replies[2 * k], replies[2 * k + 1]
        for r in (name, insts):
            if isinstance(r, CallError) and r.name != UNKNOWN_METHOD:
                raise Failure(r.message)
        if isinstance(name, CallError) or isinstance(insts, CallError):
            continue                       # the job went away meanwhile
        jobs.append((name[0][1], sorted(insts[0])))
    inst_calls = [(p, client.PROPERTIES_IFACE, "GetAll", "s", (INSTANCE_IFACE,))
                  for _, insts in jobs for p in insts]
    inst_replies = iter(_pipeline(conn, inst_calls))
    lines = []
    for name, insts in jobs:
        if not insts:
            lines.append((name, "", status_line(name, None)))
            continue
        for _ in insts:
            reply = next(inst_replies)
            if isinstance(reply, CallError):
                if reply.name != UNKNOWN_METHOD:
                    raise Failure(reply.message)
                continue
            props = {k: v[1] for k, v in reply[0].items()}
            lines.append((name, props.get("name", ""), status_line(name, props)))
    lines.sort(key=lambda t: (t[0], t[1]))
    for _, _, line in lines:
        ctx.message(line)
    return 0


def cmd_usage(ctx: Ctx, args: list[str]) -> int:
    job, _ = _job_target(ctx, args)
    job_path = _job_path(ctx, job)
    ctx.get(job_path, JOB_IFACE, "name")
    ctx.message("Usage: %s" % ctx.get(job_path, JOB_IFACE, "usage"))
    return 0


# ------------------------------------------------------------ other commands

def cmd_emit(ctx: Ctx, args: list[str]) -> int:
    if not args:
        raise UsageError("missing event name")
    ctx.call(MANAGER, MANAGER_IFACE, "EmitEvent", "sasb",
             (args[0], args[1:], not ctx.opts.get("no_wait")))
    return 0


def cmd_reload_configuration(ctx: Ctx, args: list[str]) -> int:
    ctx.call(MANAGER, MANAGER_IFACE, "ReloadConfiguration")
    return 0


def cmd_version(ctx: Ctx, args: list[str]) -> int:
    ctx.message(ctx.get(MANAGER, MANAGER_IFACE, "version"))
    return 0


def cmd_log_priority(ctx: Ctx, args: list[str]) -> int:
    if args:
        ctx.call(MANAGER, client.PROPERTIES_IFACE, "Set", "ssv",
                 (MANAGER_IFACE, "log_priority", ("s", args[0])))
    else:
        ctx.message(ctx.get(MANAGER, MANAGER_IFACE, "log_priority"))
    return 0


def cmd_show_config(ctx: Ctx, args: list[str]) -> int:
    from upstart.cli.initctl_config import cmd_show_config as run
    return run(ctx, args)


def cmd_check_config(ctx: Ctx, args: list[str]) -> int:
    from upstart.cli.initctl_config import cmd_check_config as run
    return run(ctx, args)


def _job_details(ctx: Ctx) -> list[str]:
    if ctx.opts.get("global"):
        return []
    job = os.environ.get("UPSTART_JOB")
    inst = os.environ.get("UPSTART_INSTANCE")
    if job is not None and inst is not None:
        return [job, inst]
    return []


def cmd_get_env(ctx: Ctx, args: list[str]) -> int:
    if not args:
        raise UsageError("missing variable name")
    value = ctx.call(MANAGER, MANAGER_IFACE, "GetEnv", "ass", (_job_details(ctx), args[0]))
    ctx.message(value[0])
    return 0


def cmd_list_env(ctx: Ctx, args: list[str]) -> int:
    env = ctx.call(MANAGER, MANAGER_IFACE, "ListEnv", "as", (_job_details(ctx),))[0]
    for item in sorted(env, key=lambda s: s.encode("utf-8", "surrogateescape")):
        ctx.message(item)
    return 0


def cmd_set_env(ctx: Ctx, args: list[str]) -> int:
    if not args:
        raise UsageError("missing variable value")
    ctx.call(MANAGER, MANAGER_IFACE, "SetEnvList", "asasb",
             (_job_details(ctx), args, not ctx.opts.get("retain")))
    return 0


def cmd_unset_env(ctx: Ctx, args: list[str]) -> int:
    if not args:
        raise UsageError("missing variable name")
    ctx.call(MANAGER, MANAGER_IFACE, "UnsetEnvList", "asas", (_job_details(ctx), args))
    return 0


def cmd_reset_env(ctx: Ctx, args: list[str]) -> int:
    ctx.call(MANAGER, MANAGER_IFACE, "ResetEnv", "as", (_job_details(ctx),))
    return 0


def cmd_list_sessions(ctx: Ctx, args: list[str]) -> int:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        raise Failure("Unable to query session directory")
    sessions = os.path.join(runtime, "upstart", "sessions")
    try:
        # as 1.13: the session directory is made (0700 each level) when missing
        for path in (os.path.dirname(sessions), sessions):
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
        names = os.listdir(sessions)
    except OSError:
        raise Failure("unable to determine sessions") from None
    found = []
    for name in names:
        stem, dot, ext = name.partition(".")
        if ext != "session" or not stem.isdigit():
            continue
        path = os.path.join(sessions, name)
        pid = int(stem)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            ctx.info("Ignoring stale session file %s" % path)
            continue
        except PermissionError:
            pass
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError:
            continue
        if not text.startswith("UPSTART_SESSION="):
            continue
        found.append((pid, text[len("UPSTART_SESSION="):].rstrip("\n")))
    for pid, address in sorted(found):
        ctx.message("%d %s" % (pid, address))
    return 0


def cmd_notify_disk_writeable(ctx: Ctx, args: list[str]) -> int:
    ctx.call(MANAGER, MANAGER_IFACE, "NotifyDiskWriteable")
    return 0


def cmd_notify_dbus_address(ctx: Ctx, args: list[str]) -> int:
    if not args:
        raise UsageError("missing D-Bus address")
    ctx.call(MANAGER, MANAGER_IFACE, "NotifyDBusAddress", "s", (args[0],))
    return 0


def cmd_notify_cgroup_manager_address(ctx: Ctx, args: list[str]) -> int:
    if not args:
        raise UsageError("missing address")
    ctx.call(MANAGER, MANAGER_IFACE, "NotifyCGroupManagerAddress", "s", (args[0],))
    return 0


def cmd_help(ctx: Ctx, args: list[str]) -> int:
    """`help` lists the commands (as upstream); `help COMMAND` is `COMMAND --help`."""
    from upstart.cli.initctl_help import command_help, commands_help
    if args and args[0] in COMMANDS and args[0] != "help":
        ctx.out.write(command_help(ctx.prog, args[0], False))
        return 0
    if args:
        raise UsageError("invalid command: %s" % args[0])
    ctx.out.write(commands_help(ctx.prog))
    return 0


def cmd_set_state(ctx: Ctx, args: list[str]) -> int:
    if not args:
        raise UsageError("missing state name")
    ctx.call(MANAGER, MANAGER_IFACE, "SetState", "sas", (args[0], args[1:]))
    return 0


def cmd_clear_state(ctx: Ctx, args: list[str]) -> int:
    if not args:
        raise UsageError("missing state name")
    ctx.call(MANAGER, MANAGER_IFACE, "ClearState", "s", (args[0],))
    return 0


def cmd_list_states(ctx: Ctx, args: list[str]) -> int:
    states = ctx.call(MANAGER, MANAGER_IFACE, "ListStates")[0]
    for name, env in sorted(states, key=lambda s: s[0]):
        ctx.message(" ".join([name] + list(env)))
    return 0


def cmd_list_timers(ctx: Ctx, args: list[str]) -> int:
    """The time events jobs wait for, with their next and last firing (time bridge)."""
    from upstart.timebridge.link import LinkError
    from upstart.timebridge.main import list_timers

    try:
        text = list_timers(user=bool(os.environ.get("UPSTART_SESSION")))
    except LinkError as exc:
        raise Failure(str(exc)) from None
    if text:
        ctx.out.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_why(ctx: Ctx, args: list[str]) -> int:
    from upstart.cli.initctl_observe import cmd_why as run
    return run(ctx, args)


def cmd_timeline(ctx: Ctx, args: list[str]) -> int:
    from upstart.cli.initctl_observe import cmd_timeline as run
    return run(ctx, args)


def cmd_resume(ctx: Ctx, args: list[str]) -> int:
    from upstart.cli.initctl_debug import cmd_resume as run
    return run(ctx, args)


_HANDLERS = {
    "start": cmd_start, "stop": cmd_stop, "restart": cmd_restart, "reload": cmd_reload,
    "status": cmd_status, "list": cmd_list, "emit": cmd_emit,
    "reload-configuration": cmd_reload_configuration, "version": cmd_version,
    "log-priority": cmd_log_priority, "show-config": cmd_show_config,
    "check-config": cmd_check_config, "usage": cmd_usage, "get-env": cmd_get_env,
    "list-env": cmd_list_env, "set-env": cmd_set_env, "unset-env": cmd_unset_env,
    "reset-env": cmd_reset_env, "list-sessions": cmd_list_sessions,
    "notify-disk-writeable": cmd_notify_disk_writeable,
    "notify-dbus-address": cmd_notify_dbus_address,
    "notify-cgroup-manager-address": cmd_notify_cgroup_manager_address,
    "help": cmd_help, "set-state": cmd_set_state, "clear-state": cmd_clear_state,
    "list-states": cmd_list_states, "list-timers": cmd_list_timers, "why": cmd_why,
    "timeline": cmd_timeline, "resume": cmd_resume,
}


if __name__ == "__main__":
    sys.exit(main())
