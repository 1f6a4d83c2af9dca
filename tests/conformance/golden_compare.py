"""Expectations and comparison for the golden conformance runner (pure; no I/O).

Two jobs:

* :func:`adjust_scenario` turns a recorded scenario into the one our init must
  reproduce: the transcripts record upstream 1.13.2, and the project changes two of
  its behaviours on purpose (roadmap checklist ``spec/07-roadmap.md`` §6, decision;
  ``golden/README.md``, "Behaviour we change on purpose").  The adjusted expectations
  live here, in code, each with its reason, and the test id of an adjusted scenario
  carries the tag ``decided-07-6``.
* :func:`compare` checks what ``golden_replay.py`` recorded against the (adjusted) scenario,
  after normalisation, and returns readable per-step messages: hard failures (rc,
  stdout, stderr, poll, waits, events, files), PID-label mismatches (a separate
  assertion), and ``log`` mismatches (soft unless ``UPSTART_GOLDEN_STRICT_LOG=1``).
"""

from __future__ import annotations

import copy
import difflib
import json
from dataclasses import dataclass, field

try:
    from . import normalise as nm
except ImportError:  # imported as a top-level module
    import normalise as nm  # type: ignore[no-redef]

DECIDED_TAG = "decided-07-6"

# our event for an abnormal exit of a main process (RM-12); 1.13 emits none
DIED_EVENT = "died"

# The README says `pid1-startup-event` runs init with `init-args: []` (so init emits
# `startup`), but the recorded JSON carries no `init-args` key; without it the default
# `--no-startup-event` would be used and `startup` never come.  Follow the README.
INIT_ARGS_FIX = {"109-pid1-startup-event": []}


# init's own log lines differ from upstream's (soft check by default). A builtin
# category on purpose: pytest-xdist re-creates warnings in the controller process,
# which cannot import this test-only module.
GoldenLogMismatch = UserWarning

# init's log lines that upstream writes at priority `info` (below the default,
# so absent from every recording even where a scenario set `log-priority info`)
_INFO_ONLY_LINES = frozenset({"init: Connection from private client"})


# -- the deliberate changes ---------------------------------------------------------
def _ev(*parts: str) -> list[str]:
    return list(parts)


def _move_event(events: list[list[str]], item: list[str], index: int) -> None:
    """Move the first occurrence of ``item`` to position ``index``."""
    events.remove(item)
    events.insert(index, item)


def _emit_not_held(*moves: tuple[list[str], int]):
    """Decision "an emitter is never held by a partial match".

    In 1.13 an event that only latched one side of an `and` stays unfinished (its
    `emit` blocks and its EventEmitted signal is sent late, once the job it eventually
    helped start has finished).  In our init such an event finishes at once: an
    `emit-async` of it is no longer running at the `poll` step, and its EventEmitted
    comes right when it was emitted.  Who starts, and with which environment, is
    unchanged.  ``moves`` puts each such event where it now finishes.
    """

    def apply(sc: dict) -> None:
        async_ids = {s["id"] for s in sc["steps"] if "emit-async" in s}
        for step in sc["steps"]:
            if "poll" in step and step["poll"] in async_ids:
                step["running"] = False
        for item, index in moves:
            _move_event(sc["events"], item, index)

    return apply


def _start_during_start(sc: dict) -> None:
    """Decision "a request that meets a job in transition waits for the next rest state".

    1.13 fails `initctl start svc` at once with `Job is already running` while svc is
    held in start/starting.  Our init makes the command wait until svc is running and
    then print its status with rc 0.  So the step runs in the background; we check it
    is still held (after the same 0.3 s settle the corpus uses for held states), and
    await it once the following `write-file` has released the job.  Its PID is svc's
    main process, so it takes the label the next status step shows (p2).
    """
    steps = sc["steps"]
    i = next(n for n, s in enumerate(steps)
             if s.get("run") == ["initctl", "start", "svc"] and s.get("rc") == 1)
    sid = "decided-start-svc"
    steps[i:i + 1] = [{"run-async": ["initctl", "start", "svc"], "id": sid},
                      {"sleep": 0.3},
                      {"poll": sid, "running": True}]
    w = next(n for n in range(i, len(steps)) if "write-file" in steps[n])
    steps.insert(w + 1, {"await": sid, "rc": 0, "stdout": "svc start/running, process <PID>\n",
                         "stderr": "", "pids": ["p2"]})


