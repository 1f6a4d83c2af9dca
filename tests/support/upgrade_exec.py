"""Play C Upstart 1.13's part in a stateful re-exec, for the upgrade tests.

    python upgrade_exec.py [--listen ADDRESS] STATE.json PIDS.json INIT [ARG...]

Starts one live process (`sleep`) for every PID the recorded state names, puts
their PIDs in the document in place of the recorded ones (the old -> new map
goes to PIDS.json), writes the document to an inheritable memory file and execs
INIT with `--restart --state-fd N`, as 1.13 execs `/sbin/init`: the processes
stay children of the same process, now our init. With `--listen`, it also
leaves a listening control socket on ADDRESS (`{pid}`: its own PID, which init
keeps) open across the exec, with `initctl emit queued` already waiting in its
backlog, as an init that did not close its socket would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _listen(address: str) -> None:
    import socket

    name = address.split("abstract=", 1)[1]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(b"\0" + name.encode())
    sock.listen(64)
    os.set_inheritable(sock.detach(), True)
    initctl = os.path.join(os.path.dirname(sys.executable), "initctl")
    subprocess.Popen([initctl, "emit", "--no-wait", "queued"],
                     env=dict(os.environ, UPSTART_SESSION=address),
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _start(job: dict, slot: int, tdir: str) -> int:
    """A live stand-in for one recorded process. A main process whose console log
    1.13 kept open (`log[0].io_watch_fd`) gets a pty whose master is left at that
    fd number across the exec, as 1.13 leaves it; the process writes
    `after-upgrade` to it once the test creates `<tdir>/go`."""
    log = (job.get("log") or [{}])[0]
    fd = log.get("io_watch_fd") if isinstance(log, dict) else None
    if slot != 0 or not isinstance(fd, int) or fd < 0 or not log.get("path"):
        return subprocess.Popen(["sleep", "100000"], stdin=subprocess.DEVNULL).pid
    master, slave = os.openpty()
    os.dup2(master, fd, inheritable=True)
    os.close(master)
    gate = os.path.join(tdir, "go")
    child = subprocess.Popen(
        ["sh", "-c", f"until [ -e {gate} ]; do sleep 0.02; done; echo after-upgrade; "
                     "exec sleep 100000"],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, pass_fds=())
    os.close(slave)
    return child.pid


def main() -> None:
    args = sys.argv[1:]
    if args[0] == "--listen":
        _listen(args[1].replace("{pid}", str(os.getpid())))
        args = args[2:]
    state_path, pids_path, *init = args
    with open(state_path) as f:
        text = f.read()
    mapping: dict[int, int] = {}
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None                                  # damaged: handed over as it is
    if isinstance(doc, dict):
        for cls in doc.get("job_classes") or []:
            for job in cls.get("jobs") or []:
                pids = job.get("pid") or []
                for i, pid in enumerate(pids):
                    if isinstance(pid, int) and pid > 0:
                        if pid not in mapping:
                            mapping[pid] = _start(job, i, os.path.dirname(pids_path))
                        pids[i] = mapping[pid]
        text = json.dumps(doc)
    with open(pids_path, "w") as f:
        json.dump({str(k): v for k, v in mapping.items()}, f)
    fd = os.memfd_create("upstart-113-state", 0)
    os.write(fd, text.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    os.execv(init[0], init + ["--restart", "--state-fd", str(fd)])


if __name__ == "__main__":
    main()
