"""A synchronous driver for a `Supervisor`, for tests, benchmarks and tools.

It plays the daemon's part in miniature: a private reactor (init's loop), a SIGCHLD
handler that calls `reap()` and queues the notes, and `wait()` helpers that
run the loop until a note arrives. It also remembers every pid it spawned
so `close()` can kill their process groups and reap them: nothing is left
running. It must never be used inside the daemon itself.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Callable

from upstart.reactor.futures import sleep
from upstart.reactor.loop import Reactor
from upstart.core.effects import SpawnRequest
from upstart.jobfile.model import JobClass, Process
from upstart.process.notes import Exited, Note, Ready
from upstart.process.supervisor import Supervisor
from procfs import alive as _alive


def request(command: str, *, script: bool = False, job: str = "j", instance: str = "",
            slot: str = "main", env: tuple[str, ...] | None = None, **stanzas) -> SpawnRequest:
    """A SpawnRequest for a throw-away job class with the given stanzas."""
    cls = JobClass(name=job, **stanzas)
    if env is None:
        env = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               f"UPSTART_JOB={job}", f"UPSTART_INSTANCE={instance}")
    return SpawnRequest(job, instance, slot, Process(script, command), tuple(env), cls,
                        trace=slot == "main" and cls.expect in ("fork", "daemon"),
                        stop_on_exec=slot == "main" and cls.expect == "stop")


class Harness:
    def __init__(self, **kwargs):
        self.loop = Reactor()
        kwargs.setdefault("logdir", None)
        kwargs.setdefault("no_log", False)
        kwargs.setdefault("session_init", False)
        self.sup = Supervisor(self.loop, **kwargs)
        self.notes: list[Note] = []
        self.pids: set[int] = set()
        self.loop.add_signal_handler(signal.SIGCHLD, self._on_sigchld)

    def _on_sigchld(self) -> None:
        for note in self.sup.reap():
            self.notes.append(note)
            if isinstance(note, Ready):
                self.pids.add(note.main_pid)

    def spawn(self, req: SpawnRequest) -> int:
        pid = self.sup.spawn(req)
        self.pids.add(pid)
        return pid

    def run(self, seconds: float) -> None:
        self.loop.run_until_complete(sleep(self.loop, seconds))

    def wait(self, match: Callable[[Note], bool], timeout: float = 5.0) -> Note:
        """Run the loop until some note matches; return the first that does."""
        deadline = time.monotonic() + timeout
        while True:
            for note in self.notes:
                if match(note):
                    return note
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching note; got {self.notes}")
            self.run(min(0.005, left))

    def exited(self, pid: int, timeout: float = 5.0) -> Exited:
        note = self.wait(lambda n: isinstance(n, Exited) and n.pid == pid, timeout)
        assert isinstance(note, Exited)
        return note

    def ready(self, pid: int, timeout: float = 5.0) -> Ready:
        note = self.wait(lambda n: isinstance(n, (Ready, Exited)) and n.pid == pid, timeout)
        if not isinstance(note, Ready):
            raise AssertionError(f"expected Ready for {pid}, got {note}")
        # the trace is let go on the loop's next turns (SIGSTOP, then detach):
        # keep the loop running until the main process is no longer traced
        deadline = time.monotonic() + timeout
        while _tracer_of(note.main_pid) not in (0, None) and time.monotonic() < deadline:
            self.run(0.002)
        return note

    def close(self) -> None:
        for pid in self.pids:
            self.sup.kill(pid, signal.SIGKILL, group=True)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 2
        live = set(self.pids)
        while live and time.monotonic() < deadline:
            self.run(0.01)
            live = {p for p in live if _alive(p)}
        self.loop.remove_signal_handler(signal.SIGCHLD)
        self.sup.reap()
        self.sup.close()
        self.loop.close()




def _tracer_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