_J = [_ev("starting", "JOB=j", "INSTANCE="), _ev("started", "JOB=j", "INSTANCE="),
      _ev("stopping", "JOB=j", "INSTANCE=", "RESULT=ok"),
      _ev("stopped", "JOB=j", "INSTANCE=", "RESULT=ok")]

# stem -> (why, transformation of a deep copy of the scenario)
DECIDED = {
    # `emit a` (async) latches half of `(a or b) and c`: it returns at once and `a`
    # finishes first; `c` then fires j and finishes after it.
    "014-precedence-or-and": _emit_not_held((_ev("a", "X=1"), 0)),
    # `emit --no-wait a` after `c` only latches `a and b`: it finishes before `b` runs j.
    "015-precedence-and-or": _emit_not_held((_ev("a"), 5)),
    # The first `a` latches `a and b` and finishes at once, before the second `a`.
    "017-latch-second-event": _emit_not_held((_ev("a", "X=first"), 0)),
    # `a` latches the false branch of `(a and b) or c`: returns at once, finishes first.
    "018-env-from-true-branches": _emit_not_held((_ev("a", "X=from-a"), 0)),
    # `a` latches `b and a`: finishes at once, before `b` fires j.
    "019-env-tree-order": _emit_not_held((_ev("a", "K=from-a", "A=1"), 0)),
    # `a` (no-wait) latches `a and (b or c)`: finishes first; after the reset `c`
    # latches and returns at once (right after `b`), the second `a` fires j again.
    "020-reset-after-firing": _emit_not_held((_ev("a", "X=1"), 0), (_ev("c", "K=3"), 6)),
    # `a` latches `a and b` before the reload: finishes at once.
    "023-latch-kept-across-reload": _emit_not_held((_ev("a", "X=1"), 0)),
    # `initctl start svc` while svc is held in starting waits and succeeds.
    "046-starting-blocks-job": _start_during_start,
    # PID 1: `emit --no-wait a` latches `a and b` before the re-exec: finishes at once,
    # right after svc's own events.
    "116-pid1-reexec": _emit_not_held((_ev("a", "X=1"), 2)),
}


def _broken_override_atomic(sc: dict) -> None:
    """Decision D-2 (spec 01 §14, 15; 08-observed): a broken `.override` is ignored as
    a whole and the `.conf` keeps working.

    1.13.2 applies the override's lines before the bad one, runs the job once, then
    loses the class (`start` fails with a D-Bus error, `list` forgets the job). Ours
    runs the job from its `.conf` alone (`A=conf`), every time, and keeps it listed;
    the parse error is logged once (upstream logged it twice).
    """
    for step in sc["steps"]:
        if step.get("run") == ["initctl", "start", "o"]:
            step.update(rc=0, stdout="o stop/waiting\n", stderr="")
        elif step.get("run") == ["initctl", "list"]:
            step.update(stdout="o stop/waiting\n")
    sc["files"] = {k: v.replace("A=override\n", "A=conf\n") for k, v in sc["files"].items()}
    sc["log"] = sc["log"][:1]


def _version_first_line(sc: dict) -> None:
    """Whose copyright (golden README, "Behaviour we change on purpose"): `PROG
    --version` keeps 1.13's first line (`initctl (upstart 1.13.2)`, tools parse it);
    the lines after it are this project's own (upstart-py's version, copyright and
    licence), not Canonical's. The replay compares the first line only of these steps.
    """
    for step in sc["steps"]:
        if "--version" in step.get("run", []):
            step["stdout"] = step["stdout"].split("\n", 1)[0] + "\n"
            step["first-line-only"] = True


