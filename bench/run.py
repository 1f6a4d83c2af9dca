"""`make bench`: set up the references, run every benchmark, write the report.

1. `bench/setup.py` installs/compiles what the references need (idempotent):
   runit and s6 (apt), supervisor and matplotlib (pip), the C spawn floor (cc).
2. The figure scripts run one after the other (never in parallel: they share
   2 cores with whatever else runs); each prints JSON rows, one per system
   (`fig`, `bench`, `system`, `value`, `unit`, `better`, `ref`/`is_ref`, ...).
   The component scripts (parse, engine, control, spawn) print their own rows.
3. Every figure of ours is divided by a reference measured in the same run
   (`ref`), because these machines are noisy; the table shows both.
4. The worst ratio of ours is profiled (`profile_init.py`, cProfile on init
   under that benchmark's workload).
5. Writes bench/results.json (raw rows), docs/benchmarks.md (tables, profile,
   bench/analysis.md) and docs/benchmarks.png (matplotlib).

Usage: python bench/run.py [--only starts,events,...] [--no-setup]
Timings live here and only here: no test passes or fails on a figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOC = os.path.join(REPO, "docs", "benchmarks.md")
PNG = os.path.join(REPO, "docs", "benchmarks.png")
RESULTS = os.path.join(HERE, "results.json")
OURS = "upstart-py"

# (script, extra args): the figure scripts first, then the component ones
SCRIPTS = [
    ("starts.py", []),      # (a) (b)
    ("events.py", []),      # (c) (d)
    ("memory.py", []),      # (e) (f)
    ("boot.py", []),        # (g)
    ("cli.py", []),         # (h)
    ("footprint.py", []),   # (i) (j) (k) (l): issue #23
    ("engine.py", []),      # (d) without I/O, transitions
    ("parse.py", []),
    ("control.py", ["--runs", "21", "--requests", "5000"]),
    ("spawn.py", ["--count", "400", "--heap-mb", "200"]),
    ("ready.py", []),       # readiness signal to `ready` event, per source
    ("idle.py", []),        # (m): issue #23 item 6
    ("debian.py", []),      # (n): issue #21, Debian 12 in qemu against systemd
    ("udev_events.py", ["--events", "1000"]),   # (o): issue #21, CPU per udev event
]
FIGURES = {
    "a": "Simple job starts per second (100 services started at once, until all run)",
    "b": "Latency of `start` until running, one job",
    "c": "One event starting 100 tasks, until all are done",
    "d": "Events per second, 1,000 job classes, no match",
    "e": "Memory of the idle supervisor (no job running)",
    "f": "Start of the supervisor until 1,000 jobs are listed",
    "g": "Boot: exec of the supervisor until 100 jobs run",
    "h": "Command-line status and version, wall time",
    "m": "Voluntary wake-ups of an idle init in 20 s (C Upstart: 0)",
    "i": "Init ready: exec until `Properties.Get version` answers",
    "j": "Memory soak: 30,000 task runs (100 tasks per emit, 300 emits)",
    "k": "Memory after 1,000,000 events with 1,000 classes",
    "l": "Pipelined EmitEvent on one connection, signals to a second one",
    "n": "Debian 12 in qemu (TCG): kernel start to serial `login:`; `poweroff` to qemu's exit",
    "o": "CPU of the udev bridge and of init per synthetic uevent (host, PID 1 in unshare)",
}
SOAK_JSON = os.path.join(HERE, "build", "soak.json")
SOAK_PNG = os.path.join(REPO, "docs", "benchmarks-soak.png")
ALWAYS_PROFILE = ("start_rate", "start_latency_client", "event_100_tasks")
PROFILE_WORKLOADS = ("start_rate", "start_latency_client", "event_100_tasks",
                     "events_per_s_daemon", "ready_1000_jobs")


def run_one(script: str, args: list[str], timeout: float = 400) -> list[dict]:
    path = os.path.join(HERE, script)
    if not os.path.exists(path):
        return []
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, path, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=HERE)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        # kill the script and everything it started (inits, peers in their own sessions)
        sys.path.insert(0, HERE)
        from common import tree
        for pid in reversed(tree(proc.pid)):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        stdout, _ = proc.communicate()
        stderr, code = f"timed out after {timeout} s", -1
    rows = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            row["script"] = script
            rows.append(row)
    if code != 0:
        rows.append({"bench": script, "error": stderr.strip()[-500:], "script": script})
    took = time.monotonic() - t0
    print(f"   {script}: {took:.1f} s", flush=True)
    if script == "footprint.py":          # issue #23: say how long the soaks take
        rows.append({"warning": f"bench/footprint.py (the soaks) took {took:.0f} s "
                     "of this run", "script": script})
    return rows


# ------------------------------------------------------------------ ratios

def figure_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if "fig" in r and "value" in r]


def dedup(rows: list[dict]) -> list[dict]:
    """A retried system emits some rows twice: keep the last of each (fig, bench, system)."""
    last = {}
    for i, r in enumerate(rows):
        if "fig" in r and "value" in r:
            last[(r["fig"], r["bench"], r["system"])] = i
    return [r for i, r in enumerate(rows)
            if not ("fig" in r and "value" in r) or last[(r["fig"], r["bench"], r["system"])] == i]


def attach_ratios(rows: list[dict]) -> None:
    """row["ratio"] = value / value of its reference (same fig and bench, else same fig);
    row["slowdown"] = how many times worse than the reference (>1 is worse)."""
    figs = figure_rows(rows)
    for r in figs:
        ref = r.get("ref")
        if not ref:
            continue
        cands = [x for x in figs if x["system"] == ref and x["fig"] == r["fig"]]
        same = [x for x in cands if x["bench"] == r["bench"]]
        base = (same or cands or [None])[0]
        if base is None or not base["value"]:
            continue
        r["ratio"] = r["value"] / base["value"]
        r["ref_value"] = base["value"]
        if r["value"]:
            r["slowdown"] = (base["value"] / r["value"] if r.get("better") == "higher"
                             else r["value"] / base["value"])


def worst(rows: list[dict]) -> dict | None:
    ours = [r for r in figure_rows(rows) if r["system"] == OURS and "slowdown" in r
            and r["bench"] in PROFILE_WORKLOADS]
    return max(ours, key=lambda r: r["slowdown"]) if ours else None


# ------------------------------------------------------------------ rendering

def _fmt(v) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // (1024 * 1024)
    except OSError:
        mem = 0
    try:
        load = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "?"
    return (f"{model or platform.processor()}, {os.cpu_count()} cores, {mem} GB RAM, "
            f"Linux {platform.release()}, Python {platform.python_version()}; "
            f"load average at the end of the run {load}")


def versions() -> str:
    out = []
    try:
        import supervisor
        out.append("supervisor " + getattr(supervisor, "__version__", "")
                   or "supervisor (PyPI)")
    except ImportError:
        pass
    try:
        from importlib.metadata import version
        out[-1:] = ["supervisor " + version("supervisor")] if out else []
    except Exception:
        pass
    for pkg in ("runit", "s6"):
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True,
                           text=True)
        if r.returncode == 0:
            out.append(f"{pkg} {r.stdout.strip()} (Debian)")
    cc = subprocess.run(["cc", "--version"], capture_output=True, text=True)
    if cc.returncode == 0:
        out.append(cc.stdout.splitlines()[0])
    return ", ".join(out)


def render(rows: list[dict], elapsed: float, prof: list[dict], analysis: str) -> str:
    figs = figure_rows(rows)
    out = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {datetime.date.today()} in {elapsed / 60:.1f} min.",
        f"Machine: {machine()}.",
        f"References: {versions()}.",
        "",
        "Every figure is a median over repeated runs, and every figure of ours is",
        "divided by a reference measured in the same run (`× ref`; the reference row",
        "reads 1). These machines are noisy (other work shares the 2 cores), so compare",
        "the ratios, not absolute numbers across runs. Raw rows: `bench/results.json`;",
        "how each figure is measured: the docstring of the script named in the table.",
        "",
        "![benchmarks](benchmarks.png)",
        "",
        "## Summary: ours against the targets",
        "",
        "| fig | benchmark | upstart-py | × ref (ref) | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for r in figs:
        if r["system"] != OURS:
            continue
        ratio = (f"{_fmt(r['ratio'])} ({r['ref']})" if "ratio" in r else "")
        met = ""
        target = r.get("target", "")
        if "target_ratio" in r and "ratio" in r:       # (i), (h): × the Python floor
            ok = r["ratio"] <= r["target_ratio"]
            met = "yes" if ok else "**no**"
        elif "target_value" in r:
            ok = (r["value"] >= r["target_value"] if r.get("better") == "higher"
                  else r["value"] <= r["target_value"])
            if r["bench"] == "start_rate":      # (a) also: ahead of supervisord
                sup = [x for x in figs if x["bench"] == "start_rate"
                       and x["system"] == "supervisord"]
                if sup:
                    ok = ok and r["value"] > sup[0]["value"]
                    target += f" and > supervisord ({_fmt(sup[0]['value'])}/s)"
            met = "yes" if ok else "**no**"
        out.append(f"| {r['fig']} | {r['bench']} | {_fmt(r['value'])} {r['unit']} | {ratio} "
                   f"| {target} | {met} |")
    for fig, title in FIGURES.items():
        sel = [r for r in figs if r["fig"] == fig]
        errs = [r for r in rows if r.get("fig", "").find(fig) >= 0 and "error" in r]
        if not sel and not errs:
            continue
        out += ["", f"## ({fig}) {title}", "",
                "| benchmark | system | median | unit | × ref | ref | details |",
                "|---|---|---|---|---|---|---|"]
        for r in sel:
            details = {k: v for k, v in r.items() if k not in (
                "fig", "bench", "system", "value", "unit", "better", "ref", "is_ref",
                "script", "ratio", "ref_value", "slowdown", "target_value", "upstart_c")}
            mark = "**" if r["system"] == OURS else ""
            ratio = "1 (ref)" if r.get("is_ref") else _fmt(r["ratio"]) if "ratio" in r else ""
            out.append(f"| {r['bench']} | {mark}{r['system']}{mark} | {_fmt(r['value'])} | "
                       f"{r['unit']} ({r.get('better', 'lower')} is better) | {ratio} | "
                       f"{r.get('ref', '')} | "
                       f"{'; '.join(f'{k}: {v}' for k, v in details.items())} |")
        for r in errs:
            out.append(f"| {r['bench']} | {r['system']} | error | | | | "
                       f"{r['error'][:150].replace('|', '/')} |")
    out += footprint_section(figs)
    comp = [r for r in rows if "fig" not in r and "profile" not in r and "warning" not in r]
    if comp:
        out += ["", "## Component benchmarks (our code without the daemon around it)", "",
                "| script | benchmark | figure | target | details |", "|---|---|---|---|---|"]
        for r in comp:
            if "error" in r:
                out.append(f"| {r['script']} | {r['bench']} | error | | "
                           f"{r['error'][:150].replace('|', '/')} |")
                continue
            fig = next((r[k] for k in ("value", "files_per_s", "spawns_per_s", "median_ms")
                        if k in r), "")
            target = r.get("target", r.get("target_ms", ""))
            details = {k: v for k, v in r.items() if k not in (
                "bench", "script", "target", "target_ms", "value", "files_per_s",
                "spawns_per_s", "median_ms")}
            out.append(f"| {r['script']} | {r['bench']} | {_fmt(fig)} | {target} | "
                       f"{'; '.join(f'{k}: {v}' for k, v in details.items())} |")
    w = worst(rows)
    for name in dict.fromkeys(p["profile"] for p in prof):
        out += profile_section(name, [p for p in prof if p["profile"] == name],
                               w is not None and w["bench"] == name, w)
    notes = [r["warning"] for r in rows if "warning" in r]
    if notes:
        out += ["", "## Run notes", ""] + [f"* {n}" for n in notes]
    if analysis:
        out += ["", fill(analysis.strip(), figs, prof, w)]
    out.append("")
    return "\n".join(out)


# (figure, bench, our unit) of issue #23's footprint, each beside its Python
# floor from the same run and C Upstart 1.13.2's published figure
FOOTPRINT = (("i", "init_ready"), ("h", "initctl_version"), ("h", "initctl_status"),
             ("j", "rss_idle"), ("j", "rss_30000_task_runs"),
             ("j", "rss_growth_last_100_emits"), ("k", "rss_after_1000000_events"),
             ("l", "emit_pipelined_per_s"))


def footprint_section(figs: list[dict]) -> list[str]:
    """Issue #23's figures side by side: ours, the floor of the same run (a
    Python start, a null request), C Upstart's published figure, the target."""
    ours = {(r["fig"], r["bench"]): r for r in figs if r["system"] == OURS}
    if not any(k in ours for k in FOOTPRINT):
        return []
    out = ["", "## Footprint of PID 1 (issue #23)", "",
           "Ours beside the floor measured in the same run (a Python start, or the "
           "null request on the same connection) and real Upstart 1.13.2's published "
           "figure for the same work (from the issue); medians.", "",
           "| fig | figure | upstart-py | floor (same run) | × floor | C Upstart 1.13.2 "
           "| target | met? |", "|---|---|---|---|---|---|---|---|"]
    for key in FOOTPRINT:
        r = ours.get(key)
        if r is None:
            continue
        floor = f"{_fmt(r['ref_value'])} ({r['ref']})" if "ref_value" in r else ""
        ratio = _fmt(r["ratio"]) if "ratio" in r else ""
        c = r.get("upstart_c")
        if "target_ratio" in r and "ratio" in r:
            met = "yes" if r["ratio"] <= r["target_ratio"] else "**no**"
        elif "target_value" in r:
            ok = (r["value"] >= r["target_value"] if r.get("better") == "higher"
                  else r["value"] <= r["target_value"])
            if r["bench"] == "emit_pipelined_per_s" and r.get("signals_in_order") is False:
                ok = False
            met = "yes" if ok else "**no**"
        else:
            met = ""
        out.append(f"| {r['fig']} | {r['bench']} | {_fmt(r['value'])} {r['unit']} | {floor} "
                   f"| {ratio} | {_fmt(c) if c is not None else ''} | {r.get('target', '')} "
                   f"| {met} |")
    if os.path.exists(SOAK_PNG):
        out += ["", "RSS of init over the two soaks (`bench/footprint.py`, series in "
                "`bench/build/soak.json`):", "", "![RSS over the soak](benchmarks-soak.png)"]
    return out


