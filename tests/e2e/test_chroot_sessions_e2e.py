"""Chroot sessions end to end (issue #11 item 2, spec 05 §9): init as PID 1 in
its own namespaces with `--chroot-sessions`, a chroot built inside the test's
private mount namespace (bind mounts of the system directories and of this
checkout; nothing is mounted on the host), and `chroot ROOT initctl ...` typed
as a user would. A request from inside acts on the chroot's own jobs (from
ROOT/etc/init), whose processes run inside it."""

from __future__ import annotations

import os
import re
import signal
import sys
from urllib.parse import quote

import pytest
from init_harness import REPO, Pid1Init, write_jobs
from test_cgroups_e2e import HIERS
from test_cgroups_e2e import base as cgroup_base  # noqa: F401 (a pytest fixture)

from upstart.cgroups import fs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, chroot)")

PYTHON_PREFIX = os.path.realpath(sys.base_prefix)   # the interpreter the venv points at
INITCTL = os.path.join(REPO, ".venv", "bin", "initctl")
GLOBAL_JOBS = {
    "hostsvc": "exec sleep 100000\n",
    "ping-host": "task\nstart on ping\nexec touch /run/ping-host-ran\n",
}
CHROOT_JOBS = {
    "inside": "task\nexec touch /marker-inside\n",
    "rooted": ("task\nscript\n  readlink /proc/self/root > /root-of-job\n"
               "  echo said inside\nend script\n"),
    "ping-chroot": "task\nstart on ping\nexec touch /ping-chroot-ran\n",
    "longrun": "post-stop exec touch /longrun-stopped\nexec sleep 100000\n",
}


def build_chroot(init: Pid1Init, jobs: dict[str, str] | None = None) -> str:
    """ROOT with its own etc/init, and the system and this checkout bind-mounted
    read-only inside init's mount namespace (private: the host sees empty dirs)."""
    root = os.path.join(init.tmp, "chroot")
    write_jobs(os.path.join(root, "etc", "init"), {**CHROOT_JOBS, **(jobs or {})})
    binds = ["/usr", "/etc/alternatives", REPO, PYTHON_PREFIX]
    links = {name: os.readlink("/" + name) for name in ("bin", "sbin", "lib", "lib64")
             if os.path.islink("/" + name)}
    lines = ["set -e"]
    for src in binds:
        if not os.path.isdir(src):
            continue
        dst = root + src
        os.makedirs(dst, exist_ok=True)
        lines.append(f"mount --rbind {src} {dst}")
        lines.append(f"mount -o remount,bind,ro {dst}")
    for name in ("bin", "sbin", "lib", "lib64"):
        if name in links:
            os.symlink(links[name], os.path.join(root, name))
        elif os.path.isdir("/" + name):
            os.makedirs(root + "/" + name, exist_ok=True)
            lines.append(f"mount --rbind /{name} {root}/{name}")
    for d in ("proc", "dev", init.logdir.lstrip("/")):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for name in ("passwd", "group"):          # the child's user lookups happen inside
        open(os.path.join(root, "etc", name), "w").close()
        lines.append(f"mount --bind /etc/{name} {root}/etc/{name}")
    lines.append(f"mount --rbind /proc {root}/proc")
    lines.append(f"mount --rbind /dev {root}/dev")
    done = init.run("sh", "-c", "\n".join(lines))
    assert done.returncode == 0, done.stderr
    return root


def inside(init: Pid1Init, root: str, *args: str):
    """`chroot ROOT initctl ARGS` as a user types it, in init's namespaces."""
    return init.run("chroot", root, INITCTL, *args)


def listing(result) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    return {line.split(" ", 1)[0]: line for line in result.stdout.splitlines()}


