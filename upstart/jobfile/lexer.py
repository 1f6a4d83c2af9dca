"""The job-file tokeniser: libnih's configuration scanner, rule for rule.

A `Scanner` is a cursor (`pos`, `lineno`) over the text of one file. Its methods
are the primitives the stanza handlers are written in, each with the behaviour
of its libnih counterpart (`nih/config.c`): `has_token`, `token`, `next_token`,
`next_arg`, `skip_whitespace`, `next_line`, `skip_comment`, `parse_args`,
`parse_command` and `parse_block`. The odd corners are kept on purpose, because
they decide which files load and what a script's text is:

* whitespace is SP, TAB, CR (and NUL, which C's `strchr` also finds); `#` and LF
  end a line; quotes group and are removed only when dequoting;
* `\\`+LF continues a line, `\\\\` and `\\`+WS drop the backslash when dequoting,
  `\\`+any other character keeps both characters; whitespace pending before such
  an escape is copied from one byte too far on (libnih's offset slip);
* a token's "length" is libnih's count, not the length of its text: an empty
  count is `Expected token`, even when the text is empty for other reasons;
* `script` blocks end at `end script` and are de-indented by the common prefix of
  the first line's leading whitespace (a blank line resets it: decision D-3).

The scanner owns position and line counting and raises `ParseError` with the
line where libnih stops. It must never know about stanzas or job classes.
"""

from __future__ import annotations

import re

from upstart.jobfile.model import ParseError

WS = " \t\r\0"
CNL = "#\n\0"
CNLWS = " \t\r#\n\0"
PAREN_CNLWS = "()" + CNLWS

EXPECTED_TOKEN = "Expected token"
UNEXPECTED_TOKEN = "Unexpected token"
TRAILING_SLASH = "Trailing slash in file"
UNTERMINATED_QUOTE = "Unterminated quoted string"
UNTERMINATED_BLOCK = "Unterminated block"

_WS_RUN = re.compile(r"[ \t\r\0]*")


def _plain_run(delim: str) -> re.Pattern[str]:
    """Characters that never need the slow path for this delimiter set."""
    return re.compile("[^" + re.escape(delim + "\"'\\") + "]*")


_PLAIN = {d: _plain_run(d) for d in (CNLWS, PAREN_CNLWS, CNL)}


def _block_end_re(kind: str) -> re.Pattern[str]:
    return re.compile(
        r"[ \t\r\0]*end[ \t\r\0]+" + re.escape(kind) + r"[ \t\r\0]*(?:#[^\n]*)?(?:\n|\Z)"
    )


_BLOCK_END = {"script": _block_end_re("script")}