def _help_own_section(sc: dict) -> None:
    """Our commands in `help` (issue #26 item 6; golden README): `initctl help`
    prints 1.13's sections byte-identical, then a section of this project's
    commands, then 1.13's closing line. The replay takes that one section out
    of what initctl printed and compares the rest with the recording."""
    for step in sc["steps"]:
        if step.get("run", [])[1:] == ["help"]:
            step["own-help-section"] = True


def _version_and_help(sc: dict) -> None:
    _version_first_line(sc)
    _help_own_section(sc)


# stem -> (tag, why-and-how): decisions other than 07 §6
DECIDED_OTHER = {
    "094-override-with-error": ("decided-D-2", _broken_override_atomic),
    "086-version-and-help": ("decided-copyright", _version_and_help),
}


def adjust_scenario(stem: str, scenario: dict) -> tuple[dict, str | None]:
    """Return (scenario to run and compare against, tag or None)."""
    sc = copy.deepcopy(scenario)
    if stem in INIT_ARGS_FIX and "init-args" not in sc:
        sc["init-args"] = list(INIT_ARGS_FIX[stem])
    if stem in DECIDED_OTHER:
        tag, other = DECIDED_OTHER[stem]
        other(sc)
        return sc, tag
    fix = DECIDED.get(stem)
    if fix is None:
        return sc, None
    fix(sc)
    return sc, DECIDED_TAG


# -- comparison ---------------------------------------------------------------------
COMPARED_KEYS = {
    "run": ("rc", "stdout", "stderr"),
    "await": ("rc", "stdout", "stderr"),
    "poll": ("running",),
    "wait-event": ("ok",),
    "wait-status": ("ok",),
    "wait-file": ("ok",),
    "wait-init-exit": ("exit-status",),
}
OUTPUT_KINDS = ("run", "await")


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    pid_failures: list[str] = field(default_factory=list)
    log_failures: list[str] = field(default_factory=list)


def describe_step(index: int, step: dict) -> str:
    kind = next(iter(step))
    arg = step[kind]
    if isinstance(arg, list):
        arg = " ".join(str(a) for a in arg)
    extra = ""
    if kind in ("emit-async", "run-async"):
        extra = f" [id {step.get('id')}]"
    if step.get("env"):
        extra += f" env={json.dumps(step['env'])}"
    return f"step {index + 1} ({kind}: {arg}{extra})"


def show_diff(expected, got) -> str:
    """Two values, readably: repr on one line, or a unified diff of multi-line texts."""
    if isinstance(expected, str) and isinstance(got, str) and (
            expected.count("\n") > 1 or got.count("\n") > 1):
        # Lines shown escaped (`\n`, `\r`, `\t` visible), so line ends are compared too.
        lines = difflib.unified_diff(_escaped_lines(expected), _escaped_lines(got),
                                     "expected", "got", lineterm="")
        return "\n".join("    " + ln for ln in lines)
    return f"    expected: {expected!r}\n    got:      {got!r}"


def _escaped_lines(text: str) -> list[str]:
    return [repr(ln)[1:-1] for ln in text.splitlines(keepends=True)]


def _list_diff(expected: list, got: list, render) -> str:
    a = [render(x) for x in expected]
    b = [render(x) for x in got]
    return "\n".join("    " + ln for ln in difflib.unified_diff(a, b, "expected", "got",
                                                                   lineterm="", n=3))


def normalise_step_output(step: dict, got: dict, tdir: str,
                          labeller: nm.PidLabeller) -> tuple[str, str, list[str]]:
    """Normalise a run/await step's stdout and stderr; label their PIDs in order."""
    out = got.get("stdout") or ""
    err = got.get("stderr") or ""
    if step.get("sorted"):
        out = nm.sort_raw_by_normalised(out, tdir)
    n_out, p_out = nm.normalise_with_pids(out, tdir)
    n_err, p_err = nm.normalise_with_pids(err, tdir)
    return n_out, n_err, labeller.label(p_out + p_err)