def soak_chart() -> bool:
    """docs/benchmarks-soak.png: init's RSS after each emit of the 30,000-run
    soak and every 50,000 events of the million-event one."""
    try:
        with open(SOAK_JSON) as f:
            series = json.load(f)
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except (OSError, ValueError, ImportError):
        return False
    panels = [k for k in ("soak", "million") if k in series]
    if not panels:
        return False
    f, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.4), squeeze=False)
    for ax, key in zip(axes.flat, panels):
        xs, rss = series[key]["x"], [v / 1024 for v in series[key]["rss_kb"]]
        ax.plot(xs, rss, color="tab:red", lw=1.2, label="upstart-py (VmRSS)")
        ax.axhline(30 if key == "soak" else 35, color="tab:green", ls="--", lw=1,
                   label="target")
        if key == "soak":
            ax.axhline(5.4, color="black", ls=":", lw=1, label="C Upstart 1.13.2")
            ax.set_xlabel("emits of `go` (100 task runs each)", fontsize=8)
            ax.set_title("30,000 task runs", fontsize=9)
        else:
            ax.set_xlabel("events emitted (1,000 classes, no match)", fontsize=8)
            ax.set_title("1,000,000 events", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("MB", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="lower right")
    f.suptitle("RSS of init over the soak (bench/footprint.py)", fontsize=9)
    f.tight_layout()
    f.savefig(SOAK_PNG, dpi=90)
    plt.close(f)
    return True


def profile_section(name: str, prof: list[dict], is_worst: bool, w: dict | None) -> list[str]:
    out = []
    if prof:
        head = prof[0]
        title = (f"Profile of the worst ratio: `{name}` ({_fmt(w['slowdown'])}× {w['ref']})"
                 if is_worst else f"Profile: `{name}`")
        out += ["", f"## {title}", "",
                f"Our init run under cProfile (`bench/profile_init.py {head['profile']}`): the "
                f"workload took {head['wall_s']} s of wall time, during which init used "
                f"{head['init_cpu_s']} s of CPU (profiled, so inflated). Top functions by own "
                "time, then by cumulative time (full listing: "
                f"`bench/build/profile-{name}.txt`):", "",
                "| sort | function | calls | own s | cumulative s |", "|---|---|---|---|---|"]
        for p in prof[1:]:
            if p["sort"] in ("tottime", "cumulative"):
                out.append(f"| {p['sort']} | `{p['function']}` | {p['calls']} | "
                           f"{p['tottime']} | {p['cumtime']} |")
        focus = [p for p in prof if p.get("sort") in ("busy", "focus")]
        if focus:
            out += ["", "Where init's busy time goes (cumulative seconds, share of the time "
                    "init spent outside epoll; the parts overlap: serialisation and send() "
                    "are inside the signals):", "", "| part | cumulative s | share |",
                    "|---|---|---|"]
            for p in focus:
                out.append(f"| {p['function']} | {p['cumtime']} | {p['share'] * 100:.0f}% |")
    return out


def fill(text: str, figs: list[dict], prof: list[dict], w: dict | None) -> str:
    """Replace tokens in bench/analysis.md by this run's figures:
    {v:FIG:BENCH:SYSTEM} value, {r:FIG:BENCH:SYSTEM} ratio to its reference,
    {p:WORKLOAD:LABEL-PREFIX} share (%) of init's busy time in that profile,
    {pw:WORKLOAD} its wall seconds, {pb:WORKLOAD} init's busy seconds,
    {w:worst} the worst ratio of this run, {d:FIG:BENCH:SYSTEM:FIELD} a
    detail field of that row (e.g. init's CPU per EmitEvent)."""
    import re

    def one(m: re.Match) -> str:
        kind, key = m.group(1), m.group(2)
        if kind == "w":
            return (f"({w['fig']}) `{w['bench']}`, {_fmt(w['slowdown'])}× {w['ref']}"
                    if w else "?")
        if kind in ("p", "pw", "pb"):
            workload, _, label = key.partition(":")
            for p in prof:
                if p["profile"] != workload:
                    continue
                if kind == "pw" and "wall_s" in p:
                    return _fmt(float(p["wall_s"]))
                if kind == "pb" and p.get("sort") == "busy":
                    return _fmt(float(p["cumtime"]))
                if (kind == "p" and p.get("sort") == "focus"
                        and p["function"].startswith(label)):
                    return f"{p['share'] * 100:.0f}%"
            return "?"
        if kind == "d":
            fig, bench, system, field = key.split(":", 3)
            for r in figs:
                if (r["fig"], r["bench"], r["system"]) == (fig, bench, system) and field in r:
                    v = r[field]
                    if isinstance(v, bool):
                        return "yes" if v else "no"
                    return _fmt(float(v)) if isinstance(v, (int, float)) else str(v)
            return "?"
        fig, bench, system = key.split(":", 2)
        for r in figs:
            if (r["fig"], r["bench"], r["system"]) == (fig, bench, system):
                if kind == "v":
                    return _fmt(float(r["value"]))
                return _fmt(float(r["ratio"])) if "ratio" in r else "?"
        return "?"
    return re.sub(r"\{(v|r|p|pw|pb|w|d):([^{}]+)\}", one, text)


def chart(rows: list[dict]) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter
    except ImportError:
        return False
    figs = figure_rows(rows)
    groups = []
    for fig in FIGURES:
        benches = []
        for r in figs:
            if r["fig"] == fig and r["bench"] not in benches:
                benches.append(r["bench"])
        for b in benches:
            sel = [r for r in figs if r["fig"] == fig and r["bench"] == b]
            if len(sel) > 1 or any(r["system"] == OURS for r in sel):
                groups.append((fig, b, sel))
    if not groups:
        return False
    cols = 4
    nrows = (len(groups) + cols - 1) // cols
    f, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for ax, (fig, bench, sel) in zip(axes.flat, groups):
        names = [r["system"] for r in sel]
        vals = [r["value"] for r in sel]
        colors = ["tab:red" if n == OURS else "lightcoral" if n.startswith(OURS + " (")
                  else "tab:gray" if r.get("is_ref") else "tab:blue"
                  for n, r in zip(names, sel)]
        ax.barh(range(len(sel)), vals, color=colors)
        ax.set_yticks(range(len(sel)))
        ax.set_yticklabels(names, fontsize=7)
        ax.invert_yaxis()
        pos = [v for v in vals if v > 0]
        if pos and min(pos) * 30 < max(pos):
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        for i, v in enumerate(vals):
            ax.text(v, i, " " + _fmt(float(v)), va="center", fontsize=6)
        mine = next((r for r in sel if r["system"] == OURS), {})
        if "target_value" in mine:
            ax.axvline(mine["target_value"], color="tab:green", ls="--", lw=1,
                       label="target")
        if mine.get("upstart_c") is not None:
            ax.axvline(mine["upstart_c"], color="black", ls=":", lw=1,
                       label="C Upstart 1.13.2")
        if "target_value" in mine or mine.get("upstart_c") is not None:
            ax.legend(fontsize=6, loc="lower right")
        ax.margins(x=0.25)
        better = sel[0].get("better", "lower")
        ax.set_title(f"({fig}) {bench}", fontsize=8)
        ax.set_xlabel(f"{sel[0]['unit']}, {better} is better", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    f.suptitle("upstart-py (red; what-ifs pink) against the reference of each panel (grey) "
               "and peers (blue); medians of one run; green: target, dotted: C Upstart 1.13.2",
               fontsize=9)
    f.tight_layout()
    f.savefig(PNG, dpi=90)
    plt.close(f)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated script names (without .py)")
    ap.add_argument("--no-setup", action="store_true")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render docs from bench/results.json")
    ap.add_argument("--update", action="store_true",
                    help="with --only: keep the other scripts' rows and the profiles of "
                         "bench/results.json, replace those of the scripts run (a run note "
                         "says which figures are newer)")
    opts = ap.parse_args()
    t0 = time.monotonic()
    if opts.render_only:
        with open(RESULTS) as f:
            saved = json.load(f)
        rows, prof, elapsed = saved["rows"], saved["profile"], saved["elapsed_s"]
    else:
        if not opts.no_setup:
            print("== setup.py", flush=True)
            subprocess.run([sys.executable, os.path.join(HERE, "setup.py")])
        only = set(opts.only.split(",")) if opts.only else None
        rows = []
        for script, args in SCRIPTS:
            if only and script[:-3] not in only:
                continue
            print(f"== {script}", flush=True)
            # the soaks of footprint.py take minutes (a million events)
            # the Debian boots (bench/debian.py): 6 TCG boots, an image build
            long = {"footprint.py": 3000, "debian.py": 3600}
            got = run_one(script, args, timeout=long.get(script, 400))
            for row in got:
                print("   " + json.dumps(row), flush=True)
            rows += got
        rows = dedup(rows)
        prof = []
        if opts.update and only:
            with open(RESULTS) as f:
                saved = json.load(f)
            ran = {f"{name}.py" for name in only}
            rows = [r for r in saved["rows"] if r.get("script") not in ran
                    and ("warning" not in r or "script" in r)] + rows
            rows.append({"warning": f"{', '.join(sorted(ran))} re-measured on "
                         f"{datetime.date.today()} (`bench/run.py --only ... --update`, "
                         f"{time.monotonic() - t0:.0f} s); the other figures and the "
                         f"profiles are from the full run of {saved['date']}"})
            prof = saved["profile"]
        attach_ratios(rows)
        w = worst(rows)
        for bench in ([] if opts.update else
                      dict.fromkeys(([w["bench"]] if w else []) + list(ALWAYS_PROFILE))):
            why = (f"worst ratio: {w['slowdown']:.1f}x {w['ref']}" if w and bench == w["bench"]
                   else "analysed in bench/analysis.md")
            print(f"== profile_init.py {bench} ({why})", flush=True)
            prof += [r for r in run_one("profile_init.py", [bench]) if "profile" in r]
        elapsed = time.monotonic() - t0
        if opts.update and only:
            elapsed = saved["elapsed_s"]          # the full run's
        with open(RESULTS, "w") as f:
            json.dump({"date": saved["date"] if opts.update and only
                       else str(datetime.date.today()), "machine": machine(),
                       "elapsed_s": round(elapsed, 1), "rows": rows, "profile": prof},
                      f, indent=1)
    attach_ratios(rows)
    soak_chart()
    analysis = ""
    path = os.path.join(HERE, "analysis.md")
    if os.path.exists(path):
        with open(path) as f:
            analysis = f.read()
    with open(DOC, "w") as f:
        f.write(render(rows, elapsed, prof, analysis))
    chart(rows)
    print(f"== wrote {DOC}, {PNG}, {RESULTS} in {time.monotonic() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
