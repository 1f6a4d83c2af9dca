"""A Pygments lexer for Upstart job files (init(5)), as read by upstart-py.

Use it without installing anything:

    pygmentize -l contrib/pygments/upstart_lexer.py:UpstartLexer -x jobs/examples/ssh.conf

or register it in a package's entry points (`pygments.lexers`), e.g.
`upstart = upstart_lexer:UpstartLexer`. Script blocks and `exec` command lines
are handed to Pygments' Bash lexer. The roadmap stanzas (`while`, `ready on`,
`ready timeout`, `respawn delay`) are included.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, include, using, words
from pygments.lexers.shell import BashLexer
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String,
                            Text, Whitespace)

__all__ = ["UpstartLexer", "STANZAS"]

# Every stanza keyword the upstart-py parser knows (tests/docs checks the list).
STANZAS = (
    "instance", "description", "author", "version", "env", "export", "start", "stop",
    "emits", "exec", "script", "pre-start", "post-start", "pre-stop", "post-stop",
    "expect", "task", "kill", "respawn", "normal", "console", "umask", "nice", "oom",
    "limit", "chroot", "chdir", "setuid", "setgid", "debug", "manual", "usage", "reload",
    "apparmor", "cgroup", "while", "ready", "state",
)
_PROCESSES = ("pre-start", "post-start", "pre-stop", "post-stop")
_CONDITION_STANZAS = r"(?:start|stop)[ \t]+on|while|ready[ \t]+on"
_SIMPLE = tuple(s for s in STANZAS if s not in _PROCESSES + ("exec", "script", "start",
                                                               "stop", "while", "ready"))
_VALUES = ("fork", "daemon", "stop", "none", "log", "output", "owner", "never", "unlimited",
           "limit", "delay", "exit", "timeout", "signal", "score", "load", "switch", "mode",
           "group", "job")


class UpstartLexer(RegexLexer):
    """Upstart job configuration (`/etc/init/*.conf`, `*.override`)."""

    name = "Upstart"
    aliases = ["upstart", "upstart-job"]
    filenames = ["*.override"]     # `.conf` is too common to claim
    mimetypes = ["text/x-upstart-job"]

    tokens = {
        "root": [
            (r"[ \t]+", Whitespace),
            (r"\n", Whitespace),
            (r"#.*?$", Comment.Single),
            # script blocks, main and per process: the body is shell
            (r"((?:(?:pre|post)-(?:start|stop))[ \t]+)?(script)([ \t]*(?:#.*)?\n)"
             r"((?:.*\n)*?)"
             r"([ \t]*)(end[ \t]+script)\b",
             bygroups(Keyword, Keyword, Comment.Single, using(BashLexer), Whitespace,
                      Keyword)),
            # exec lines: the command is shell
            (r"((?:(?:pre|post)-(?:start|stop))[ \t]+)?(exec)\b([ \t]*)(.*?)$",
             bygroups(Keyword, Keyword, Whitespace, using(BashLexer))),
            (r"(%s)\b" % _CONDITION_STANZAS, Keyword, "condition"),
            (r"(ready)([ \t]+)(timeout)\b", bygroups(Keyword, Whitespace, Keyword), "arguments"),
            (words(_SIMPLE, suffix=r"\b"), Keyword, "arguments"),
            (r"\S+", Text, "arguments"),          # unknown stanza: leave it plain
        ],
        "arguments": [
            (r"\\\n", String.Escape),
            (r"\n", Whitespace, "#pop"),
            (r"[ \t]+", Whitespace),
            (r"#.*?$", Comment.Single),
            include("values"),
            (words(_VALUES, suffix=r"\b"), Name.Constant),
            (r"-?\d+(\.\d*)?\b|\.\d+\b", Number),
            (r"[^\s#\"'$=\\]+", Text),
            (r"[=\\$]", Text),
        ],
        "condition": [
            (r"\\\n", String.Escape),
            (r"\n", Whitespace, "#pop"),
            (r"[ \t]+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r"\(", Punctuation, "condition-group"),
            (r"\)", Punctuation),
            (words(("and", "or"), suffix=r"\b"), Operator.Word),
            (words(("starting", "started", "stopping", "stopped", "ready", "startup"),
                   suffix=r"\b"), Name.Builtin),
            (r"([\w.:-]+)(!?=)", bygroups(Name.Attribute, Operator)),
            include("values"),
            (r"[^\s#\"'$()=\\]+", Name.Other),
            (r"[=\\$]", Text),
        ],
        "condition-group": [         # inside parentheses lines may continue
            (r"\)", Punctuation, "#pop"),
            (r"\s+", Whitespace),
            include("condition"),
        ],
        "values": [
            (r'"(?:\\.|[^"\\])*"', String.Double),
            (r"'(?:\\.|[^'\\])*'", String.Single),
            (r"\$\{[^}\n]*\}|\$\w+", Name.Variable),
        ],
    }
