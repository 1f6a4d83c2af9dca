"""Play C Upstart 1.13's part in a stateful re-exec, for the upgrade tests.

    python upgrade_exec.py STATE.json PIDS.json INIT [ARG...]

Starts one live process (`sleep`) for every PID the recorded state names, puts
their PIDs in the document in place of the recorded ones (the old -> new map
goes to PIDS.json), writes the document to an inheritable memory file and execs
INIT with `--restart --state-fd N`, as 1.13 execs `/sbin/init`: the processes
stay children of the same process, now our init.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main() -> None:
    state_path, pids_path, *init = sys.argv[1:]
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
                            child = subprocess.Popen(["sleep", "100000"],
                                                     stdin=subprocess.DEVNULL)
                            mapping[pid] = child.pid
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
