"""`make demo`: boot the stock jobs with our init as PID 1, look, shut down.

The demo never touches the host: it runs in its own network namespace (so
the system socket `unix:abstract=/com/ubuntu/upstart` is private) and mount
namespace (fresh /run with an empty utmp, a private /dev/kmsg file for init's
log, our tools bind-mounted on /usr/local/sbin so that the stock jobs find
`telinit`, `initctl`, `upstart-rc`), and init is PID 1 of a new PID namespace.
The environment says `container=upstart-demo`, so the tty jobs stand down.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(os.path.abspath(sys.executable))
# the tools the stock jobs and the demo run; every `upstart-*` program of the
# package (bridges, monitor, rc, ...) joins them (`_tools`)
TOOLS = ("initctl", "start", "stop", "restart", "reload", "status", "telinit", "runlevel",
         "shutdown", "reboot", "halt", "poweroff", "init-checkconf", "initctl2dot")


def _tools() -> list[str]:
    return sorted(set(TOOLS) | {n for n in os.listdir(BIN) if n.startswith("upstart-")})


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"


def stock_confdir(into: str) -> str:
    """A directory holding the stock system jobs: `jobs/*.conf` and nothing else
    (`jobs/session/` are Session Init jobs, `jobs/examples/` the guide's examples)."""
    path = os.path.join(into, "stock")
    os.makedirs(path, exist_ok=True)
    jobs = os.path.join(HERE, "jobs")
    for name in sorted(os.listdir(jobs)):
        if name.endswith((".conf", ".override")) and os.path.isfile(os.path.join(jobs, name)):
            shutil.copy(os.path.join(jobs, name), os.path.join(path, name))
    return path


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def _run(title: str, *cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={"PATH": DEFAULT_PATH})
    out = proc.stdout + proc.stderr
    print(f"$ {title}")
    print(out.rstrip() or "(nothing)")
    print()
    return out


def inner() -> int:
    tmp = tempfile.mkdtemp(prefix="upstart-demo-")
    try:
        sbin = os.path.join(tmp, "sbin")
        os.makedirs(sbin)
        for tool in _tools():
            if os.path.exists(os.path.join(BIN, tool)):
                os.symlink(os.path.join(BIN, tool), os.path.join(sbin, tool))
        _sh("mount", "--make-rprivate", "/")
        _sh("mount", "--bind", sbin, "/usr/local/sbin")
        _sh("mount", "-t", "tmpfs", "tmpfs", "/run")
        # the bridges keep state under /var/lib/upstart: keep it in the namespace
        _sh("mount", "-t", "tmpfs", "tmpfs", "/var/lib")
        # the host's SysV scripts are not ours to run: hide them
        for d in ["/etc/init.d"] + [f"/etc/rc{n}.d" for n in "0123456S"]:
            if os.path.isdir(d):
                _sh("mount", "-t", "tmpfs", "tmpfs", d)
        open("/run/utmp", "w").close()
        kmsg = os.path.join(tmp, "kmsg")
        open(kmsg, "w").close()
        _sh("mount", "--bind", kmsg, "/dev/kmsg")
        logdir = os.path.join(tmp, "log")
        os.makedirs(logdir)
        env = {"PATH": DEFAULT_PATH, "HOME": "/root", "container": "upstart-demo",
               "TERM": os.environ.get("TERM", "linux")}
        init = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc",
             os.path.join(BIN, "init"), "--confdir", stock_confdir(tmp),
             "--append-confdir", os.path.join(HERE, "examples", "demo"),
             "--logdir", logdir],
            env=env, stdin=subprocess.DEVNULL)
        print("Booting jobs/ with upstart-py as PID 1 of a new PID namespace...\n")
        deadline = time.monotonic() + 20
        level = ""
        while time.monotonic() < deadline:
            probe = subprocess.run([os.path.join(sbin, "runlevel")], capture_output=True,
                                   text=True, env={"PATH": DEFAULT_PATH})
            level = probe.stdout.strip()
            if probe.returncode == 0 and level.endswith("2"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        _run("runlevel", os.path.join(sbin, "runlevel"))
        _run("initctl version", os.path.join(sbin, "initctl"), "version")
        _run("initctl list", os.path.join(sbin, "initctl"), "list")
        _run("start worker NAME=extra", os.path.join(sbin, "start"), "worker", "NAME=extra")
        for job in ("rc-sysinit", "mountall", "heartbeat", "upstart-time-bridge", "tty1"):
            _run(f"initctl status {job}", os.path.join(sbin, "initctl"), "status", job)
        _run("initctl show-config rc", os.path.join(sbin, "initctl"), "show-config", "rc")
        _run("cat heartbeat.log", "cat", os.path.join(logdir, "heartbeat.log"))
        _run("shutdown -h now", os.path.join(sbin, "shutdown"), "-h", "now")
        try:
            status = init.wait(timeout=30)
        except subprocess.TimeoutExpired:
            init.kill()
            status = init.wait()
        print(f"init (PID 1) exited with status {status}\n")
        print("init's log (/dev/kmsg):")
        with open(kmsg, errors="replace") as f:
            print(f.read().rstrip() or "(empty)")
        return 0 if status == 0 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    if os.geteuid() != 0:
        print("make demo needs root (it makes PID, mount and network namespaces)",
              file=sys.stderr)
        return 1
    if os.environ.get("UPSTART_DEMO_INNER") != "1":
        env = dict(os.environ, UPSTART_DEMO_INNER="1")
        return subprocess.call(["unshare", "--net", "--mount", sys.executable, "-m",
                                "upstart.demo"], env=env)
    return inner()


if __name__ == "__main__":
    sys.exit(main())
