"""What `PROG --version` prints, for every program of the package.

The first line is Upstart's (`PROG (upstart 1.13.2)`): tools parse it to learn
which Upstart they talk to. The lines after it are this project's own: its
version, copyright and licence (golden 086 is a decided deviation for them).
"""

from __future__ import annotations

from upstart import VERSION as UPSTART_VERSION

LICENCE = "GPL-2.0-only"


def package_version() -> str:
    """upstart-py's own version, from the installed package's metadata."""
    from importlib import metadata
    try:
        return metadata.version("upstart-py")
    except metadata.PackageNotFoundError:
        return "unknown"


def version_text(prog: str) -> str:
    return (f"{prog} (upstart {UPSTART_VERSION})\n"
            f"upstart-py {package_version()}: a Python implementation of Upstart\n"
            "Copyright (C) the upstart-py authors\n"
            "\n"
            f"License {LICENCE}: GNU GPL version 2 only "
            "<https://www.gnu.org/licenses/old-licenses/gpl-2.0.html>.\n"
            "This is free software; see the source for copying conditions.  There is NO\n"
            "warranty; not even for MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.\n")


def print_version(prog: str) -> int:
    import sys
    sys.stdout.write(version_text(prog))
    return 0


def add_version_option(parser, prog: str) -> None:
    """`--version` for an argparse-based program: the text above, exit 0."""
    import argparse

    class _Version(argparse.Action):
        def __init__(self, option_strings, dest, **kw):
            super().__init__(option_strings, dest, nargs=0, help="output version information and exit")

        def __call__(self, parser, namespace, values, option_string=None):
            parser.exit(print_version(prog))

    parser.add_argument("--version", action=_Version, default=argparse.SUPPRESS)
