"""initctl's observability commands: `why`, `timeline`, `list --failed`,
and the extra lines of `status --verbose`.

Each asks init's `Observe` method (JSON answers, see
`upstart.observe.service`) and formats the answer; `timeline -f FILE` reads
a structured log file instead, so a boot can be looked at after the fact.
Imported only when one of these commands runs (initctl starts quickly).

Never: changes anything in init, or alters the output of the classic
commands (`status` without `--verbose`, `list` without `--failed`).
"""

from __future__ import annotations

import json

from upstart.control.client import CallError

MANAGER = "/com/ubuntu/Upstart"
MANAGER_IFACE = "com.ubuntu.Upstart0_6"


def _observe(ctx, what: str, args: list[str]):
    from upstart.cli.initctl import Failure
    conn = ctx.connect()
    try:
        reply = conn.call(MANAGER, MANAGER_IFACE, "Observe", "sas", (what, list(args)))
    except CallError as exc:
        if exc.name == "org.freedesktop.DBus.Error.UnknownMethod":
            raise Failure("init does not keep an event record") from None
        raise Failure(exc.message) from None
    return json.loads(reply[0])


def cmd_why(ctx, args: list[str]) -> int:
    from upstart.cli.initctl import _job_target
    if not args:                       # inside a job: UPSTART_JOB (its single instance)
        job, _inst = _job_target(ctx, args)
        args = [job]
    answer = _observe(ctx, "why", args)
    if ctx.opts.get("json"):
        ctx.out.write(json.dumps(answer["tree"], indent=2) + "\n")
    else:
        ctx.message(answer["text"])
    return 0


def cmd_timeline(ctx, args: list[str]) -> int:
    from upstart.cli.initctl import Failure
    from upstart.observe import timeline as tl
    path = ctx.opts.get("file")
    if path:
        from upstart.observe.jsonlog import read_records
        records = read_records(path)
        if not records:
            raise Failure(f"{path}: no records")
    else:
        records = []
        while True:                              # the answer comes in pages
            page = _observe(ctx, "log", [str(records[-1]["seq"] if records else 0)])
            records += page
            if not page:
                break
    timeline = tl.spans(records)
    svg_path = ctx.opts.get("svg")
    if svg_path:
        data = tl.svg(timeline)
        if svg_path == "-":
            ctx.out.write(data)
        else:
            try:
                with open(svg_path, "w") as f:
                    f.write(data)
            except OSError as exc:
                raise Failure(f"{svg_path}: {exc.strerror}") from None
        return 0
    if ctx.opts.get("json"):
        ctx.out.write(json.dumps({
            "chain": timeline.chain,
            "rows": [{"job": r.job, "instance": r.instance, "critical": r.critical,
                      "spans": [[s.kind, s.start, s.end] for s in r.spans]}
                     for r in timeline.rows]}) + "\n")
        return 0
    ctx.out.write(tl.text(timeline))
    return 0


def list_failed(ctx) -> int:
    """One line per failed instance; with --verbose, the last lines of its log."""
    for item in _observe(ctx, "failed", []):
        ctx.message(f"{item['job']}{' (' + item['instance'] + ')' if item['instance'] else ''}"
                    f" failed: {item['reason']}")
        if ctx.opts.get("verbose"):
            _log_tail(ctx, item.get("log"))
    return 0


def _log_tail(ctx, lines) -> None:
    if lines:
        ctx.message("  last lines of its log:")
        for line in lines:
            ctx.message(f"    {line}")


def status_extra(ctx, job: str) -> None:
    """What `status --verbose` adds after the classic line: failure, log tail,
    a process paused by the debug stanza."""
    try:
        answer = _observe(ctx, "status", [job])
    except Exception:           # an init without the record: the classic line only
        return
    from upstart.observe.why import death_text
    for item in answer.get("failures", []):
        ctx.message(f"  failed: {item['reason']}")
        _log_tail(ctx, item.get("log"))
    for item in answer.get("deaths", []):     # RM-12: also while it respawns
        who = f" ({item['instance']})" if item.get("instance") else ""
        ctx.message(f"  {death_text(item).replace('its main process', 'main process' + who)}")
        _log_tail(ctx, item.get("log"))
    for group in answer.get("cgroups", []):   # cgroups (issue #9): where, and what it uses
        who = f" ({group['instance']})" if group.get("instance") else ""
        for path in group.get("cgroups", []):
            ctx.message(f"  cgroup{who}: {path}")
        use = []
        if group.get("memory") is not None:
            use.append(f"memory {group['memory']} bytes")
        if group.get("pids") is not None:
            use.append(f"pids {group['pids']}")
        if use:
            ctx.message(f"  cgroup usage{who}: " + ", ".join(use))
    for pause in answer.get("paused", []):
        slot = pause.get("slot") or "main"
        # an instance is named by its KEY=VALUE arguments, as for `status`
        resume = f"initctl resume {job}" + (" KEY=VALUE..." if pause.get("instance") else "")
        ctx.message(f"  {slot} process {pause['pid']} is paused before exec (debug); "
                    f"attach a debugger, then continue it with: {resume} "
                    f"(or kill -CONT {pause['pid']})")
