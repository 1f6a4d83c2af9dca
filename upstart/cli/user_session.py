"""upstart-user-session: a user's Session Init, started and ended by PID 1 (RM-07).

The seed (07 §9) wanted PID 1 to manage user sessions: a PAM session opened
for the user, the user's jobs run for as long as they are logged in. 1.13
replaced that with a Session Init (`init --user`) that the desktop session
starts itself. This program joins the two (docs/design/roadmap-apis.md): the
stock system job `user-session` (one instance per user, `instance $USER`)
runs the user's Session Init as a child of PID 1, and this program, called
from PAM (`pam_exec`) at each login and logout, asks PID 1 to start it at the
user's first login and to stop it at the last logout.

    upstart-user-session pam              # from pam_exec: PAM_TYPE, PAM_USER
    upstart-user-session login USER       # the same by hand
    upstart-user-session logout USER
    upstart-user-session run USER [INIT-OPTION]...   # the job's main process

Logins are counted per user in `/run/upstart/user-sessions/USER`, under an
flock held while PID 1 is asked, so a login and a logout cannot overtake
each other. A login always makes sure the session runs (a Session Init that
died is started again); the logout that brings the count to 0 stops it.

Owns: the login count and the privilege drop before `init --user`. Never:
fails a login (PAM sees exit 0 for anything but a usage error), or talks to
anything but the system init's private socket.
"""

from __future__ import annotations

import os
import sys

JOB = "user-session"
COUNT_DIR = "/run/upstart/user-sessions"
SYSTEM_ADDRESS = "unix:abstract=/com/ubuntu/upstart"
MIN_UID = 1000          # users below are system accounts (Debian's UID_MIN)
ALREADY = "com.ubuntu.Upstart0_6.Error.AlreadyStarted"
UNKNOWN_INSTANCE = "com.ubuntu.Upstart0_6.Error.UnknownInstance"

HELP = """\
Usage: {prog} [OPTION]... COMMAND [USER] [INIT-OPTION]...
Start a user's Session Init from the system init at the first login, stop it at
the last logout.

Commands:
  pam                  for pam_exec: PAM_TYPE open_session is a login of
                         PAM_USER, close_session a logout
  login USER           count a login of USER; start USER's session if needed
  logout USER          count a logout of USER; stop the session at the last
  run USER [OPTION]... the user-session job's process: become USER and exec
                         init --user with the options given

Options:
      --min-uid=UID    ignore users below UID (default {min_uid})
      --job=NAME       the system job that runs the sessions (default {job})
      --help           display this help and exit
      --version        output version information and exit

Report bugs to <upstart-devel@lists.ubuntu.com>
"""


class Usage(Exception):
    pass


def _log(prog: str, text: str) -> None:
    sys.stderr.write(f"{prog}: {text}\n")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    prog = os.path.basename(sys.argv[0]) or "upstart-user-session"
    opts = {"min_uid": MIN_UID, "job": JOB}
    rest: list[str] = []
    try:
        while args:
            arg = args.pop(0)
            if rest and rest[0] == "run" and len(rest) >= 2:
                rest.append(arg)            # init's own options, passed on
            elif arg == "--help":
                sys.stdout.write(HELP.format(prog=prog, min_uid=MIN_UID, job=JOB))
                return 0
            elif arg == "--version":
                from upstart.version import print_version
                return print_version(prog)
            elif arg.startswith("--min-uid="):
                value = arg.partition("=")[2]
                if not value.isdigit():
                    raise Usage(f"invalid user id: {value}")
                opts["min_uid"] = int(value)
            elif arg.startswith("--job="):
                opts["job"] = arg.partition("=")[2]
            elif arg.startswith("-") and not rest:
                raise Usage(f"invalid option: {arg}")
            else:
                rest.append(arg)
        if not rest:
            raise Usage("missing command")
        command, names = rest[0], rest[1:]
        if command == "pam":
            return _pam(prog, opts)
        if command not in ("login", "logout", "run"):
            raise Usage(f"invalid command: {command}")
        if not names:
            raise Usage("missing user name")
        if command == "run":
            return _run(prog, names[0], names[1:])
        if len(names) > 1:
            raise Usage(f"unexpected argument: {names[1]}")
        return _count(prog, opts, names[0], +1 if command == "login" else -1)
    except Usage as exc:
        sys.stderr.write(f"{prog}: {exc}\nTry `{prog} --help' for more information.\n")
        return 1


