"""Where PID 1's CPU goes in the Debian boot: a sampling profile of init in the VM.

`.venv/bin/python -m vm.initprof` builds the Debian image of `make
vm-debian` (vm/debian.py) with one file more, `/sbin/init-prof`, boots it
with `init=/sbin/init-prof`, logs in on ttyS0 at the `login:` prompt, reads
the profile back over the serial console and powers off. `/sbin/init-prof`
is `/sbin/init` with a sampler in front: every 5 ms of init's CPU time
(`ITIMER_PROF`) a SIGPROF handler records the Python stack it interrupted,
in half-second buckets of the kernel's monotonic clock, and every 100
samples writes them to `/run/init-prof.json`. So the profile covers the
interpreter's imports, init's start and the whole boot, under the real
emulated CPU, where Python runs 10-20 times slower than on the host and
costs no profiler can show from the host.

It is a measuring tool, never installed by `upstart-install-root`: the
sampler's handler adds ~5-10 % to init's CPU, and the image it boots is
`vm/.cache/debian/disk-prof.img`, not the checked one. What it prints:
the share of samples inside imports (and which statement of ours started
each), the modules whose import cost most, and the functions of ours where
the rest went. Found with it (docs/boot.md): pyroute2's import at the
first `ready on socket` (~2 s), asyncio (~0.5 s), dataclasses and their
per-class `exec`, the udev bridge's second job listing.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import sys
import time

SAMPLER = r'''#!/usr/bin/python3
# vm/initprof.py: /sbin/init with a sampling profiler in front (measuring only)
import signal, sys, time
T0 = time.monotonic()
_S = {}
_state = [False, 0]
def _dump():
    import json, os
    items = [[k[0], list(k[1]), v] for k, v in _S.items()]
    with open("/run/init-prof.json.tmp", "w") as f:
        json.dump({"t0": T0, "n": _state[1], "samples": items}, f)
    os.replace("/run/init-prof.json.tmp", "/run/init-prof.json")
def _sample(sig, frame):
    if _state[0]:
        return
    _state[0] = True
    try:
        stack = []
        while frame is not None and len(stack) < 80:
            code = frame.f_code
            name = code.co_filename
            at = name.find("/upstart/")
            name = name[at + 1:] if at >= 0 else "/".join(name.rsplit("/", 3)[-2:])
            stack.append("%s:%s:%s" % (name, code.co_name, frame.f_lineno))
            frame = frame.f_back
        key = (int(time.monotonic() * 2) / 2, tuple(stack))
        _S[key] = _S.get(key, 0) + 1
        _state[1] += 1
        if _state[1] % 100 == 0:
            _dump()
    except Exception:
        pass            # a sampler must never take PID 1 down
    finally:
        _state[0] = False
signal.signal(signal.SIGPROF, _sample)
signal.setitimer(signal.ITIMER_PROF, 0.005, 0.005)
sys.argv[0] = "/sbin/init"
from upstart.cli.init import main
sys.exit(main())
'''


def summary(profile: dict, top: int = 25) -> str:
    """The report: imports against the rest, by statement, module and function."""
    samples = profile["samples"]
    total = sum(v for *_, v in samples) or 1
    trigger, modules, rest = collections.Counter(), collections.Counter(), collections.Counter()
    for _, stack, n in samples:
        outer = list(reversed(stack))
        at = next((i for i, f in enumerate(outer) if f.startswith("<frozen importlib")), None)
        if at is not None:
            trigger[outer[at - 1] if at else "?"] += n
            inner = [f.split(":")[0] for f in stack if ":<module>:" in f]
            if inner:
                modules[inner[0]] += n
        else:
            ours = [f for f in stack if f.startswith("upstart/")]
            rest[":".join((ours[0] if ours else stack[0]).split(":")[:2])] += n
    lines = [f"{total} samples of 5 ms of init's CPU from {profile['t0']:.2f} s "
             f"(kernel clock); in imports: {sum(trigger.values())} "
             f"({100 * sum(trigger.values()) / total:.0f} %)", "", "imports, by statement:"]
    lines += [f"  {n:5d}  {k}" for k, n in trigger.most_common(top)]
    lines += ["", "imports, by module (its own body and machinery):"]
    lines += [f"  {n:5d}  {k}" for k, n in modules.most_common(top)]
    lines += ["", "the rest, by innermost function of ours:"]
    lines += [f"  {n:5d}  {k}" for k, n in rest.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="also write the raw profile there")
    opts = ap.parse_args(argv)
    from vm import debian
    from vm.qemu import VM
    files = dict(debian.FILES, **{"/sbin/init-prof": SAMPLER})
    configure = debian.configure

    def configured(root, files):
        configure(root, files)
        os.chmod(os.path.join(root, "sbin/init-prof"), 0o755)
    debian.configure = configured
    debian.ensure_host_packages()
    boot = os.path.join(debian.CACHE, "boot-upstart")
    os.makedirs(boot, exist_ok=True)
    image = os.path.join(debian.CACHE, "disk-prof.img")
    debian.build_image(debian.ensure_base(), debian.build_wheels(), files, image, boot)
    vm = VM(os.path.join(boot, "vmlinuz"), os.path.join(boot, "initrd.img"), disk=image,
            memory=1024, base_append=debian.APPEND + " init=/sbin/init-prof",
            interactive=True, log=os.path.join(debian.CACHE, "console-prof.log"))
    try:
        shell = debian.Serial(vm)
        seen = shell.login(600)
        if not seen:
            print("no login prompt", file=sys.stderr)
            return 1
        time.sleep(1)
        code, out = shell.run("base64 -w0 /run/init-prof.json; echo", timeout=300)
        vm.send("poweroff\n")
        vm.wait(120)
    finally:
        vm.close()
    blob = next((ln for ln in out.splitlines() if ln.startswith("eyJ")), "")
    profile = json.loads(base64.b64decode(blob))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(profile, f)
    print(summary(profile))
    return 0


if __name__ == "__main__":
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if here not in sys.path:
        sys.path.insert(0, here)
    sys.exit(main())