def test_chroot_caller_gets_its_own_jobs_run_inside_the_chroot():
    with Pid1Init(jobs=GLOBAL_JOBS, args=("--no-startup-event", "--chroot-sessions")) as init:
        root = build_chroot(init)
        # (1) the chroot's caller sees only the chroot's jobs
        jobs = listing(inside(init, root, "list"))
        assert sorted(jobs) == sorted(CHROOT_JOBS)
        assert jobs["longrun"] == "longrun stop/waiting"

        # (2) a chroot job runs inside the chroot: its marker lands in ROOT
        started = inside(init, root, "start", "inside")
        assert started.returncode == 0, started.stderr
        assert started.stdout == "inside stop/waiting\n"
        assert os.path.exists(os.path.join(root, "marker-inside"))
        assert not os.path.exists("/marker-inside")
        rooted = inside(init, root, "start", "rooted")
        assert rooted.returncode == 0, rooted.stderr
        with open(os.path.join(root, "root-of-job")) as f:
            assert f.read().strip() == "/"          # the job's own view: ROOT is its /
        # its log is under ROOT's log directory (init's --logdir, inside the chroot)
        log = os.path.join(root, init.logdir.lstrip("/"), "rooted.log")
        init.wait_for(lambda: os.path.exists(log))
        with open(log) as f:
            assert "said inside" in f.read()
        assert not os.path.exists(os.path.join(init.logdir, "rooted.log"))

        running = inside(init, root, "start", "longrun")
        assert running.stdout.startswith("longrun start/running, process ")
        pid = int(running.stdout.rsplit(" ", 1)[1])
        status = inside(init, root, "status", "longrun")
        assert status.stdout == running.stdout
        # the process is chrooted: seen from init's namespace its root is ROOT
        seen = init.run("readlink", f"/proc/{pid}/root")
        assert seen.stdout.strip() == root

        # (3) the outside does not see the chroot's jobs; the chroot cannot touch global ones
        outside = listing(init.run("initctl", "list"))
        assert sorted(outside) == sorted(GLOBAL_JOBS)
        refused = inside(init, root, "start", "hostsvc")
        assert refused.returncode == 1
        assert refused.stderr == "initctl: Unknown job: hostsvc\n"
        assert init.run("initctl", "status", "longrun").stderr == \
            "initctl: Unknown job: longrun\n"
        assert "hostsvc stop/waiting" in init.run("initctl", "status", "hostsvc").stdout

        # (4) an event from inside starts the chroot's `start on ping` job, not the global one
        emitted = inside(init, root, "emit", "ping")
        assert emitted.returncode == 0, emitted.stderr
        assert os.path.exists(os.path.join(root, "ping-chroot-ran"))
        assert init.run("test", "-e", "/run/ping-host-ran").returncode == 1
        # ... and a global event does not reach the chroot's jobs
        os.unlink(os.path.join(root, "ping-chroot-ran"))
        assert init.run("initctl", "emit", "ping").returncode == 0
        assert init.run("test", "-e", "/run/ping-host-ran").returncode == 0
        assert not os.path.exists(os.path.join(root, "ping-chroot-ran"))

        # requests that would reach outside the chroot are ignored (and answered)
        assert inside(init, root, "log-priority", "debug").returncode == 0
        assert init.run("initctl", "log-priority").stdout == "message\n"
        assert "Ignoring set log priority request from chroot session" in init.kmsg()

        stopped = inside(init, root, "stop", "longrun")
        assert stopped.stdout == "longrun stop/waiting\n"
        assert os.path.exists(os.path.join(root, "longrun-stopped"))

        # the chroot's job directory is watched, and reload-configuration rereads it
        write_jobs(os.path.join(root, "etc", "init"), {"fresh": "exec sleep 100000\n",
                                                      "bad": "no such stanza\n"})
        init.wait_for(lambda: "fresh" in listing(inside(init, root, "list")))
        assert "fresh" not in listing(init.run("initctl", "list"))
        error = f"init:{root}/etc/init/bad.conf:1: Unknown stanza"
        init.wait_for(lambda: error in init.kmsg())
        assert inside(init, root, "reload-configuration").returncode == 0
        assert init.kmsg().count(error) == 2      # a full reload reports every error again


