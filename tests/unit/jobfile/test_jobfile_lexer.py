"""The tokeniser, rule by rule (libnih nih/config.c semantics)."""

import pytest

from upstart.jobfile.lexer import CNL, CNLWS, PAREN_CNLWS, Scanner
from upstart.jobfile.model import ParseError
from upstart.jobfile.parser import parse_job


def arg(text: str) -> str:
    """The single dequoted argument of an `env` line."""
    return parse_job(f"env {text}\n", "j").env[0]


@pytest.mark.parametrize("text, expected", [
    ('A="x y"', "A=x y"),
    ("A='x y'", "A=x y"),
    ('A="it\'s"', "A=it's"),
    ('"A"=1', "A=1"),
    ('A="x\n   y"', "A=x y"),                 # LF in quotes + WS around it -> one space
    ('A="x   \n   y"', "A=x y"),
    ("A=\\\\", "A=\\"),                       # \\ -> \
    ('A=\\"b', 'A=\\"b'),                     # \" keeps both characters
    ("A=\\'b", "A=\\'b"),
    ("A=\\#b", "A=\\#b"),                     # \# is not a comment
    ("A=\\ b", "A= b"),                       # \SP -> SP
    ("A=\\\tb", "A=\tb"),
    ("a\\\nb", "a b"),                        # continuation inside a token
    ('"a  b"c', "a  bc"),
    ('"  "x', "  x"),
    ('"a \\x"', "a\\\\x"),                     # libnih's offset slip: pending WS before \x
    ('"a  \\x"', "a\\ \\x"),
])
def test_argument_tokens(text, expected):
    assert arg(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('exec echo "a  b"  # c\n', 'echo "a  b"'),
    ("exec  echo one   two   \n", "echo one   two"),
    ("exec echo \\\n   more\n", "echo more"),
    ("exec echo 'a#b'\\# c#d\n", "echo 'a#b'\\# c"),
    ("exec echo \\\\ x\n", "echo \\\\ x"),
    ("exec a\\ b\n", "a\\ b"),
    ("exec echo \\$x\n", "echo\\\\$x"),         # offset slip: WS before \$ is lost
    ("exec true", "true"),                     # no LF at EOF
])
def test_exec_command_text(text, expected):
    assert parse_job(text, "j").process["main"].command == expected


@pytest.mark.parametrize("text, message, line", [
    ("env a\\", "Trailing slash in file", 1),
    ('env A="open\n', "Unterminated quoted string", 2),
    ('env A="open\nmore\n\n', "Unterminated quoted string", 4),
    ("env ''\n", "Expected token", 1),
    ('description ""\n', "Expected token", 1),
    ("env a\\\n  b\n", "Unexpected token", 2),
    ("env a b\n", "Unexpected token", 1),
    ("exec\n", "Expected token", 1),
    ("exec # comment\n", "Expected token", 1),
    ('"task"\n', "Unknown stanza", 1),         # the keyword is not dequoted
    ("bogus \\\n stanza\n", "Unknown stanza", 2),
])
def test_lexical_errors(text, message, line):
    with pytest.raises(ParseError) as ei:
        parse_job(text, "j")
    assert (ei.value.message, ei.value.line) == (message, line)


def test_comments_and_blank_lines_are_skipped():
    cls = parse_job("# c\n\n   \t\n  # indented\ntask#x\ndescription a # b\n", "j")
    assert cls.task and cls.description == "a"


def test_keyword_may_follow_continuation_whitespace():
    assert parse_job("description \\\n  foo\n", "j").description == "foo"


@pytest.mark.parametrize("body, expected", [
    ("    a\n      b\n    c\n", "a\n  b\nc\n"),
    ("  a\n\n  b\n", "  a\n\n  b\n"),          # D-3: a blank line disables de-indentation
    ("\ta\n  b\n", "\ta\n  b\n"),               # different WS: nothing shared
    (" a\n   b\n", "a\n  b\n"),
    ("  a\n b\n", " a\nb\n"),
    ("endscript\nend script foo\nend scripts\n", "endscript\nend script foo\nend scripts\n"),
    ("", ""),
])
def test_script_blocks(body, expected):
    cls = parse_job(f"script\n{body}end script\n", "j")
    assert cls.process["main"].script
    assert cls.process["main"].command == expected


@pytest.mark.parametrize("terminator", [
    "end script", "  end  script  # x", "\tend\tscript\t", "end script",
])
def test_script_terminators(terminator):
    cls = parse_job(f"script\n echo\n{terminator}\ntask\n", "j")
    assert cls.process["main"].command == "echo\n" and cls.task


def test_script_terminator_at_eof_without_newline():
    assert parse_job("script\nx\nend script", "j").process["main"].command == "x\n"


@pytest.mark.parametrize("text, message, line", [
    ("script\n  echo never ends\n", "Unterminated block", 3),
    ("script\nfoo", "Unterminated block", 2),
    ("script", "Unterminated block", 1),
    ("script foo\nend script\n", "Unexpected token", 1),
    ("pre-start script x\nend script\n", "Unexpected token", 1),
])
def test_script_errors(text, message, line):
    with pytest.raises(ParseError) as ei:
        parse_job(text, "j")
    assert (ei.value.message, ei.value.line) == (message, line)


def test_scanner_token_counts_like_libnih():
    # "\<LF>" followed by whitespace: empty text but a non-zero libnih count.
    sc = Scanner("\\\n  x")
    tok, count = sc.token(CNLWS, True)
    assert (tok, count, sc.lineno) == ("", 1, 2)
    sc = Scanner('""')
    assert sc.token(CNLWS, True) == ("", 0)
    sc = Scanner('"ab"')
    assert sc.token(CNLWS, False) == ('"ab"', 4)


def test_scanner_paren_delimiters_and_commands():
    sc = Scanner("abc)def")
    assert sc.token(PAREN_CNLWS, True) == ("abc", 3)
    sc = Scanner("  run me  # c")
    assert sc.token(CNL, False)[0] == "  run me"


def test_scanner_skip_whitespace_counts_lines():
    sc = Scanner(" \\\n \\\n x")
    sc.skip_whitespace()
    assert (sc.text[sc.pos], sc.lineno) == ("x", 3)


def test_nul_bytes_behave_like_c_strchr():
    # C's strchr finds NUL in every character set: it is whitespace and a delimiter.
    assert parse_job("task\0\n", "j").task
    assert parse_job("\0task\n", "j").task
    with pytest.raises(ParseError):
        parse_job("task\0 junk\n", "j")
