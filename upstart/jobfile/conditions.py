"""Event expressions: the `start on` / `stop on` grammar (and `while`, `ready on`).

Upstart reads a condition with an operator stack and no precedence: every
`and`/`or` takes everything collected so far (back to the nearest open
parenthesis) as its left operand, so `a or b and c` is `(a or b) and c`. An
operand is an event name when nothing is being collected, else an argument of
the event being collected; positional arguments must come before named ones.
LF ends the expression unless a parenthesis is open.

This module owns that algorithm (`init/parse_job.c:parse_on*`) and the exact
line each error is reported on. It reads tokens only through the `Scanner` and
returns immutable `Match`/`Op` trees; it must never touch a `JobClass`.
"""

from __future__ import annotations

from upstart.jobfile.lexer import CNLWS, PAREN_CNLWS, Scanner
from upstart.jobfile.model import Expr, Match, Op, ParseError

EXPECTED_EVENT = "Expected event"
EXPECTED_OPERATOR = "Expected operator"
EXPECTED_VARIABLE = "Expected variable name before value"
MISMATCHED_PARENS = "Mismatched parentheses"


class _M:
    """An event match being collected (its arguments still grow)."""

    __slots__ = ("name", "args")

    def __init__(self, name: str):
        self.name = name
        self.args: list[str] = []


class _O:
    """An operator waiting for its right operand."""

    __slots__ = ("kind", "left", "right")

    def __init__(self, kind: str, left):
        self.kind = kind
        self.left = left
        self.right = None


class _Collect(Exception):
    """A collection error; the caller decides which line it belongs to."""


def _freeze(node) -> Expr:
    if isinstance(node, _M):
        return Match(node.name, tuple(node.args))
    return Op(node.kind, _freeze(node.left), _freeze(node.right))


def _collect(stack: list, root):
    """Fold the stack down to the nearest open-paren marker into one tree."""
    while stack:
        item = stack[-1]
        if item is None:
            break
        stack.pop()
        if isinstance(item, _O):
            if root is None:
                raise _Collect(EXPECTED_EVENT)
            item.right = root
        elif root is not None:
            raise _Collect(EXPECTED_OPERATOR)
        root = item
    if root is None:
        raise _Collect(EXPECTED_EVENT)
    return root


def parse_condition(sc: Scanner) -> Expr:
    """Parse an expression starting at the scanner's position.

    On return the scanner is past the expression's last line.
    """
    stack: list = []
    root = None
    paren = 0
    err_line = sc.lineno
    while True:
        sc.skip_whitespace()
        while True:
            err_line = sc.lineno
            c = sc.text[sc.pos] if sc.pos < sc.n else ""
            if c == "(":
                paren += 1
                top = stack[-1] if stack else None
                if root is not None or isinstance(top, _M):
                    raise ParseError(EXPECTED_OPERATOR, sc.lineno)
                stack.append(None)
                sc.pos += 1
                sc.skip_whitespace()
            elif c == ")":
                paren -= 1
                try:
                    root = _collect(stack, root)
                except _Collect as e:
                    raise ParseError(str(e), sc.lineno) from None
                if not stack:
                    raise ParseError(MISMATCHED_PARENS, sc.lineno)
                stack.pop()
                sc.pos += 1
                sc.skip_whitespace()
            else:
                root = _operator_or_operand(sc, stack, root)
            if not sc.has_token():
                break
        sc.skip_comment()
        if not (sc.pos < sc.n and paren):
            break
    try:
        root = _collect(stack, root)
    except _Collect as e:
        raise ParseError(str(e), err_line) from None
    if stack:
        raise ParseError(MISMATCHED_PARENS, sc.lineno)
    return _freeze(root)


def _operator_or_operand(sc: Scanner, stack: list, root):
    save_pos, save_line = sc.pos, sc.lineno
    word = sc.next_token(PAREN_CNLWS, False)
    if word == "and" or word == "or":
        try:
            left = _collect(stack, root)
        except _Collect as e:
            raise ParseError(str(e), save_line) from None
        stack.append(_O(word, left))
        return None
    sc.pos, sc.lineno = save_pos, save_line
    arg = sc.next_token(PAREN_CNLWS, True)
    top = stack[-1] if stack else None
    if not isinstance(top, _M):
        stack.append(_M(arg))
        return root
    top.args.append(arg)
    named = False
    for a in top.args:
        if "=" in a:
            named = True
        elif named:
            raise ParseError(EXPECTED_VARIABLE, sc.lineno)
    return root


__all__ = ["parse_condition", "CNLWS"]
