"""Pure cgroup logic for the `cgroup` stanza: names, worlds and key mapping.

A job's `cgroup CONTROLLER [NAME] [KEY VALUE]` entries (parsed into
`upstart.jobfile.model.CGroup`) become, for one instance and one machine,
a `JobPlan`: which cgroup (a path relative to init's base cgroup) each
controller's processes go to, which files are written with which values,
and what cannot be honoured (warnings, never failures: roadmap rule).

Two worlds exist. A controller mounted in a v1 hierarchy is driven the v1
way (`CONTROLLER.KEY`, upstream's rule: `memory limit_in_bytes` writes
`memory.limit_in_bytes`); a controller available in the v2 (unified)
hierarchy is driven the v2 way (`memory.max`). `translate()` maps the
common keys between the two so one job file works on both
(docs/design/cgroups.md has the table).

This module owns no state and must never touch the file system, the
process table or the environment of init.
"""

from __future__ import annotations

import re

from upstart.records import dataclass, field

V1 = "v1"
V2 = "v2"

# --------------------------------------------------------------- names

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def default_name(job: str, instance: str) -> str:
    """`$UPSTART_CGROUP`: `upstart/<job>[-<instance>]`, `/` replaced by `_`."""
    name = job.replace("/", "_")
    if instance:
        name += "-" + instance.replace("/", "_")
    return "upstart/" + name


def session_prefix(root: str) -> str:
    """Where a chroot session's job cgroups go (docs/design/sessions.md):
    `chroot/<root, %-quoted>`, so that a chroot's `web` and the host's `web`,
    or a chroot's named cgroup and the host's, never share a directory."""
    from urllib.parse import quote
    return "chroot/" + quote(root, safe="")


def expand(text: str, env: dict[str, str], job: str, instance: str) -> str:
    """Expand `$UPSTART_CGROUP` (the bare form only, as upstream) and other
    `$VAR`/`${VAR}` from the process environment (unset: empty)."""
    def sub(m: re.Match) -> str:
        if m.group(2) == "UPSTART_CGROUP":
            return default_name(job, instance)
        return env.get(m.group(1) or m.group(2), "")
    return _VAR.sub(sub, text)


def clean_path(name: str) -> str | None:
    """A relative cgroup path from a stanza NAME, or None when it is not
    acceptable (empty, `.`/`..` components, or a component holding a NUL)."""
    parts = [p for p in name.split("/") if p]
    if not parts or any(p in (".", "..") or "\0" in p for p in parts):
        return None
    return "/".join(parts)


# --------------------------------------------------------- key mapping

@dataclass(frozen=True)
class Write:
    """Write `value` into the file `filename` of the cgroup directory.
    `period_of` (cpu.max only): keep the quota already in the file and set
    the period to `value`."""
    filename: str
    value: str
    period_of: bool = False


def _v1_memory(value: str) -> str:
    return "max" if value.strip() == "-1" else value


def _v2_memory(value: str) -> str:
    return "-1" if value.strip() == "max" else value