class Scanner:
    """A cursor over one file's text with libnih's scanning primitives."""

    __slots__ = ("text", "n", "pos", "lineno")

    def __init__(self, text: str, lineno: int = 1):
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.lineno = lineno

    def error(self, message: str, line: int | None = None) -> ParseError:
        return ParseError(message, self.lineno if line is None else line)

    # -- position predicates and skipping ---------------------------------

    def has_token(self) -> bool:
        """True unless at end of file, a comment or a line end."""
        return self.pos < self.n and self.text[self.pos] not in CNL

    def at_eof(self) -> bool:
        return self.pos >= self.n

    def skip_ws(self) -> None:
        """Skip plain whitespace only (what parse_file does before a stanza)."""
        self.pos = _WS_RUN.match(self.text, self.pos).end()

    def skip_whitespace(self) -> None:
        """Skip whitespace and escaped newlines between tokens."""
        text = self.text
        while True:
            self.pos = _WS_RUN.match(text, self.pos).end()
            if text.startswith("\\\n", self.pos):
                self.pos += 2
                self.lineno += 1
                continue
            return

    def next_line(self) -> None:
        """Skip to just past the next LF (or to end of file)."""
        i = self.text.find("\n", self.pos)
        if i < 0:
            self.pos = self.n
        else:
            self.pos = i + 1
            self.lineno += 1

    def skip_comment(self) -> None:
        """Require end of line (optionally a comment) and step past it."""
        if self.has_token():
            raise self.error(UNEXPECTED_TOKEN)
        self.next_line()

    # -- tokens -------------------------------------------------------------

    def token(self, delim: str, dequote: bool) -> tuple[str, int]:
        """One token up to an unquoted, unescaped `delim` character.

        Returns the token text and libnih's length count. Leaves `pos` on the
        delimiter (or end of file).
        """
        text = self.text
        start = self.pos
        end = _PLAIN[delim].match(text, start).end()
        if end >= self.n or text[end] in delim:
            self.pos = end
            if delim is CNL:
                tok = text[start:end].rstrip(" \t\r")
                return tok, len(tok)
            return text[start:end], end - start
        return self._token_slow(delim, dequote)

    def _token_slow(self, delim: str, dequote: bool) -> tuple[str, int]:
        text, n = self.text, self.n
        start = p = self.pos
        out: list[str] = []
        ws = nlws = qc = 0
        slash = False
        quote = ""
        nl = False
        while p < n:
            c = text[p]
            extra = 0
            isq = False
            if slash:
                slash = False
                if c == "\n":
                    nlws += 1
                    nl = True
                    self.lineno += 1
                    p += 1
                    continue
                elif c == "\\" or c in WS:
                    extra = 1
                    if dequote:
                        qc += 1
                else:
                    out.append("\\")
            elif c == "\\":
                slash = True
                p += 1
                continue
            elif quote:
                if c == quote:
                    quote = ""
                    isq = True
                elif c == "\n":
                    nl = True
                    self.lineno += 1
                    p += 1
                    continue
                elif c in WS:
                    ws += 1
                    p += 1
                    continue
            elif c == '"' or c == "'":
                quote = c
                isq = True
            elif c in delim:
                break
            elif c in WS:
                ws += 1
                p += 1
                continue

            if nl:
                nlws += ws
                out.append(" ")
            elif ws:
                out.append(text[p - ws - extra:p - extra])
            if extra and not dequote:
                out.append(text[p - extra:p])
            if isq and dequote:
                qc += 1
            else:
                out.append(c)
            ws = 0
            nl = False
            p += 1

        self.pos = p
        if slash:
            raise self.error(TRAILING_SLASH)
        if quote:
            raise self.error(UNTERMINATED_QUOTE)
        return "".join(out), p - start - ws - nlws - qc

    def next_token(self, delim: str = CNLWS, dequote: bool = False) -> str:
        """A non-empty token, then any whitespace after it."""
        tok, toklen = self.token(delim, dequote)
        if not toklen:
            raise self.error(EXPECTED_TOKEN)
        self.skip_whitespace()
        return tok

    def next_arg(self) -> str:
        """A dequoted argument (`nih_config_next_arg`)."""
        return self.next_token(CNLWS, True)

    def parse_args(self) -> list[str]:
        """Every remaining argument on the line, then past the line end."""
        args = []
        while self.has_token():
            args.append(self.next_arg())
        self.skip_comment()
        return args

    def parse_command(self) -> str:
        """The rest of the line as raw command text (no dequoting)."""
        cmd, _ = self.token(CNL, False)
        self.skip_comment()
        return cmd

    def parse_block(self, kind: str = "script") -> str:
        """Lines up to `end <kind>`, de-indented the way libnih does it."""
        text, n = self.text, self.n
        end_re = _BLOCK_END[kind]
        sh_start = self.pos
        ws = 0
        lines = 0
        while True:
            m = end_re.match(text, self.pos)
            if m is not None:
                sh_end = self.pos
                if m.end() > 0 and text[m.end() - 1] == "\n":
                    self.lineno += 1
                self.pos = m.end()
                break
            lines += 1
            p = line_start = self.pos
            if lines == 1:
                p = _WS_RUN.match(text, p).end()
                ws = p - line_start
            else:
                while p < n and p - line_start < ws and text[sh_start + p - line_start] == text[p]:
                    p += 1
                if p - line_start < ws:
                    ws = p - line_start
            self.pos = p
            self.next_line()
            if self.pos >= n:
                raise self.error(UNTERMINATED_BLOCK)

        body = text[sh_start:sh_end]
        if not body:
            return ""
        parts = body.split("\n")[:-1]   # every block line ends in LF
        if ws == 0 and "\0" not in body:
            return body
        out = []
        for part in parts:
            seg = part[ws:] + "\n"
            nul = seg.find("\0")
            out.append(seg if nul < 0 else seg[:nul])
        return "".join(out)
