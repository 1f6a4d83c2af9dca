"""The boot timeline: each job's starting/running/stopping spans since boot.

`spans()` reads recorder records (from the daemon or the JSON-lines file)
and cuts each instance's life into spans: `starting` (goal start, from the
`starting` state until `running`), `running`, `stopping` (from `stopping`
until `waiting`). Times are seconds since the first record (boot, for the
system init). `critical_chain()` follows the causal links back from the
instance that reached `running` last: the event that set its goal, the job
whose lifecycle emitted that event, and so on, like `systemd-analyze
critical-chain`. `svg()` draws the rows by hand (no dependencies), in the
spirit of `systemd-analyze plot`, with the critical chain outlined in red.

Pure: records in, text out.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from upstart.records import dataclass, field

STATE_SPAN = {"starting": "starting", "running": "running", "stopping": "stopping"}
COLOURS = {"starting": "#f4b183", "running": "#9dc3e6", "stopping": "#c9c9c9"}


@dataclass
class Span:
    kind: str           # starting | running | stopping
    start: float        # seconds since the origin
    end: float | None   # None: still open at the end of the record


@dataclass
class Row:
    job: str
    instance: str
    spans: list[Span] = field(default_factory=list)
    first_running: float | None = None
    critical: bool = False

    @property
    def label(self) -> str:
        return f"{self.job} ({self.instance})" if self.instance else self.job


@dataclass
class Timeline:
    origin: float
    end: float
    rows: list[Row]
    chain: list[str]    # labels of the critical chain, the last-started first


def spans(records: list[dict]) -> Timeline:
    """Rows in order of first appearance; open spans end at the last record."""
    if not records:
        return Timeline(0.0, 0.0, [], [])
    origin = records[0]["mono"]
    end = records[-1]["mono"] - origin
    rows: dict[tuple[str, str], Row] = {}
    for rec in records:
        if rec.get("kind") != "state":
            continue
        key = (rec["job"], rec["instance"])
        t = rec["mono"] - origin
        row = rows.get(key)
        state = rec["state"]
        if row is None:
            if state not in STATE_SPAN:
                continue
            row = rows[key] = Row(*key)
        open_span = row.spans[-1] if row.spans and row.spans[-1].end is None else None
        kind = STATE_SPAN.get(state)
        if kind is not None:
            if open_span is not None and open_span.kind == kind:
                continue
            if open_span is not None:
                open_span.end = t
            row.spans.append(Span(kind, t, None))
            if kind == "running" and row.first_running is None:
                row.first_running = t
        elif state == "waiting" and open_span is not None:
            open_span.end = t
    timeline = Timeline(origin, end, list(rows.values()), [])
    timeline.chain = critical_chain(records, timeline)
    for row in timeline.rows:
        row.critical = row.label in timeline.chain
    return timeline


def critical_chain(records: list[dict], timeline: Timeline) -> list[str]:
    """Labels from the instance that reached `running` last back to its root cause."""
    started = [r for r in timeline.rows if r.first_running is not None]
    if not started:
        return []
    last = max(started, key=lambda r: r.first_running)
    goals: dict[tuple[str, str], dict] = {}
    events: dict[int, dict] = {}
    for rec in records:
        kind = rec.get("kind")
        if kind == "goal" and rec["goal"] == "start":
            goals.setdefault((rec["job"], rec["instance"]), rec["cause"])
        elif kind == "event-queued":
            events[rec["id"]] = rec
    chain = [last.label]
    key = (last.job, last.instance)
    seen = {key}
    while True:
        cause = goals.get(key)
        if not cause or cause.get("type") != "event":
            break
        ev = events.get(cause.get("event"))
        while ev is not None and ev["by"].get("type") == "failure":
            ev = events.get(ev["by"].get("event"))
        if ev is None or ev["by"].get("type") != "job":
            break
        key = (ev["by"]["job"], ev["by"]["instance"])
        if key in seen:
            break
        seen.add(key)
        chain.append(f"{key[0]} ({key[1]})" if key[1] else key[0])
    return chain


def text(timeline: Timeline) -> str:
    """One line per row: label, then each span as kind start-end."""
    lines = []
    for row in timeline.rows:
        parts = []
        for s in row.spans:
            end = f"{s.end:.3f}" if s.end is not None else "..."
            parts.append(f"{s.kind} {s.start:.3f}-{end}")
        mark = "*" if row.critical else " "
        lines.append(f"{mark} {row.label}: " + ", ".join(parts))
    if timeline.chain:
        lines.append("critical chain: " + " <- ".join(timeline.chain))
    return "\n".join(lines) + ("\n" if lines else "")


def _ticks(total: float) -> float:
    for step in (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600):
        if total / step <= 20:
            return step
    return 3600.0


def svg(timeline: Timeline, title: str = "Boot timeline") -> str:
    """An SVG chart: a row per instance, coloured spans, critical chain in red."""
    total = max(timeline.end, 0.001)
    left, top, row_h, width = 10, 50, 22, 1000
    scale = width / total
    height = top + row_h * len(timeline.rows) + 60
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 2 * left + 200}" '
        f'height="{height}" font-family="sans-serif" font-size="11">',
        '<rect x="0" y="0" width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="20" font-size="16">{escape(title)}</text>',
        f'<text x="{left}" y="38">{total:.3f} s; critical chain: '
        f'{escape(" <- ".join(timeline.chain))}</text>',
    ]
    step = _ticks(total)
    n = 0
    while n * step <= total + 1e-9:
        x = left + n * step * scale
        out.append(f'<line x1="{x:.2f}" y1="{top - 4}" x2="{x:.2f}" '
                   f'y2="{top + row_h * len(timeline.rows)}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{x:.2f}" y="{top + row_h * len(timeline.rows) + 14}" '
                   f'font-size="9">{n * step:g}s</text>')
        n += 1
    for i, row in enumerate(timeline.rows):
        y = top + i * row_h
        for s in row.spans:
            end = s.end if s.end is not None else total
            x = left + s.start * scale
            w = max((end - s.start) * scale, 1.0)
            stroke = ' stroke="red" stroke-width="1.5"' if row.critical else ""
            out.append(f'<rect class="{s.kind}" x="{x:.2f}" y="{y + 3}" width="{w:.2f}" '
                       f'height="{row_h - 6}" fill="{COLOURS[s.kind]}"{stroke}>'
                       f'<title>{escape(row.label)} {s.kind} {s.start:.3f}-{end:.3f}</title>'
                       '</rect>')
        first = row.spans[0].start if row.spans else 0.0
        weight = ' font-weight="bold" fill="red"' if row.critical else ""
        out.append(f'<text class="job" x="{left + first * scale + 3:.2f}" y="{y + row_h - 7}"'
                   f'{weight}>{escape(row.label)}</text>')
    ly = top + row_h * len(timeline.rows) + 35
    for k, (kind, colour) in enumerate(COLOURS.items()):
        x = left + k * 110
        out.append(f'<rect x="{x}" y="{ly - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{ly}">{kind}</text>')
    out.append(f'<text x="{left + 340}" y="{ly}" fill="red">red outline: critical chain</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
