"""Replays one golden scenario against our init and records what happened (raw).

Run by ``test_golden.py`` as::

    unshare --net --mount --propagation private --pid --fork --kill-child --mount-proc \\
        python golden_replay.py SCENARIO.json WORKDIR BINDIR

so this process is PID 1 of a private PID namespace with its own network namespace
(init's abstract sockets, system or session, are ours alone) and its own mount
namespace.  When it exits, or when the test kills ``unshare``, the kernel kills every
process of the namespace: init, its jobs and the steps' commands.  Nothing leaks.

It builds ``WORKDIR/t`` (the ``<T>`` of the scenario), starts init in the scenario's
``mode`` (``pid1`` through ``pid1_wrapper.sh``), opens the event stream, runs the steps
and writes ``WORKDIR/result.json``: for every step the raw outputs (``rc``, ``stdout``,
``stderr``, ``running``, ``ok``, ``exit-status``, ``note`` on trouble), the raw event
stream, the raw content of the files, init's raw log.  Normalising and comparing are
the test's business (``golden_compare.py``); only ``wait-status`` and ``wait-event`` need
normalised text here, to know when to stop waiting.

The scenario passed in is the one to *run*: ``compare.adjust_scenario`` has already
applied the project's deliberate changes to it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback

try:
    from . import dbus_events, normalise
except ImportError:  # run as a script inside the namespace
    import dbus_events  # type: ignore[no-redef]
    import normalise  # type: ignore[no-redef]

README_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEM_SOCKET = "/com/ubuntu/upstart"
RUN_TIMEOUT = 20.0  # a `run` step that takes longer is recorded as timed out
AWAIT_TIMEOUT = 20.0
WAIT_TIMEOUT = 10.0
INIT_EXIT_TIMEOUT = 15.0
READY_TIMEOUT = 10.0
HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, "pid1_wrapper.sh")
PROGRAMS = {"initctl", "start", "stop", "restart", "reload", "status", "telinit", "runlevel"}


class SetupError(Exception):
    """Init could not be started or did not answer: the scenario cannot run."""


def subst(value, tdir: str):
    """Replace ``<T>`` by the real directory in a string or list of strings."""
    if isinstance(value, str):
        return value.replace("<T>", tdir)
    if isinstance(value, list):
        return [subst(v, tdir) for v in value]
    return value


def job_path(conf: str, name: str) -> str:
    if name.endswith(".override"):
        return os.path.join(conf, name)
    return os.path.join(conf, name + ".conf")


class Replay:
    def __init__(self, scenario: dict, work: str, bindir: str, budget: float) -> None:
        self.sc = scenario
        self.work = work
        self.bindir = bindir
        self.tdir = os.path.join(work, "t")
        self.mode = scenario["mode"]
        self.deadline = time.monotonic() + budget
        self.init: subprocess.Popen | None = None
        self.init_ns_pid: int | None = None  # pid1 mode: init as seen from here
        self.init_exit: int | None = None
        self.stream: dbus_events.EventStream | None = None
        self.bg: dict[str, tuple[subprocess.Popen, str]] = {}
        self.result: dict = {"tdir": self.tdir, "mode": self.mode, "steps": [],
                             "events": [], "files": {}, "log": "", "error": None,
                             "notes": []}

    # -- setting ------------------------------------------------------------------
    def build_tree(self) -> None:
        t = self.tdir
        for sub in ("conf", "log", "home", "bin"):
            os.makedirs(os.path.join(t, sub), exist_ok=True)
        if self.mode == "session":
            os.makedirs(os.path.join(t, "xdg"), exist_ok=True)
            os.chmod(os.path.join(t, "xdg"), 0o700)
        os.symlink(os.path.join(self.bindir, "initctl"), os.path.join(t, "bin", "initctl"))
        for name, text in self.sc.get("jobs", {}).items():
            path = job_path(os.path.join(t, "conf"), name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(subst(text, t))
        os.makedirs(os.path.join(self.work, "async"), exist_ok=True)

    def init_args(self) -> list[str]:
        args = self.sc.get("init-args")
        extra = ["--no-startup-event"] if args is None else list(subst(args, self.tdir))
        t = self.tdir
        base = ["--confdir", f"{t}/conf", "--logdir", f"{t}/log", "--no-dbus"]
        if self.mode == "session":
            base = ["--user", *base]
        return [os.path.join(self.bindir, "init"), *base, *extra]

    def init_env(self) -> dict[str, str]:
        env = {"PATH": README_PATH, "HOME": f"{self.tdir}/home"}
        if self.mode == "session":
            env["XDG_RUNTIME_DIR"] = f"{self.tdir}/xdg"
        for k, v in (self.sc.get("init-env") or {}).items():
            env[k] = subst(v, self.tdir)
        return env

    @property
    def address(self) -> str:
        if self.mode == "session":
            assert self.init is not None
            return f"/com/ubuntu/upstart-session/{os.getuid()}/{self.init.pid}"
        return SYSTEM_SOCKET

    def step_env(self, extra: dict | None = None) -> dict[str, str]:
        # Our bin dir first, so that initctl, start, ... are ours; then the README's PATH.
        env = {"PATH": f"{self.bindir}:{README_PATH}"}
        if self.mode == "session":
            env["UPSTART_SESSION"] = f"unix:abstract={self.address}"
        for k, v in (extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = subst(v, self.tdir)
        return env

    def start_init(self) -> None:
        logpath = os.path.join(self.work, "init.log")
        with open(logpath, "wb") as log:
            if self.mode == "session":
                self.init = subprocess.Popen(
                    self.init_args(), env=self.init_env(), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, cwd="/")
            else:
                envargs = [f"{k}={v}" for k, v in self.init_env().items()]
                self.init = subprocess.Popen(
                    ["/bin/sh", WRAPPER, self.work, "env", "-i", *envargs, *self.init_args()],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd="/")
                self.init_ns_pid = self._find_ns_init()
        self._wait_ready()

    def _find_ns_init(self) -> int:
        """PID-1 mode: the pid (in our namespace) of the child unshare forked."""
        assert self.init is not None
        pid = self.init.pid
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    kids = f.read().split()
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                kids, comm = [], ""
            if kids and comm == "unshare":
                return int(kids[0])
            if self.init.poll() is not None:
                raise SetupError(f"the PID-1 wrapper exited with status {self.init.returncode}")
            time.sleep(0.01)
        raise SetupError("the PID-1 namespace's init did not appear")

    def _wait_ready(self) -> None:
        assert self.init is not None
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while True:
            if self.init.poll() is not None:
                raise SetupError(f"init exited with status {self.init.returncode} before it answered")
            try:
                p = subprocess.run([os.path.join(self.bindir, "initctl"), "version"],
                                   env=self.step_env(), capture_output=True, timeout=3, cwd="/")
                last = (p.returncode, p.stdout, p.stderr)
                if p.returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                last = "initctl version timed out"
            if time.monotonic() >= deadline:
                raise SetupError(f"init did not answer `initctl version` within "
                                 f"{READY_TIMEOUT:g} s (last: {last!r})")
            time.sleep(0.05)

    def open_stream(self, clear: bool) -> None:
        if self.stream is None:
            self.stream = dbus_events.EventStream(self.address)
        try:
            self.stream.connect(timeout=WAIT_TIMEOUT)
        except dbus_events.ConnectError as exc:
            raise SetupError(f"event stream: {exc}") from exc
        if not self.stream.sync(timeout=WAIT_TIMEOUT):
            raise SetupError("event stream: init did not answer the first method call")
        if clear:
            self.stream.clear()

    # -- steps --------------------------------------------------------------------
    def prog(self, argv: list[str]) -> list[str]:
        name = argv[0]
        if name in PROGRAMS:
            return [os.path.join(self.bindir, name), *argv[1:]]
        return list(argv)

    def run_cmd(self, argv, env_extra=None, timeout=RUN_TIMEOUT) -> dict:
        argv = self.prog(subst(list(argv), self.tdir))
        try:
            p = subprocess.run(argv, env=self.step_env(env_extra), capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=timeout, cwd="/")
        except subprocess.TimeoutExpired as exc:
            return {"rc": None, "stdout": _dec(exc.stdout), "stderr": _dec(exc.stderr),
                    "note": f"timed out after {timeout:g} s"}
        except OSError as exc:
            return {"rc": None, "stdout": "", "stderr": "", "note": f"cannot run: {exc}"}
        return {"rc": p.returncode, "stdout": _dec(p.stdout), "stderr": _dec(p.stderr)}

    def start_bg(self, sid: str, argv: list[str]) -> dict:
        argv = self.prog(subst(list(argv), self.tdir))
        out = os.path.join(self.work, "async", f"{len(self.bg)}")
        try:
            with open(out + ".out", "wb") as o, open(out + ".err", "wb") as e:
                proc = subprocess.Popen(argv, env=self.step_env(), stdin=subprocess.DEVNULL,
                                        stdout=o, stderr=e, cwd="/")
        except OSError as exc:
            return {"note": f"cannot run: {exc}"}
        self.bg[sid] = (proc, out)
        return {}

    def await_bg(self, sid: str) -> dict:
        if sid not in self.bg:
            return {"rc": None, "stdout": "", "stderr": "", "note": f"no background command {sid!r}"}
        proc, out = self.bg[sid]
        note = None
        try:
            proc.wait(timeout=AWAIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            note = f"still running after {AWAIT_TIMEOUT:g} s (killed)"
        res = {"rc": None if note else proc.returncode,
               "stdout": _read(out + ".out"), "stderr": _read(out + ".err")}
        if note:
            res["note"] = note
        return res

    def status_output(self, args: list[str]) -> tuple[int | None, str]:
        r = self.run_cmd(["initctl", "status", *args], timeout=5)
        text = r["stdout"] if r["rc"] == 0 else r["stderr"]
        return r["rc"], text

    def signal_pid(self, pid: int, signame: str) -> None:
        os.kill(pid, getattr(signal, "SIG" + signame))

    def ns_to_local(self, nspid: int) -> int:
        """PID-1 mode: translate a pid of init's namespace into ours."""
        if self.mode != "pid1" or self.init_ns_pid is None:
            return nspid
        target = os.readlink(f"/proc/{self.init_ns_pid}/ns/pid")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != target:
                    continue
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            if int(line.split()[-1]) == nspid:
                                return int(entry)
                            break
            except (OSError, ValueError):
                continue
        raise LookupError(f"no process {nspid} in init's namespace")

    def do_step(self, step: dict) -> dict:
        kind = next(iter(step))
        arg = step[kind]
        t = self.tdir
        if kind == "run":
            res = self.run_cmd(arg, step.get("env"))
            return res
        if kind == "emit-async":
            return self.start_bg(step["id"], ["initctl", "emit", *arg])
        if kind == "run-async":
            return self.start_bg(step["id"], arg)
        if kind == "poll":
            if arg not in self.bg:
                return {"running": None, "note": f"no background command {arg!r}"}
            return {"running": self.bg[arg][0].poll() is None}
        if kind == "await":
            return self.await_bg(arg)
        if kind == "sleep":
            time.sleep(float(arg))
            return {}
        if kind == "write-file":
            path = subst(arg, t)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(subst(step.get("content", ""), t))
            return {}
        if kind == "remove-file":
            try:
                os.unlink(subst(arg, t))
            except OSError as exc:
                return {"note": f"remove-file: {exc}"}
            return {}
        if kind == "signal-job":
            rc, text = self.status_output(list(arg))
            first = text.splitlines()[0] if text else ""
            m = re.search(r", process (\d+)", first)
            if not m:
                return {"note": f"signal-job: no process in status output {text!r} (rc {rc})"}
            try:
                self.signal_pid(self.ns_to_local(int(m.group(1))), step["signal"])
            except (OSError, LookupError) as exc:
                return {"note": f"signal-job: {exc}"}
            return {}
        if kind == "signal-init":
            pid = self.init_ns_pid if self.mode == "pid1" else (self.init.pid if self.init else None)
            if pid is None:
                return {"note": "signal-init: no init"}
            try:
                self.signal_pid(pid, arg)
            except OSError as exc:
                return {"note": f"signal-init: {exc}"}
            return {}
        if kind == "wait-event":
            name, want = arg[0], set(subst(arg[1:], t))
            count = int(step.get("count", 1))
            timeout = float(step.get("timeout", WAIT_TIMEOUT))
            assert self.stream is not None

            def enough(events) -> bool:
                n = sum(1 for e in events if e and e[0] == name and want <= set(e[1:]))
                return n >= count

            return {"ok": self.stream.wait_for(enough, timeout)}
        if kind == "wait-status":
            timeout = float(step.get("timeout", WAIT_TIMEOUT))
            until = step["until"]
            deadline = time.monotonic() + timeout
            last = ""
            while True:
                _, text = self.status_output(list(arg))
                last = normalise.normalise(text, t).strip()
                if last == until:
                    return {"ok": True}
                if time.monotonic() >= deadline:
                    return {"ok": False, "note": f"last status: {last!r}"}
                time.sleep(0.05)
        if kind == "wait-file":
            timeout = float(step.get("timeout", WAIT_TIMEOUT))
            path = subst(arg, t)
            deadline = time.monotonic() + timeout
            while not os.path.lexists(path):
                if time.monotonic() >= deadline:
                    return {"ok": False}
                time.sleep(0.02)
            return {"ok": True}
        if kind == "wait-init-exit":
            assert self.init is not None
            try:
                self.init_exit = self.init.wait(timeout=INIT_EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                return {"ok": False, "exit-status": None,
                        "note": f"init still running after {INIT_EXIT_TIMEOUT:g} s"}
            return {"ok": True, "exit-status": self.init_exit}
        if kind == "reconnect":
            try:
                self.open_stream(clear=False)
            except SetupError as exc:
                return {"note": f"reconnect: {exc}"}
            return {}
        return {"note": f"unknown step kind {kind!r}"}

    # -- the whole run ------------------------------------------------------------
    def run(self) -> dict:
        try:
            self.build_tree()
            self.start_init()
            self.open_stream(clear=True)
        except SetupError as exc:
            self.result["error"] = str(exc)
            self.finish()
            return self.result
        for i, step in enumerate(self.sc["steps"]):
            if time.monotonic() > self.deadline:
                self.result["steps"].append({"note": "not run: the scenario's time budget is spent"})
                continue
            try:
                got = self.do_step(step)
            except Exception:
                got = {"note": "runner error:\n" + traceback.format_exc()}
            got["index"] = i
            self.result["steps"].append(got)
        time.sleep(float(self.sc.get("settle", 0.3)))
        self.collect_events()
        self.finish()
        return self.result

    def collect_events(self) -> None:
        s = self.stream
        if s is None:
            return
        init_gone = self.init is not None and self.init.poll() is not None
        if init_gone or s.closed:
            if not s.wait_closed(5.0):
                self.result["notes"].append("event stream: connection still open after init exit")
        elif not s.sync(timeout=WAIT_TIMEOUT):
            if self.init is not None and self.init.poll() is not None:
                s.wait_closed(5.0)
            else:
                self.result["notes"].append("event stream: no reply to the final method call")
        self.result["events"] = s.snapshot()

    def finish(self) -> None:
        for path in (self.sc.get("files") or {}):
            real = subst(path, self.tdir)
            try:
                with open(real, "rb") as f:
                    self.result["files"][path] = _dec(f.read())
            except FileNotFoundError:
                self.result["files"][path] = None
            except OSError as exc:
                self.result["files"][path] = None
                self.result["notes"].append(f"cannot read {path}: {exc}")
        if self.init is not None and self.init.poll() is None:
            self.init.kill()
            try:
                self.init.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.stream is not None:
            self.stream.close()
        self.result["init-stdio"] = _read(os.path.join(self.work, "init.log"))
        if self.mode == "session":
            self.result["log"] = self.result["init-stdio"]
        else:
            self.result["log"] = _read(os.path.join(self.work, "kmsg"))


def _dec(data) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", "surrogateescape")


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return _dec(f.read())
    except OSError:
        return ""


def main(argv: list[str]) -> int:
    scenario_path, work, bindir = argv[1:4]
    budget = float(os.environ.get("UPSTART_GOLDEN_BUDGET", "90"))
    with open(scenario_path) as f:
        scenario = json.load(f)
    replay = Replay(scenario, work, bindir, budget)
    try:
        result = replay.run()
    except Exception:
        result = replay.result
        result["error"] = "runner error:\n" + traceback.format_exc()
    tmp = os.path.join(work, "result.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, os.path.join(work, "result.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
