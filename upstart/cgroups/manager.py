"""The cgroup manager: init's own, in place of 1.13's cgmanager.

What it is: the daemon-side owner of the cgroups of running job
instances. Before a process of a job with `cgroup` stanzas is spawned,
`prepare(request)` plans (upstart.cgroups.model), creates the cgroups,
enables v2 controllers, writes the settings and returns the
`cgroup.procs` files the child writes itself into before exec. `kill(pid,
sig)` signals every process of the instance owning `pid` (the whole
cgroup, so double-forked daemons cannot escape), `state_changed(...)` at
`waiting` kills what is left and removes the cgroups (retrying while the
last members exit), and `status(job)` reports cgroups and usage.

What it owns: the per-instance record of cgroup directories, and the set
of warnings already given (one per job and problem). It must never fail a
spawn (anything it cannot do is a warning and the stanza becomes a no-op),
never touch cgroups it did not create for a job, and never block longer
than a freeze takes.
"""

from __future__ import annotations

import os
import signal

from upstart.cgroups import fs
from upstart.cgroups.lazy import wants_cgroup
from upstart.cgroups.model import V1, V2, JobPlan, Placement, plan_job, session_prefix
from upstart.process import endrule
from upstart.records import dataclass, field

REMOVE_RETRY = 0.05       # seconds between attempts to remove a busy cgroup
REMOVE_TRIES = 100        # about five seconds


@dataclass
class _Instance:
    dirs: dict[tuple[str, str], tuple[fs.Hierarchy, str]] = field(default_factory=dict)
    track: str | None = None          # directory of the tracking cgroup
    track_kind: str = V2
    # automatic tracking (issue #26, docs/design/tracking.md): an instance of a
    # job without `cgroup` stanza, its kill signal/timeout, whether this run's
    # main process was spawned, when init first signalled the instance
    auto: bool = False
    kill_signal: int = int(signal.SIGTERM)
    kill_timeout: float = 5.0
    main_seen: bool = False
    signalled_at: float | None = None
    draining: int = 0                 # >0: leftovers are being waited for (a token)
    group_only: bool = False          # `kill mode group`: stop as 1.13, release the rest
    cleaning: bool = False            # removal retries pending (cancelled by a new spawn)


def scoped(job: str, scope: str | None) -> str:
    """The manager's name for a job: its own, or `<root>:<job>` for a chroot
    session's job, so that the host's and a chroot's job of one name are two."""
    return job if scope is None else f"{scope}:{job}"