def _pam(prog: str, opts: dict) -> int:
    """pam_exec's call: never fails the login or logout."""
    kind = os.environ.get("PAM_TYPE", "")
    user = os.environ.get("PAM_USER", "")
    if kind not in ("open_session", "close_session") or not user:
        return 0
    _count(prog, opts, user, +1 if kind == "open_session" else -1)
    return 0


def _count(prog: str, opts: dict, user: str, delta: int) -> int:
    import fcntl
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        _log(prog, f"unknown user: {user}")
        return 1
    if entry.pw_uid < opts["min_uid"]:
        return 0
    if "/" in user or user.startswith("."):
        _log(prog, f"unusable user name: {user}")
        return 1
    try:
        os.makedirs(COUNT_DIR, mode=0o755, exist_ok=True)
        fd = os.open(os.path.join(COUNT_DIR, user), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o644)
    except OSError as exc:
        _log(prog, f"{COUNT_DIR}/{user}: {exc.strerror}")
        return 1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)      # held while PID 1 is asked (see module doc)
        text = os.read(fd, 64).decode("ascii", "replace").strip()
        count = max(0, (int(text) if text.isdigit() else 0) + delta)
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % count)
        if delta > 0:
            return _ask(prog, opts["job"], "Start", user, ALREADY)
        if count == 0:
            return _ask(prog, opts["job"], "Stop", user, UNKNOWN_INSTANCE)
        return 0
    finally:
        os.close(fd)


def _ask(prog: str, job: str, method: str, user: str, fine: str) -> int:
    """Job.Start/Stop of USER's instance, waiting for it; `fine`: the error that
    means it is so already."""
    from upstart.control import client

    try:
        with client.Connection(SYSTEM_ADDRESS) as conn:
            path = conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "GetJobByName",
                             "s", (job,))[0]
            conn.call(path, client.JOB_IFACE, method, "asb", ([f"USER={user}"], True))
    except client.ConnectError as exc:
        _log(prog, f"Unable to connect to Upstart: {exc}")
        return 1
    except client.CallError as exc:
        if exc.name != fine:
            _log(prog, f"{method.lower()} {job} USER={user}: {exc.message}")
            return 1
    return 0


def _run(prog: str, user: str, init_args: list[str]) -> int:
    """Become USER (groups, gid, uid), make its runtime directory, exec
    `init --user`. Exits only on failure."""
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        _log(prog, f"unknown user: {user}")
        return 1
    uid, gid = entry.pw_uid, entry.pw_gid
    runtime = f"/run/user/{uid}"
    path = os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    # found now, as root: after the drop nothing more is imported or looked up;
    # the init installed beside this program first (the same installation), then PATH
    here = os.path.dirname(os.path.realpath(sys.argv[0] or "."))
    init = next((os.path.join(d, "init") for d in [here] + path.split(":") if d
                 and os.access(os.path.join(d, "init"), os.X_OK)), None)
    if init is None:
        _log(prog, "init not found in PATH")
        return 1
    try:
        os.makedirs("/run/user", mode=0o755, exist_ok=True)
        if not os.path.isdir(runtime):
            os.mkdir(runtime, 0o700)
            os.chown(runtime, uid, gid)
        os.initgroups(user, gid)
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        _log(prog, f"unable to become {user}: {exc.strerror}")
        return 1
    env = {"USER": user, "LOGNAME": user, "HOME": entry.pw_dir,
           "SHELL": entry.pw_shell or "/bin/sh", "XDG_RUNTIME_DIR": runtime,
           "PATH": path}
    for name in ("LANG", "LC_ALL", "TERM"):
        if name in os.environ:
            env[name] = os.environ[name]
    try:
        os.chdir(entry.pw_dir)
    except OSError:
        os.chdir("/")
    try:
        os.execve(init, ["init", "--user", *init_args], env)
    except OSError as exc:
        _log(prog, f"unable to run init --user: {exc.strerror}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
