"""initctl's commands for the `debug` stanza (roadmap 07 §7, RM-15).

`resume JOB [KEY=VALUE]...` continues the processes of an instance that the
`debug` stanza left paused before exec (or that are otherwise stopped): it
asks init (`Instance.Resume`), which sends them SIGCONT, then prints the
instance's status line as `start` does. The instance is found as `reload`
finds it (the arguments, or `UPSTART_JOB`/`UPSTART_INSTANCE`).

Owns: the client side of resuming. Never: signals a process itself (init
knows which processes are the instance's, and checks who asks).
"""

from upstart.control import client


def cmd_resume(ctx, args: list[str]) -> int:
    from upstart.cli.initctl import _job_path, _job_target, _status

    job, inst = _job_target(ctx, args)
    job_path = _job_path(ctx, job)
    if inst is not None:
        inst_path = ctx.call(job_path, client.JOB_IFACE, "GetInstanceByName", "s", (inst,))[0]
    else:
        inst_path = ctx.call(job_path, client.JOB_IFACE, "GetInstance", "as", (args[1:],))[0]
    ctx.call(inst_path, client.INSTANCE_IFACE, "Resume")
    ctx.message(_status(ctx, job_path, inst_path))
    return 0