def test_final_stage_stops_the_chroot_jobs_too():
    with Pid1Init(jobs=GLOBAL_JOBS, args=("--no-startup-event", "--chroot-sessions")) as init:
        root = build_chroot(init)
        assert inside(init, root, "start", "longrun").returncode == 0
        init.signal(signal.SIGRTMIN + 4)           # poweroff: the final stage
        assert init.wait_exit(timeout=30) == 0
        log = init.kmsg()
        assert "Will now power off" in log
        assert "failed to stop" not in log
        # its post-stop ran (inside the chroot) before init ended
        assert os.path.exists(os.path.join(root, "longrun-stopped"))


def test_without_chroot_sessions_a_chroot_caller_sees_the_global_jobs():
    with Pid1Init(jobs=GLOBAL_JOBS) as init:
        root = build_chroot(init)
        # (5) 1.13's default: no sessions, the chroot's caller is an ordinary one
        jobs = listing(inside(init, root, "list"))
        assert sorted(jobs) == sorted(GLOBAL_JOBS)
        started = inside(init, root, "start", "hostsvc")
        assert started.stdout.startswith("hostsvc start/running, process ")
        pid = int(started.stdout.rsplit(" ", 1)[1])
        assert init.run("readlink", f"/proc/{pid}/root").stdout.strip() == "/"
        assert inside(init, root, "start", "inside").stderr == "initctl: Unknown job: inside\n"


def test_a_stateful_reexec_keeps_the_chroot_session():
    with Pid1Init(jobs=GLOBAL_JOBS, args=("--no-startup-event", "--chroot-sessions")) as init:
        root = build_chroot(init)
        running = inside(init, root, "start", "longrun")
        assert running.stdout.startswith("longrun start/running, process ")
        assert init.run("telinit", "u").returncode == 0
        init.wait_for(lambda: inside(init, root, "status", "longrun").returncode == 0)
        # the same process, still the session's, still invisible outside
        assert inside(init, root, "status", "longrun").stdout == running.stdout
        assert "longrun" not in listing(init.run("initctl", "list"))
        # and still supervised: stopping it runs its post-stop inside the chroot
        assert inside(init, root, "stop", "longrun").stdout == "longrun stop/waiting\n"
        assert os.path.exists(os.path.join(root, "longrun-stopped"))


GATED = "ready on file FPATH=/run/gated.ready\ncgroup pids\nexec sleep 100000\n"


def test_a_chroot_jobs_readiness_and_cgroup_are_its_own(cgroup_base):  # noqa: F811
    """`ready on file` of a chroot job watches the path inside the chroot; its
    `cgroup` puts it below chroot/<root>/, not in the host's upstart/<job>."""
    base = cgroup_base
    v2 = next((h for h in HIERS if h.kind == "v2"), None)
    if v2 is None or not fs.writable(v2):
        pytest.skip("no writable cgroup2 (unified) hierarchy on this machine")
    with Pid1Init(jobs={**GLOBAL_JOBS, "gated": GATED},
                  args=("--no-startup-event", "--chroot-sessions"),
                  env={"UPSTART_CGROUP_BASE": "/" + base}) as init:
        root = build_chroot(init, {"gated": GATED})
        os.makedirs(os.path.join(root, "run"))
        assert inside(init, root, "start", "--no-wait", "gated").returncode == 0
        init.wait_for(lambda: "start/running" in inside(init, root, "status", "gated").stdout)
        assert "waiting for ready" in inside(init, root, "status", "gated").stdout
        with open(os.path.join(root, "run", "gated.ready"), "w"):
            pass
        init.wait_for(lambda: "waiting for ready"
                      not in inside(init, root, "status", "gated").stdout)
        pid = re.search(r"process (\d+)", inside(init, root, "status", "gated").stdout)[1]
        groups = fs.parse_proc_cgroup(init.run("cat", f"/proc/{pid}/cgroup").stdout)
        assert groups[frozenset()] == f"/{base}/chroot/{quote(root, safe='')}/upstart/gated"
        # the host's job of the same name is untouched by all this
        assert init.run("initctl", "status", "gated").stdout == "gated stop/waiting\n"
        assert inside(init, root, "stop", "gated").returncode == 0
