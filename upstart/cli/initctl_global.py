"""`initctl --global` (roadmap 07 §9, CT-27): look at the system init's global jobs.

The seed gave `initctl` a `--global` option "to bypass session scoping, so that
the system-wide jobs remain listable from within a chroot or by an
unprivileged user". Here that means two things (docs/design/roadmap-apis.md):

* the connection goes to the system init (PID 1) over its private socket,
  whatever `UPSTART_SESSION` says: a user inside a Session Init reaches the
  system's jobs without a system bus;
* the connection asks for the global scope (`UseGlobalScope`), so a caller
  inside a chroot session sees the global jobs instead of the chroot's; from
  there init lets it only look.

Owns: choosing that connection. Never: changes what any other option means.
"""

from upstart.control import client
from upstart.control.client import CallError, ConnectError

SYSTEM_ADDRESS = "unix:abstract=/com/ubuntu/upstart"
_EXCLUSIVE = (("system", "--system"), ("session", "--session"), ("user", "--user"),
              ("dest", "--dest"))


def connect_global(ctx):
    """The system init's connection, scoped to its global jobs."""
    from upstart.cli.initctl import UNKNOWN_METHOD, Failure, UsageError

    for key, flag in _EXCLUSIVE:
        if ctx.opts.get(key):
            raise UsageError("--global cannot be used with %s" % flag)
    try:
        conn = client.Connection(SYSTEM_ADDRESS)
    except ConnectError as exc:
        raise Failure("Unable to connect to Upstart: %s" % exc) from None
    try:
        conn.call(client.MANAGER_PATH, client.MANAGER_IFACE, "UseGlobalScope")
    except CallError as exc:
        if exc.name != UNKNOWN_METHOD:        # an init without scopes: global already
            conn.close()
            raise Failure(exc.message) from None
    return conn
