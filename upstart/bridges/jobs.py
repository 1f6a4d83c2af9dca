"""Following which jobs wait for one event name (spec 06 intro).

At start-up the watcher lists every job (`GetAllJobs`), reads its `name`,
`start_on` and `stop_on`, and from then on follows `JobAdded`/`JobRemoved`
(a reloaded job is removed and added again). For each job it keeps the
leaves naming the bridge's event and calls `on_change(path, name, leaves)`
whenever they change (`leaves` is empty when the job went away). Owns the
per-path generation counter that makes a slow property read for a job
removed in the meantime harmless. Never interprets the leaves.

A bridge following several event names (the udev bridge's `net-device-up`
and `net-device-down`, the D-Bus bridge's signal and activation events)
makes one watcher and asks it for the others (`also`): one `GetAll` per job
serves them all, instead of one per job and name (at the udev bridge's start in a Debian
boot, ~45 `GetAll` replies fewer for init to serialise).
"""

from __future__ import annotations

from upstart.bridges import conditions
from upstart.control import client, wire
from upstart.reactor.futures import Task, gather


class JobWatcher:
    def __init__(self, link, event: str, on_change, log, *, leader: JobWatcher | None = None):
        self.link = link
        self.event = event
        self.on_change = on_change
        self.log = log
        self.jobs: dict[str, tuple[str, list[tuple[str, ...]]]] = {}
        self.generation: dict[str, int] = {}
        self.tasks: set[Task] = set()
        self.followers: list[JobWatcher] = []
        self.leader = leader
        if leader is None:
            link.on_signal(self._signal, ("JobAdded", "JobRemoved"))
        else:
            leader.followers.append(self)          # the leader reads and follows for us

    def also(self, event: str, on_change) -> JobWatcher:
        """A watcher for another event name, fed by this one's reads (its own
        `start` does nothing: this one's does the listing)."""
        return JobWatcher(self.link, event, on_change, self.log, leader=self)

    async def start(self) -> None:
        """Read every job once (JobAdded/JobRemoved are followed already)."""
        if self.leader is not None:
            return                                   # the leader reads for us
        paths = (await self.link.call(client.MANAGER_PATH, client.MANAGER_IFACE,
                                      "GetAllJobs"))[0]
        await gather(self.link.loop, *(self._fetch(path, self.generation.get(path, 0))
                                       for path in paths))

    def any(self) -> bool:
        """True when at least one job mentions the event."""
        return any(leaves for _, leaves in self.jobs.values())

    def _signal(self, msg) -> None:
        if msg.fields.get(wire.F_INTERFACE) != client.MANAGER_IFACE or not msg.body:
            return
        member = msg.fields.get(wire.F_MEMBER)
        path = msg.body[0]
        if member == "JobAdded":
            gen = self.generation[path] = self.generation.get(path, 0) + 1
            task = self.link.loop.create_task(self._fetch(path, gen))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif member == "JobRemoved":
            self.generation[path] = self.generation.get(path, 0) + 1
            for watcher in (self, *self.followers):
                watcher._set(path, None)

    async def _fetch(self, path: str, gen: int) -> None:
        try:
            props = (await self.link.call(path, client.PROPERTIES_IFACE, "GetAll", "s",
                                          (client.JOB_IFACE,)))[0]
        except client.CallError:
            return                                   # gone meanwhile
        if self.generation.get(path, 0) != gen:
            return
        name = props.get("name", ("s", path))[1]
        start_on = props.get("start_on", ("aas", []))[1]
        stop_on = props.get("stop_on", ("aas", []))[1]
        for watcher in (self, *self.followers):
            watcher._set(path, (name, conditions.job_leaves(start_on, stop_on, watcher.event)))

    def _set(self, path: str, entry) -> None:
        old = self.jobs.pop(path, None)
        if entry is not None:
            self.jobs[path] = entry
        old_leaves = old[1] if old else []
        new_leaves = entry[1] if entry else []
        if old_leaves != new_leaves:
            name = entry[0] if entry else old[0]
            self.on_change(path, name, new_leaves)
