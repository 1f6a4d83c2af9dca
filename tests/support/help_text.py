"""`initctl help` as 1.13 printed it: the output without the section of this
project's own commands (issue #26 item 6), for comparing with the golden
recording (scenario 086), which holds 1.13's sections and closing line only."""

from upstart.cli.initctl_help import OWN_GROUP


def without_own_section(text: str) -> str:
    """`text` with the `<OWN_GROUP> commands:` section (and its blank line) cut out."""
    head, found, tail = text.partition("\n%s commands:\n" % OWN_GROUP)
    if not found:
        return text
    return head + "\n" + tail.partition("\n\n")[2]
