"""initctl2dot: draw the jobs and events of init as a graphviz dot graph.

Reads `initctl show-config -e` (asked of the running init: `--system` when
not in a user session or when `--system` is given, `--user` forces the
session) or a saved copy (`-f/--infile`), and writes dot text to
`-o/--outfile` (`-w` is accepted too, as the upstream man page says;
default `upstart.dot`, `-` for stdout). `-r/--restrict-to-jobs a,b` keeps
only those jobs; the `--color-*` options change the colours (spec 04 §8).
The graph itself is built by `upstart.observe.dot`.

Never: changes init; it only reads its configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time

from upstart.observe.dot import DEFAULT_COLOURS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="initctl2dot",
                                description="Convert initctl show-config output to dot.")
    p.add_argument("-f", "--infile", help="read show-config -e output from FILE")
    p.add_argument("-o", "-w", "--outfile", default="upstart.dot",
                   help="write the graph to FILE (- for stdout; default upstart.dot)")
    p.add_argument("-r", "--restrict-to-jobs", default="", metavar="JOBS",
                   help="only these jobs (comma-separated)")
    for key, value in DEFAULT_COLOURS.items():
        p.add_argument(f"--color-{key}", default=value, metavar="COLOUR",
                       help=f"colour of {key.replace('-', ' ')} (default {value})")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--system", action="store_true", help="ask the system init")
    mode.add_argument("--user", action="store_true", help="ask the session init")
    from upstart.version import add_version_option
    add_version_option(p, "initctl2dot")
    return p


def _show_config(system: bool) -> str:
    from upstart.cli import initctl
    argv = ["initctl"] + (["--system"] if system else []) + ["show-config", "-e"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = initctl.main(argv)
    if code != 0:
        raise RuntimeError(err.getvalue().strip() or "initctl show-config failed")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    from upstart.observe.dot import DotError, graph, legend, parse_show_config, restrict
    args = _parser().parse_args(argv)
    try:
        if args.infile:
            with open(args.infile) as f:
                text = f.read()
            source = args.infile
        else:
            system = args.system or (not args.user and not os.environ.get("UPSTART_SESSION"))
            text = _show_config(system)
            source = "initctl" + (" --system" if system else "") + " show-config -e"
        jobs = parse_show_config(text)
        names = [n for n in args.restrict_to_jobs.split(",") if n]
        if names:
            jobs = restrict(jobs, names)
    except DotError as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return 1
    except (OSError, RuntimeError) as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return 1
    colours = {key: getattr(args, "color_" + key.replace("-", "_")) for key in DEFAULT_COLOURS}
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    text = graph(jobs, colours=colours, footer=legend(source, when, colours))
    if args.outfile == "-":
        sys.stdout.write(text)
        return 0
    try:
        with open(args.outfile, "w") as f:
            f.write(text)
    except OSError as exc:
        sys.stderr.write(f"ERROR: {args.outfile}: {exc.strerror}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