class CGroupManager:
    def __init__(self, hierarchies: list[fs.Hierarchy], *, log=None, loop=None,
                 enabled: bool = True, track_all: bool = False,
                 homes: list[fs.Hierarchy] | None = None):
        self.enabled = enabled
        self.track_all = track_all     # issue #26: every job gets a tracking cgroup
        self._homes = homes            # init's own cgroups (None: read when needed)
        self._tokens = 0
        self.log = log or (lambda priority, message: None)
        self.loop = loop
        self.v1: dict[str, fs.Hierarchy] = {}
        self.v2: fs.Hierarchy | None = None
        self._take(hierarchies)
        self.rediscover = None         # () -> hierarchies, when cgroupfs may appear later
        self._looked = 0.0

    def _take(self, hierarchies: list[fs.Hierarchy]) -> None:
        self.v1, self.v2 = {}, None
        for h in hierarchies:
            if h.kind == V1:
                for c in h.controllers:
                    self.v1.setdefault(c, h)
            elif self.v2 is None:
                self.v2 = h
        self._instances: dict[tuple[str, str], _Instance] = {}
        self._warned: set[tuple[str, str]] = set()

    @classmethod
    def from_environ(cls, environ: dict[str, str], **kw) -> CGroupManager:
        """`UPSTART_CGROUP_BASE` (a path from each hierarchy's root) puts every
        job cgroup below it; otherwise they go below init's own cgroups."""
        base = environ.get("UPSTART_CGROUP_BASE") or None
        manager = cls(fs.discover(base), **kw)
        manager.rediscover = lambda: fs.discover(base)
        return manager

    # ------------------------------------------------------------ spawn

    def wants(self, request) -> bool:
        return wants_cgroup(request.job_class, enabled=self.enabled, track_all=self.track_all)

    def can_track(self) -> bool:
        """Is there a hierarchy where an automatic tracking cgroup can be made
        (the unified one, else a v1 freezer)? At boot `/sys/fs/cgroup` is
        mounted by a job after the first spawns: while there is none, the
        mounts are read again (at most once a second)."""
        if self._trackable():
            return True
        if self.rediscover is None or self.loop is None or \
                self.loop.time() - self._looked < 1.0:
            return False
        self._looked = self.loop.time()
        self._take(self.rediscover())
        self._homes = None
        return self._trackable()

    def _trackable(self) -> bool:
        if self.v2 is not None and fs.writable(self.v2):
            return True
        freezer = self.v1.get("freezer")
        return freezer is not None and fs.writable(freezer)

    def prepare(self, request, scope: str | None = None) -> tuple[str, ...]:
        """Create and configure the cgroups of the process about to be spawned;
        return the `cgroup.procs` files it must join (possibly none). `scope`:
        the chroot session's root of a session job (None: a global job)."""
        if not self.wants(request):
            return ()
        try:
            return self._prepare(request, scope)
        except Exception as exc:   # noqa: BLE001 - never fail a spawn over cgroups
            self._warn(request.job, request.instance, [f"cgroup set-up failed: {exc}"])
            return ()

    def _prepare(self, request, scope: str | None = None) -> tuple[str, ...]:
        if not request.job_class.cgroups:
            return self._prepare_auto(request, scope)
        job, inst = scoped(request.job, scope), request.instance
        env = {}
        for item in request.env:
            k, sep, v = item.partition("=")
            if sep:
                env[k] = v
        v1_ok = {c for c, h in self.v1.items() if fs.writable(h)}
        v2_ok = None
        if self.v2 is not None and fs.writable(self.v2):
            v2_ok = fs.v2_available(self.v2)
        plan = plan_job(request.job_class.cgroups, job=request.job, instance=inst, env=env,
                        v1_controllers=v1_ok, v2_available=v2_ok,
                        freezer_v1="freezer" in v1_ok,
                        prefix=session_prefix(scope) if scope else "")
        problems = list(plan.warnings)
        for entry in request.job_class.cgroups:
            hier = self.v1.get(entry.controller)
            if hier is not None and entry.controller not in v1_ok:
                problems.append(f"cannot write cgroups below {hier.base}")
        if self.v2 is None and not self.v1:
            problems = ["no cgroup file system is mounted: cgroup stanza ignored"]
        record = self._instances.setdefault((job, inst), _Instance())
        record.cleaning = False
        record.group_only = request.job_class.kill_mode == "group"
        joined = self._create(plan, record, problems)
        self._write(plan, record, problems)
        self._warn(job, inst, problems)
        return joined

    def _prepare_auto(self, request, scope: str | None) -> tuple[str, ...]:
        """Automatic tracking (issue #26): the instance's tracking cgroup only,
        `upstart/<job>[-<instance>]` (no controller, no setting)."""
        job, inst = scoped(request.job, scope), request.instance
        record = self._instances.get((job, inst))
        if record is not None and record.draining:
            self._kill_instance(record, signal.SIGKILL)   # starting again: old leftovers go
            record.draining = 0
        if not self.can_track():
            return ()
        v2_ok = set() if self.v2 is not None and fs.writable(self.v2) else None
        freezer = self.v1.get("freezer")
        plan = plan_job((), job=request.job, instance=inst, env={}, v1_controllers=set(),
                        v2_available=v2_ok,
                        freezer_v1=freezer is not None and fs.writable(freezer),
                        prefix=session_prefix(scope) if scope else "")
        record = self._instances.setdefault((job, inst), _Instance(auto=True))
        record.cleaning = False
        jc = request.job_class
        record.kill_signal, record.kill_timeout = jc.kill_signal, jc.kill_timeout
        if request.slot == "main":
            record.main_seen, record.signalled_at = True, None
        problems: list[str] = []
        joined = self._create(plan, record, problems)
        if problems:
            self._warn_auto(job, problems)
        return joined

    def _warn_auto(self, job: str, problems: list[str]) -> None:
        new = [p for p in dict.fromkeys(problems) if (job, p) not in self._warned]
        if new:
            self._warned.update((job, p) for p in new)
            self.log("warn", f"{job}: processes not tracked: " + "; ".join(new))

    def home_procs(self, procs: str) -> str | None:
        """The `cgroup.procs` of init's own cgroup in the hierarchy of `procs`
        (where init goes back after spawning inside a job's cgroup)."""
        if self._homes is None:
            self._homes = fs.discover(None)
        best = None
        for h in self._homes:
            if procs.startswith(h.mountpoint.rstrip("/") + "/") and (
                    best is None or len(h.mountpoint) > len(best.mountpoint)):
                best = h
        return os.path.join(best.base, "cgroup.procs") if best is not None else None

    def _hier(self, place: Placement) -> fs.Hierarchy | None:
        return self.v2 if place.world == V2 else self.v1.get(place.controller)

    def _create(self, plan: JobPlan, record: _Instance, problems: list[str]) -> tuple[str, ...]:
        joined: list[str] = []
        for place in plan.placements:
            hier = self._hier(place)
            if hier is None:
                continue
            try:
                path = fs.make(hier, place.path)
            except OSError as err:
                problems.append(f"cannot create cgroup {hier.path(place.path)}: "
                                f"{os.strerror(err.errno)}")
                continue
            record.dirs[(hier.mountpoint, place.path)] = (hier, place.path)
            procs = os.path.join(path, "cgroup.procs")
            if procs not in joined:
                joined.append(procs)
            if place == plan.track:
                record.track, record.track_kind = path, place.world
        for rel, ctrls in plan.v2_controllers.items():
            if self.v2 is None:
                continue
            try:
                fs.enable_v2(self.v2, rel, ctrls)
            except OSError as err:
                problems.append(f"cannot enable {' '.join(sorted(ctrls))} for "
                                f"{self.v2.path(rel)}: {os.strerror(err.errno)}")
        return tuple(joined)

    def _write(self, plan: JobPlan, record: _Instance, problems: list[str]) -> None:
        for place, w in plan.writes:
            hier = self._hier(place)
            if hier is None or (hier.mountpoint, place.path) not in record.dirs:
                continue
            try:
                fs.apply_write(place.world, place.controller, hier.path(place.path), w)
            except OSError as err:
                problems.append(f"cannot set {w.filename}={w.value}: "
                                f"{os.strerror(err.errno) if err.errno else err}")

    def _warn(self, job: str, inst: str, problems: list[str]) -> None:
        new = [p for p in dict.fromkeys(problems) if (job, p) not in self._warned]
        if not new:
            return
        self._warned.update((job, p) for p in new)
        label = job + (f" ({inst})" if inst else "")
        self.log("warn", f"{label}: cgroup stanza not fully applied: " + "; ".join(
            p.removeprefix(label + ": ") for p in new))

    # ------------------------------------------------------------- kill

    def owner(self, pid: int) -> tuple[str, str] | None:
        """The instance whose tracking cgroup holds `pid`: first the one whose
        path ends as `/proc/PID/cgroup` says, else a scan of every instance."""
        own = fs.parse_proc_cgroup(fs.read(f"/proc/{pid}/cgroup") or "")
        for key, record in self._instances.items():
            want = own.get(frozenset() if record.track_kind == V2 else frozenset({"freezer"}))
            if record.track and want and want != "/" and \
                    record.track.rstrip("/").endswith(want.rstrip("/")) and \
                    pid in fs.members(record.track):
                return key
        for key, record in self._instances.items():
            if record.track and pid in fs.members(record.track):
                return key
        return None

    def kill(self, pid: int, sig: int) -> bool:
        """Signal the whole cgroup of the instance that `pid` belongs to. False
        when `pid` is in no job cgroup (the caller signals the process group)."""
        key = self.owner(pid)
        if key is None:
            return False
        record = self._instances[key]
        if record.group_only:
            return False               # `kill mode group`: the caller kills the group
        if record.signalled_at is None and self.loop is not None:
            record.signalled_at = self.loop.time()
        return self._kill_instance(record, sig)

    def _kill_instance(self, record: _Instance, sig: int) -> bool:
        if record.track is None:
            return False
        if os.getpid() in fs.procs(record.track):   # never signal init itself
            home = self.home_procs(os.path.join(record.track, "cgroup.procs"))
            try:
                fs.write(home or "", "0")
            except OSError:
                return fs.sweep(lambda: fs.members(record.track), sig) > 0
        if record.track_kind == V2:
            return fs.kill_v2(record.track, sig)
        return fs.kill_v1_freezer(record.track, sig)

    # ---------------------------------------------------------- cleanup

    def state_changed(self, job: str, instance: str, state: str,
                      scope: str | None = None) -> None:
        job = scoped(job, scope)
        record = self._instances.get((job, instance))
        if state != "waiting" or record is None:
            return
        if record.auto:
            self._auto_end(job, instance, record)
        else:
            if record.group_only and record.track is not None and fs.populated(record.track):
                self._release(record)   # `kill mode group`: as 1.13, survivors live on
            self.cleanup(job, instance)

    # -------------------------------------------- automatic tracking: the end

    def _auto_end(self, job: str, instance: str, record: _Instance) -> None:
        """An automatically tracked instance reached `waiting`: the end rule
        (`endrule.next_step`, tracking.md) says whether the leftovers are
        released (a natural end), or signalled and then waited for."""
        now = self.loop.time() if self.loop is not None else 0.0
        step = endrule.next_step(
            left=record.track is not None and fs.populated(record.track),
            main_seen=record.main_seen, signalled_at=record.signalled_at, now=now,
            kill_timeout=record.kill_timeout)
        if step.action == endrule.CLEANUP:
            self.cleanup(job, instance)
            return
        if step.action == endrule.RELEASE:
            moved = self._release(record)
            self.log("info", f"{job}: {moved} process(es) left by its main process released")
            self.cleanup(job, instance)
            return
        if step.action == endrule.SIGNAL_AND_WAIT:
            record.signalled_at = now
            self._kill_instance(record, record.kill_signal)
        self._tokens += 1
        record.draining = self._tokens
        self._drain(job, instance, record.draining)

    def _drain(self, job: str, instance: str, token: int) -> None:
        record = self._instances.get((job, instance))
        if record is None or record.draining != token:
            return                     # started again (leftovers killed) or gone
        step = endrule.next_step(
            left=record.track is not None and fs.populated(record.track),
            main_seen=record.main_seen, signalled_at=record.signalled_at or 0.0,
            now=self.loop.time() if self.loop is not None else 0.0,
            kill_timeout=record.kill_timeout)
        if step.action == endrule.WAIT and self.loop is not None:
            self.loop.call_later(step.delay, self._drain_safe, job, instance, token)
            return
        record.draining = 0
        if step.action != endrule.CLEANUP:     # KILL (or WAIT with no loop to wait on)
            self.log("info", f"{job}: killing processes left after kill timeout")
        self.cleanup(job, instance)    # SIGKILLs anything still there, removes

    def _drain_safe(self, job: str, instance: str, token: int) -> None:
        try:
            self._drain(job, instance, token)
        except Exception as exc:   # noqa: BLE001 - a timer callback must not raise
            self.log("error", f"cgroup cleanup of {job} failed: {exc}")

    def _release(self, record: _Instance) -> int:
        """Move every process of the instance's cgroups to init's own cgroup
        in each hierarchy (rounds: a process forked meanwhile is moved by the
        next one)."""
        moved: set[int] = set()
        paths = [hier.path(rel) for hier, rel in record.dirs.values()]
        if record.track is not None and record.track not in paths:
            paths.append(record.track)
        for path in paths:
            home = self.home_procs(os.path.join(path, "cgroup.procs"))
            for _ in range(8):
                pids = fs.members(path) - {os.getpid()} if os.path.isdir(path) else set()
                if not pids or home is None:
                    break
                for pid in sorted(pids):
                    try:
                        fs.write(home, str(pid))
                        moved.add(pid)
                    except OSError:
                        pass
        return len(moved)

    def cleanup(self, job: str, instance: str, tries: int = REMOVE_TRIES) -> bool:
        """The instance is gone: kill what is left in its cgroups and remove
        them. Returns True when every directory is gone now; otherwise retries
        on the loop (members take a moment to exit)."""
        record = self._instances.get((job, instance))
        if record is None:
            return True
        if record.track is not None and fs.populated(record.track):
            self._kill_instance(record, signal.SIGKILL)
        for hier, rel in record.dirs.values():
            path = hier.path(rel)
            if os.path.isdir(path) and fs.populated(path):
                fs.sweep(lambda p=path: fs.members(p), signal.SIGKILL)
        left = {}
        for key, (hier, rel) in record.dirs.items():
            try:
                gone = fs.remove_tree(hier.path(rel))
            except OSError:
                gone = True      # not ours to fight over
            if gone:
                fs.prune(hier, rel)
            else:
                left[key] = (hier, rel)
        record.dirs = left
        if not left:
            if self._instances.get((job, instance)) is record:
                del self._instances[(job, instance)]
            return True
        if tries > 0 and self.loop is not None:
            record.cleaning = True
            self.loop.call_later(REMOVE_RETRY, self._retry, job, instance, tries - 1)
        elif tries <= 0:
            self.log("warn", f"cgroups of {job} could not be removed: "
                     + ", ".join(h.path(r) for h, r in left.values()))
        return False

    def _retry(self, job: str, instance: str, tries: int) -> None:
        record = self._instances.get((job, instance))
        if record is None or not record.cleaning:
            return                     # a new run has begun in the same cgroups
        record.cleaning = False
        try:
            self.cleanup(job, instance, tries)
        except Exception as exc:   # noqa: BLE001 - a timer callback must not raise
            self.log("error", f"cgroup cleanup of {job} failed: {exc}")

    def close(self) -> None:
        """Init is leaving: remove what can be removed now."""
        for job, inst in list(self._instances):
            self.cleanup(job, inst, tries=0)

    # ---------------------------------------------------------- re-exec

    def export_state(self) -> dict:
        """JSON-able record of the instances' cgroups, for a stateful re-exec."""
        return {"version": 1, "instances": [
            {"job": job, "instance": inst, "track": r.track, "track_kind": r.track_kind,
             "auto": r.auto, "kill_signal": r.kill_signal, "kill_timeout": r.kill_timeout,
             "main_seen": r.main_seen, "signalled": r.signalled_at is not None,
             "group_only": r.group_only,
             "dirs": [[h.kind, sorted(h.controllers), h.mountpoint, h.base, rel]
                      for h, rel in r.dirs.values()]}
            for (job, inst), r in self._instances.items()]}

    def adopt_state(self, state: dict) -> None:
        """Take over `export_state()` of the previous init (same machine)."""
        if not isinstance(state, dict) or state.get("version") != 1:
            return
        for item in state.get("instances", []):
            record = _Instance(track=item.get("track"), track_kind=item.get("track_kind", V2),
                               auto=bool(item.get("auto")),
                               kill_signal=int(item.get("kill_signal", signal.SIGTERM)),
                               kill_timeout=float(item.get("kill_timeout", 5)),
                               main_seen=bool(item.get("main_seen")),
                               group_only=bool(item.get("group_only")))
            if item.get("signalled"):    # the kill timeout starts again from the re-exec
                record.signalled_at = self.loop.time() if self.loop is not None else 0.0
            for kind, ctrls, mountpoint, base, rel in item.get("dirs", []):
                hier = fs.Hierarchy(kind, frozenset(ctrls), mountpoint, base)
                record.dirs[(mountpoint, rel)] = (hier, rel)
            self._instances[(item["job"], item["instance"])] = record

    # ----------------------------------------------------------- status

    def status(self, job: str) -> list[dict]:
        """Per instance: its cgroups, memory in use (bytes), pids count."""
        out = []
        for (j, inst), record in sorted(self._instances.items()):
            if j != job:
                continue
            groups, memory, pids = [], None, None
            for hier, rel in record.dirs.values():
                path = hier.path(rel)
                if not os.path.isdir(path):
                    continue
                if hier.kind == V1:
                    groups.append(f"{','.join(sorted(hier.controllers))}:{path}")
                    if "memory" in hier.controllers:
                        memory = _int(fs.read_value(V1, "memory", path,
                                                    "memory.usage_in_bytes"))
                    if "pids" in hier.controllers:
                        pids = _int(fs.read_value(V1, "pids", path, "pids.current"))
                else:
                    groups.append(f"unified:{path}")
                    memory = _int(fs.read_value(V2, "", path, "memory.current")) \
                        if memory is None else memory
                    pids = _int(fs.read_value(V2, "", path, "pids.current")) \
                        if pids is None else pids
            if pids is None and record.track is not None:
                pids = len(fs.members(record.track))
            out.append({"instance": inst, "cgroups": groups, "memory": memory,
                        "pids": pids})
        return out


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
