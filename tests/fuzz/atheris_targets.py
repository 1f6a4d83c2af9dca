"""Coverage-guided fuzz targets for atheris (issue #14); not a test module.

Run one target: `python tests/fuzz/atheris_targets.py TARGET -runs=N [corpus dir]`
with TARGET one of `jobfile`, `wire`, `initctl-args`. Each target feeds the
bytes to the code under test and lets only its documented error type pass;
anything else is a crash atheris reports (and exits non-zero).
`tests/fuzz/test_fuzz_atheris.py` runs each target for a bounded number of
runs when atheris is installed.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from upstart.cli import initctl
    from upstart.control import wire
    from upstart.core.operator import Operator
    from upstart.jobfile.model import ParseError
    from upstart.jobfile.parser import parse_job


def jobfile(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    try:
        cls = parse_job(text, "fuzz", "/fuzz.conf")
    except ParseError:
        return
    for expr in (cls.start_on, cls.stop_on, cls.while_, cls.ready_on):
        if expr is not None:
            Operator.from_expr(expr)


def wire_reader(data: bytes) -> None:
    try:
        if len(data) >= 16:
            wire.message_size(data[:16])
        wire.decode_message(data)
    except ValueError:
        pass


def initctl_args(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    args = [fdp.ConsumeUnicodeNoSurrogates(12) for _ in range(fdp.ConsumeIntInRange(0, 6))]
    ctx = initctl.Ctx("initctl", _Null(), _Null())
    try:
        initctl._parse(ctx, args, initctl.GLOBAL_OPTS, stop_at_command=True)
    except (initctl.UsageError, initctl.Done, initctl._HelpRequested):
        pass


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


TARGETS = {"jobfile": jobfile, "wire": wire_reader, "initctl-args": initctl_args}

if __name__ == "__main__":
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()
