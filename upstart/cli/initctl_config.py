"""initctl's configuration commands: `show-config` and `check-config`.

Both read what the loaded job classes say (their `emits`, `start on`,
`stop on`, `while` and `ready on`) through the jobs' D-Bus properties and
hand it to `upstart.cli.initctl_format` to print. Imported only when one of
these commands runs (initctl starts quickly).

Never: changes anything in init.
"""

from __future__ import annotations

from upstart.cli.initctl import (JOB_IFACE, MANAGER, MANAGER_IFACE, UNKNOWN_METHOD, Ctx,
                                 Failure, _job_path, _pipeline)
from upstart.control import client
from upstart.control.client import CallError


def _job_configs(ctx: Ctx, name: str | None):
    """[(name, emits, start_on, stop_on)] for one job or all, sorted by name."""
    conn = ctx.connect()
    if name is not None:
        paths = [_job_path(ctx, name)]
    else:
        paths = ctx.call(MANAGER, MANAGER_IFACE, "GetAllJobs")[0]
    replies = _pipeline(conn, [(p, client.PROPERTIES_IFACE, "GetAll", "s", (JOB_IFACE,))
                               for p in paths])
    configs = []
    for reply in replies:
        if isinstance(reply, CallError):
            if reply.name == UNKNOWN_METHOD and name is None:
                continue
            raise Failure(reply.message)
        props = {k: v[1] for k, v in reply[0].items()}
        configs.append((props["name"], props.get("emits", []), props.get("start_on", []),
                        props.get("stop_on", []), props.get("while", []),
                        props.get("ready_on", [])))
    configs.sort(key=lambda c: c[0])
    return configs


def cmd_show_config(ctx: Ctx, args: list[str]) -> int:
    from upstart.cli.initctl_format import show_config
    for name, emits, start_on, stop_on, while_on, ready_on in \
            _job_configs(ctx, args[0] if args else None):
        for line in show_config(name, emits, start_on, stop_on,
                                bool(ctx.opts.get("enumerate")), while_on, ready_on):
            ctx.message(line)
    return 0


def cmd_check_config(ctx: Ctx, args: list[str]) -> int:
    from upstart.cli.initctl_format import ConfigChecker
    try:
        configs = _job_configs(ctx, None)
    except Failure as exc:
        ctx.err.write("%s: %s\n" % (ctx.prog, exc))
        return 0                     # upstream returns 0 when it cannot read the jobs
    names = {c[0] for c in configs}
    if args and args[0] not in names:
        raise Failure("Invalid job class: %s" % args[0])
    emits = []
    for c in configs:
        for e in c[1]:
            if e not in emits:
                emits.append(e)
    checker = ConfigChecker(names, emits, set(ctx.ignored), warn=bool(ctx.opts.get("warn")),
                            session=ctx.user_mode)
    failed = False
    for name, _emits, start_on, stop_on, _while, _ready in configs:
        if args and name != args[0]:
            continue
        lines = checker.report(name, start_on, stop_on)
        if lines:
            failed = True
            for line in lines:
                ctx.message(line)
    return 1 if failed else 0
