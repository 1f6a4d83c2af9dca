"""(n) Debian 12 in qemu: kernel start to the serial `login:`, and power-off.

The same Debian 12 package set (vm/debian.py: mmdebstrap minbase, cached by
package versions) booted twice per run, alternately: with upstart-py as
/sbin/init (our wheel and `upstart-install-root --jobs debian`, as `make
vm-debian`) and with systemd 252 (`systemd-sysv` added; the reference).
Both under TCG, -m 1024 -smp 2, the same kernel command line, one VM at a
time. Measures, both from `vm.debian.time_boot`: the guest's uptime when the
host saw `login:` on ttyS0, and the host's wall time from typing `poweroff`
(as root, logged in on the console) to qemu's exit.

Needs root (mmdebstrap, chroot) and the host's apt sources; without them
the rows say why. Usage: python bench/debian.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from common import OURS, emit, error, median

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEMD = "systemd"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    sys.path.insert(0, REPO)
    from vm import debian
    systems = ((SYSTEMD, {"is_ref": True}), (OURS, {"ref": SYSTEMD}))
    try:
        paths = {OURS: debian.build(), SYSTEMD: debian.build(systemd=True)}
    except Exception as exc:
        for system, _ in systems:
            for bench in ("debian_login", "debian_poweroff"):
                error("n", bench, system, repr(exc))
        return 0
    got: dict[str, dict[str, list[float]]] = {s: {"login": [], "poweroff": []}
                                              for s, _ in systems}
    failures: dict[str, list[str]] = {s: [] for s, _ in systems}
    for _ in range(opts.runs):
        for system, _extra in systems:          # alternate: the load hits both alike
            label = "upstart-py" if system == OURS else SYSTEMD
            rep = debian.time_boot(paths[system], label)
            failures[system] += rep.problems
            for key in ("login", "poweroff"):
                if key in rep.timings:
                    got[system][key].append(rep.timings[key])
    for system, extra in systems:
        for key, bench in (("login", "debian_login"), ("poweroff", "debian_poweroff")):
            runs = got[system][key]
            if not runs:
                error("n", bench, system, "; ".join(failures[system]) or "no figure")
                continue
            emit("n", bench, system, median(runs), "s", runs=len(runs),
                 stdev=round(statistics.pstdev(runs), 3),
                 samples=[round(x, 1) for x in runs], **extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
