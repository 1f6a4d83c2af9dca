#!/usr/bin/env python3
"""Build the manual pages: man/src/NAME.SECTION.rst -> man/manSECTION/NAME.SECTION.

The sources are reStructuredText; docutils' man page writer (the engine behind
`rst2man`) turns them into roff. The generated pages are committed, so `man -l
man/man5/init.5` works on a machine without docutils.

    python man/build.py            # (re)build every page
    python man/build.py --check    # exit 1 if a committed page is out of date
"""

from __future__ import annotations

import argparse
import os
import re
import sys

# The docutils release the committed pages were made with. Other releases lay
# the roff out differently, so `--check` is only meaningful with this one.
DOCUTILS_VERSION = "0.23"

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)\.(?P<section>[1-8])\.rst$")


def sources() -> list[tuple[str, str, str]]:
    """(source path, page name, section) for every page source, sorted."""
    out = []
    for entry in sorted(os.listdir(SRC)):
        m = _NAME.match(entry)
        if m:
            out.append((os.path.join(SRC, entry), m["name"], m["section"]))
    return out


def target(name: str, section: str, root: str = HERE) -> str:
    return os.path.join(root, f"man{section}", f"{name}.{section}")


def render(path: str) -> str:
    """The roff text of one page source."""
    from docutils.core import publish_string

    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = publish_string(
        text, source_path=path, writer="manpage",
        settings_overrides={"report_level": 2, "halt_level": 2,
                            "input_encoding": "utf-8", "output_encoding": "utf-8"})
    roff = out.decode("utf-8")
    # The conventional spelling of the first section, which whatis parsers look for.
    roff = roff.replace("\n.SH Name\n", "\n.SH NAME\n", 1)
    # docutils stamps its own version in a comment; keep the output reproducible.
    return re.sub(r"^(\.\\\" by the Docutils) \S+ (manpage writer\.)$", r"\1 \2", roff,
                  flags=re.M)


def build(root: str = HERE, check: bool = False) -> list[str]:
    """Write every page under `root`; with `check`, only list the stale ones."""
    stale = []
    for path, name, section in sources():
        roff = render(path)
        dest = target(name, section, root)
        try:
            with open(dest, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == roff:
            continue
        stale.append(dest)
        if not check:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "w", encoding="utf-8") as f:
                f.write(roff)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="report pages that are out of date, write nothing")
    args = parser.parse_args(argv)
    import docutils
    if docutils.__version__ != DOCUTILS_VERSION:
        print(f"warning: docutils {docutils.__version__}, the pages were made with "
              f"{DOCUTILS_VERSION}: expect layout-only differences", file=sys.stderr)
    stale = build(check=args.check)
    for dest in stale:
        print(("stale: " if args.check else "wrote: ") + os.path.relpath(dest))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
