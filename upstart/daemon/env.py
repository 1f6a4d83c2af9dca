"""What init's mode, options and environment decide: paths and environments.

`InitEnv` answers, from the command line (`Options`) and the environment
init was started with, where job files are read from, where job logs go, the
environment table jobs start with, which bus to join, the address of the
private socket and where a Session Init announces it. It holds no state that
changes while init runs, and does nothing but create the directories it names
(a Session Init's configuration and log directories, as 1.13 does).
"""

from __future__ import annotations

import os

from upstart.daemon.options import Options

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"
SYSTEM_ADDRESS = "unix:abstract=/com/ubuntu/upstart"
SYSTEM_BUS_DEFAULT = "unix:path=/var/run/dbus/system_bus_socket"


class InitEnv:
    def __init__(self, opts: Options, environ: dict[str, str], *, pid1: bool):
        self.opts = opts
        self.environ = environ
        self.session_init = opts.user
        self.pid1 = pid1
        if self.session_init:
            self.address = (f"unix:abstract=/com/ubuntu/upstart-session/"
                            f"{os.getuid()}/{os.getpid()}")
        else:
            self.address = SYSTEM_ADDRESS

    # ------------------------------------------------------------ job files

    def conf_dirs(self) -> list[str]:
        from upstart.jobfile.conf import session_dirs

        opts = self.opts
        if opts.confdirs:
            dirs = list(opts.confdirs)
        elif self.session_init:
            dirs = session_dirs(self.environ)
            if dirs:
                _makedirs(dirs[0])
        else:
            dirs = [self.environ.get("UPSTART_CONFDIR") or "/etc/init"]
        return list(opts.prepend_confdirs) + dirs + list(opts.append_confdirs)

    def conf_sources(self) -> list:
        """The directories, with `/etc/init.conf` after the prepended ones in system mode."""
        from upstart.jobfile.conf import SYSTEM_CONF_FILE, ConfSource

        dirs = self.conf_dirs()
        if self.session_init:
            return dirs
        n = len(self.opts.prepend_confdirs)
        return dirs[:n] + [ConfSource(SYSTEM_CONF_FILE, "file")] + dirs[n:]

    # ------------------------------------------------------------ logs

    def log_dir(self) -> str | None:
        """Where job logs go. As 1.13: in system mode `UPSTART_LOGDIR` wins
        even over `--logdir` (its log path override); a Session Init ignores
        it and uses `--logdir`, else `$XDG_CACHE_HOME/upstart`."""
        if self.opts.no_log:
            return None
        if not self.session_init and self.environ.get("UPSTART_LOGDIR"):
            return self.environ["UPSTART_LOGDIR"]
        if self.opts.logdir:
            return self.opts.logdir
        if self.session_init:
            cache = self.environ.get("XDG_CACHE_HOME") or os.path.join(
                self.environ.get("HOME", "/"), ".cache")
            path = os.path.join(cache, "upstart")
            _makedirs(path)
            return path
        return "/var/log/upstart"

    # ------------------------------------------------------------ jobs' environment

    def job_env_table(self) -> list[str]:
        if self.session_init and not self.opts.no_inherit_env:
            return [f"{k}={v}" for k, v in self.environ.items()]
        table = []
        path = DEFAULT_PATH if self.pid1 else self.environ.get("PATH", DEFAULT_PATH)
        table.append(f"PATH={path}")
        if "TERM" in self.environ:
            table.append(f"TERM={self.environ['TERM']}")
        return table

    # ------------------------------------------------------------ the bus

    def bus_label(self) -> str:
        """`session` for a Session Init, `--session`, or `UPSTART_USE_SESSION_BUS`
        set (to anything, as 1.13's getenv test)."""
        session = self.session_init or self.opts.session_bus or \
            "UPSTART_USE_SESSION_BUS" in self.environ
        return "session" if session else "system"

    def bus_address(self) -> str | None:
        if self.bus_label() == "session":
            return self.environ.get("DBUS_SESSION_BUS_ADDRESS")
        return self.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS_DEFAULT

    # ------------------------------------------------------------ the session file

    def session_file(self) -> str | None:
        """`$XDG_RUNTIME_DIR/upstart/sessions/PID.session` (its directory made), or None."""
        runtime = self.environ.get("XDG_RUNTIME_DIR")
        if not runtime:
            return None
        path = os.path.join(runtime, "upstart", "sessions")
        os.makedirs(path, mode=0o700, exist_ok=True)
        return os.path.join(path, f"{os.getpid()}.session")


def _makedirs(path: str) -> None:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        pass


def undo_locale_coercion(environ: dict[str, str]) -> None:
    """Python started in the C locale adds LC_CTYPE=C.UTF-8 to its own
    environment (PEP 538); that is not init's environment, so jobs must not
    inherit it."""
    if environ.get("LC_CTYPE") in ("C.UTF-8", "C.utf8", "UTF-8") and \
            not environ.get("LANG") and not environ.get("LC_ALL"):
        del environ["LC_CTYPE"]
        os.environ.pop("LC_CTYPE", None)
