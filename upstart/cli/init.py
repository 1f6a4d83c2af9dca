"""`init`: the Upstart daemon's command line entry point.

Parses options (unknown ones are ignored, as on a kernel command line),
checks the mode (system init must be root and PID 1; otherwise it hands the
arguments to telinit as upstream does), and runs the daemon shell.
"""

from __future__ import annotations

import os
import sys


HELP = """Usage: init [OPTION]...
Process management daemon.

Options:
      --confdir=DIR           specify alternative directory to load configuration files from
      --prepend-confdir=DIR   load configuration from DIR before the others
      --append-confdir=DIR    load configuration from DIR after the others
      --default-console=VALUE default value for console stanza
      --logdir=DIR            specify alternative directory to store job output logs in
      --history-bytes=N       keep N bytes of the event record in memory (default 1.5 MB)
      --no-log                disable job logging
      --no-startup-event      do not emit any startup event (for testing)
      --startup-event=NAME    specify an alternative initial event (for testing)
      --no-dbus               do not connect to a D-Bus bus
      --no-inherit-env        jobs will not inherit environment of init
      --session               use D-Bus session bus rather than system bus (for testing)
      --user                  start in user mode (as a Session Init)
  -q, --quiet                 reduce output to errors only
  -v, --verbose               increase output to include informational messages
      --debug                 enable debugging output and the debug stanza
      --help                  display this help and exit
      --version               output version information and exit
"""


def main(argv: list[str] | None = None) -> int:
    from upstart.daemon.options import OptionError, parse_options

    args = list(sys.argv[1:] if argv is None else argv)
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "init"
    try:
        opts = parse_options(args)
    except OptionError as exc:
        sys.stderr.write(f"{prog}: {exc}\n")
        return 1
    if opts.help:
        sys.stdout.write(HELP)
        return 0
    if opts.version:
        from upstart.version import print_version
        return print_version("init")
    system_mode = not opts.user and not opts.session_bus
    if system_mode:
        if os.getuid() != 0:
            sys.stderr.write(f"{prog}: Need to be root\n")
            return 1
        if os.getpid() != 1:
            telinit = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "telinit")
            for candidate in (telinit, "/sbin/telinit"):
                if os.access(candidate, os.X_OK):
                    try:
                        os.execv(candidate, [candidate] + args)
                    except OSError:
                        pass
            sys.stderr.write(f"{prog}: Not being executed as init\n")
            return 1
    # footprint (issue #23): `ssl` is OpenSSL's libraries (about 4.5 MB of
    # RSS and a Python start's worth of time); PID 1 never speaks TLS, so no
    # module may load it (asyncio did; init now runs on its own loop:
    # docs/design/footprint.md, reactor.md)
    sys.modules.setdefault("ssl", None)
    from upstart.daemon.daemon import Daemon

    # perf (issue #13): a full collection of the cyclic GC waits for 100
    # collections of the middle generation instead of 10; the young
    # generations, where init's cycles die, are collected as before. (The
    # tables that made full collections slow, the event record, are now small
    # and kept as bytes, which the GC does not track: docs/design/footprint.md.)
    import gc
    gc.set_threshold(700, 10, 100)
    daemon = Daemon(opts, argv=[sys.argv[0]] + args)
    return daemon.run()


if __name__ == "__main__":
    sys.exit(main())