def shares_to_weight(value: str) -> str:
    """v1 `cpu.shares` (2..262144, default 1024) to v2 `cpu.weight`
    (1..10000, default 100), proportionally around the defaults."""
    shares = int(value)
    return str(min(10000, max(1, shares * 100 // 1024)))


def weight_to_shares(value: str) -> str:
    weight = int(value.split()[-1])
    return str(min(262144, max(2, weight * 1024 // 100)))


def blkio_to_io_weight(value: str) -> str:
    """v1 `blkio.weight` (10..1000, default 500) to v2 `io.weight` (1..10000,
    default 100)."""
    return str(min(10000, max(1, int(value) * 100 // 500)))


def io_to_blkio_weight(value: str) -> str:
    weight = int(value.split()[-1])     # "default N" or "N"
    return str(min(1000, max(10, weight * 500 // 100)))


_THROTTLE = {"read_bps_device": "rbps", "write_bps_device": "wbps",
             "read_iops_device": "riops", "write_iops_device": "wiops"}


def _to_io_max(kind: str, value: str) -> list[Write]:
    dev, _, amount = value.strip().partition(" ")
    amount = amount.strip() or "max"
    if amount == "0":
        amount = "max"                  # v1: 0 removes the rule
    return [Write("io.max", f"{dev} {kind}={amount}")]


def _from_io_max(value: str) -> list[Write]:
    words = value.split()
    if not words:
        raise ValueError("empty io.max value")
    dev, out = words[0], []
    back = {v: k for k, v in _THROTTLE.items()}
    for word in words[1:]:
        kind, _, amount = word.partition("=")
        if kind not in back:
            raise ValueError(f"unknown io.max key {kind}")
        out.append(Write(f"blkio.throttle.{back[kind]}",
                         f"{dev} {'0' if amount == 'max' else amount}"))
    return out


def _cpu_max_to_v1(value: str) -> list[Write]:
    words = value.split()
    quota = "-1" if words[0] == "max" else words[0]
    out = []
    if len(words) > 1:
        out.append(Write("cpu.cfs_period_us", words[1]))
    out.append(Write("cpu.cfs_quota_us", quota))
    return out


def translate(controller: str, key: str, value: str, world: str) -> list[Write]:
    """The writes that carry out `cgroup CONTROLLER … KEY VALUE` in `world`.

    A key of the other world's vocabulary is translated when a mapping
    exists; anything else is written as `CONTROLLER.KEY` unchanged (the
    kernel decides). Raises ValueError for a value a mapping cannot read.
    """
    c, k = controller, key
    if world == V2:
        if c == "memory":
            if k == "limit_in_bytes":
                return [Write("memory.max", _v1_memory(value))]
            if k == "soft_limit_in_bytes":
                return [Write("memory.low", _v1_memory(value))]
            if k == "memsw.limit_in_bytes":
                raise ValueError("memsw.limit_in_bytes has no v2 equivalent")
        elif c == "cpu":
            if k == "shares":
                return [Write("cpu.weight", shares_to_weight(value))]
            if k == "cfs_quota_us":
                return [Write("cpu.max", "max" if value.strip() == "-1" else value.strip())]
            if k == "cfs_period_us":
                return [Write("cpu.max", value.strip(), period_of=True)]
        elif c == "blkio":
            if k == "weight":
                return [Write("io.weight", blkio_to_io_weight(value))]
            if k.startswith("throttle.") and k[9:] in _THROTTLE:
                return _to_io_max(_THROTTLE[k[9:]], value)
        # blkio is called io in v2
        if c == "blkio":
            return [Write(f"io.{k}", value)]
        return [Write(f"{c}.{k}", value)]
    # v1
    if c == "memory":
        if k == "max":
            return [Write("memory.limit_in_bytes", _v2_memory(value))]
        if k == "high":
            return [Write("memory.soft_limit_in_bytes", _v2_memory(value))]
        if k == "low":
            return [Write("memory.soft_limit_in_bytes", _v2_memory(value))]
    elif c == "cpu":
        if k == "weight":
            return [Write("cpu.shares", weight_to_shares(value))]
        if k == "max":
            return _cpu_max_to_v1(value)
    elif c in ("io", "blkio"):
        if k == "weight":
            return [Write("blkio.weight", io_to_blkio_weight(value))]
        if k == "max":
            return _from_io_max(value)
        return [Write(f"blkio.{k}", value)]
    return [Write(f"{c}.{k}", value)]


def v2_controller(controller: str) -> str:
    """The v2 name of a controller (`blkio` is `io`; cpuacct folds into cpu)."""
    return {"blkio": "io", "cpuacct": "cpu"}.get(controller, controller)


# ---------------------------------------------------------------- plans

_V1_NAMES = {"io": "blkio"}

@dataclass(frozen=True)
class Placement:
    """Processes of the job join `path` (relative to the base cgroup) in the
    hierarchy of `controller` (`world` v1), or the unified hierarchy (v2)."""
    world: str
    controller: str            # v1: a controller of the hierarchy; v2: "" or the controller
    path: str


@dataclass
class JobPlan:
    placements: list[Placement] = field(default_factory=list)
    writes: list[tuple[Placement, Write]] = field(default_factory=list)
    v2_controllers: dict[str, set[str]] = field(default_factory=dict)   # path -> controllers
    warnings: list[str] = field(default_factory=list)
    track: Placement | None = None      # the cgroup used to find and kill every process


def plan_job(entries, *, job: str, instance: str, env: dict[str, str],
             v1_controllers: set[str], v2_available: set[str] | None,
             freezer_v1: bool, prefix: str = "") -> JobPlan:
    """Decide where the processes of one instance go and what is written.

    `v1_controllers`: controllers mounted in v1 hierarchies (writable);
    `v2_available`: controllers available at the v2 base (None when there is
    no usable unified hierarchy); `freezer_v1`: a writable v1 freezer
    hierarchy exists (used for tracking when there is no v2); `prefix`: a
    relative path every cgroup of the job goes below (a chroot session's,
    `session_prefix`)."""
    plan = JobPlan()
    label = job + (f" ({instance})" if instance else "")
    v1_paths: dict[str, str] = {}
    v2_path: str | None = None
    default = default_name(job, instance)
    if prefix:
        default = prefix + "/" + default
    for entry in entries:
        raw = entry.name if entry.name is not None else "$UPSTART_CGROUP"
        path = clean_path(expand(raw, env, job, instance))
        if path is None:
            plan.warnings.append(f"{label}: invalid cgroup name {raw!r}: ignored")
            continue
        if prefix:
            path = prefix + "/" + path
        ctrl = entry.controller
        if ctrl not in v1_controllers and _V1_NAMES.get(ctrl) in v1_controllers:
            ctrl = _V1_NAMES[ctrl]
        if ctrl in v1_controllers:
            world = V1
            if ctrl in v1_paths and v1_paths[ctrl] != path:
                plan.warnings.append(
                    f"{label}: cgroup {ctrl}: processes can be in only one of "
                    f"{v1_paths[ctrl]} and {path}; using {path}")
            v1_paths[ctrl] = path
            place = Placement(V1, ctrl, path)
        elif v2_available is not None and v2_controller(ctrl) in v2_available:
            world = V2
            if v2_path is not None and v2_path != path:
                plan.warnings.append(
                    f"{label}: cgroup {ctrl}: processes can be in only one v2 cgroup; "
                    f"using {v2_path}, not {path}")
                path = v2_path
            v2_path = path
            plan.v2_controllers.setdefault(path, set()).add(v2_controller(ctrl))
            place = Placement(V2, v2_controller(ctrl), path)
        else:
            plan.warnings.append(
                f"{label}: cgroup controller {ctrl} is not available: setting ignored")
            continue
        if entry.key is not None:
            value = expand(entry.value or "", env, job, instance)
            try:
                writes = translate(ctrl, entry.key, value, world)
            except ValueError as exc:
                plan.warnings.append(f"{label}: cgroup {ctrl} {entry.key}: {exc}: ignored")
                continue
            plan.writes.extend((place, w) for w in writes)
    for ctrl, path in v1_paths.items():
        plan.placements.append(Placement(V1, ctrl, path))
    if v2_available is not None:
        plan.placements.append(Placement(V2, "", v2_path or default))
        plan.track = plan.placements[-1]
    elif freezer_v1:
        path = v1_paths.get("freezer", default)
        if "freezer" not in v1_paths:
            plan.placements.append(Placement(V1, "freezer", path))
        plan.track = Placement(V1, "freezer", path)
    return plan