def compare(scenario: dict, result: dict) -> Outcome:
    """Compare a replay ``result`` with the (adjusted) ``scenario``."""
    oc = Outcome()
    tdir = result.get("tdir", "")
    if result.get("error"):
        stdio = result.get("init-stdio", "")
        msg = f"setup failed: {result['error']}\n  init's output:\n" + _indent(stdio[-4000:] or "(empty)")
        if result.get("mode") == "pid1":
            msg += "\n  init's /dev/kmsg:\n" + _indent(result.get("log", "")[-4000:] or "(empty)")
        oc.failures.append(msg)
        return oc
    labeller = nm.PidLabeller()
    got_steps = result.get("steps", [])
    for i, step in enumerate(scenario["steps"]):
        kind = next(iter(step))
        what = describe_step(i, step)
        if i >= len(got_steps):
            oc.failures.append(f"{what}: not run")
            continue
        got = dict(got_steps[i])
        msgs = []
        if kind in OUTPUT_KINDS:
            got["stdout"], got["stderr"], labels = normalise_step_output(step, got, tdir, labeller)
            if step.get("first-line-only"):
                got["stdout"] = got["stdout"].split("\n", 1)[0] + "\n"
            if step.get("own-help-section"):
                from help_text import without_own_section
                got["stdout"] = without_own_section(got["stdout"])
            want_labels = step.get("pids", [])
            if labels != want_labels:
                oc.pid_failures.append(f"{what}: PID labels\n    expected: {want_labels}\n"
                                       f"    got:      {labels}")
        for key in COMPARED_KEYS.get(kind, ()):
            if key in step and got.get(key) != step[key]:
                msgs.append(f"  {key}:\n{show_diff(step[key], got.get(key))}")
        if got.get("note"):
            msgs.append("  note: " + got["note"])
        if msgs:
            oc.failures.append(what + "\n" + "\n".join(msgs))
    for note in result.get("notes", []):
        oc.failures.append(note)

    # Events: the whole list, in order, without our `died` events (RM-12: 1.13 has
    # none; nothing waits for one, so the others keep their order; golden/README.md).
    want_events = scenario.get("events", [])
    got_events = [[nm.normalise(s, tdir) for s in ev] for ev in result.get("events", [])
                  if not (ev and ev[0] == DIED_EVENT)]
    if got_events != want_events:
        oc.failures.append("events differ:\n" + _list_diff(want_events, got_events, _render_event))

    # Files, in the order listed; their PIDs are labelled after the steps'.
    want_fpids = scenario.get("file-pids", {})
    got_files = result.get("files", {})
    for path, want in (scenario.get("files") or {}).items():
        raw = got_files.get(path)
        if raw is None:
            got, labels = None, []
        else:
            got, pids = nm.normalise_with_pids(raw, tdir)
            labels = labeller.label(pids)
        if got != want:
            oc.failures.append(f"file {path}:\n{show_diff(want, got)}")
        if labels != want_fpids.get(path, []):
            oc.pid_failures.append(f"file {path}: PID labels\n    expected: "
                                   f"{want_fpids.get(path, [])}\n    got:      {labels}")

    want_log = scenario.get("log", [])
    got_log = [nm.normalise(ln, tdir) for ln in (result.get("log") or "").splitlines()]
    # the recordings keep only lines at init's default priority (golden README,
    # "The log"); upstream logs these at `info`, seen once a scenario raises it
    got_log = [ln for ln in got_log if ln not in _INFO_ONLY_LINES]
    if got_log != want_log:
        oc.log_failures.append("log differs:\n" + _list_diff(want_log, got_log, str))
    return oc


def _render_event(ev: list[str]) -> str:
    return json.dumps(ev)


def _indent(text: str) -> str:
    return "\n".join("    " + ln for ln in text.splitlines())
