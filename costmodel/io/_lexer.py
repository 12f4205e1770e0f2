"""MAESTRO's lexer (spec section 1.1), shared by the mapping and hardware parsers.

A token is a maximal run of characters outside ``space tab , - > ( ) : ;``; a token that
starts with ``//`` ends its line (comment). ``{`` and ``}`` are *not* separators.

Deliberate difference: MAESTRO keeps a trailing ``\\r``, so CRLF files break there. We
normalise CRLF (and lone CR) line endings to LF first, so such files are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"[^ \t,\->():;]+")
_INT_RE = re.compile(r"[0-9]+")
INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Token:
    """One token and its 1-based line number."""

    text: str
    line: int
    #: the character just before the token is ``-`` (a minus sign MAESTRO drops as a separator)
    minus: bool = False


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, dropping ``//`` comments."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    tokens: list[Token] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        for match in _TOKEN_RE.finditer(line):
            tok = match.group()
            if tok.startswith("//"):
                break
            start = match.start()
            tokens.append(Token(tok, lineno, start > 0 and line[start - 1] == "-"))
    return tokens


def negative_number(tok: Token) -> bool:
    """True for a number written with a minus sign (``-64``): MAESTRO lexes ``-`` as a
    separator and silently reads 64; we reject it instead."""
    return tok.minus and is_int(tok.text)


def is_int(text: str) -> bool:
    """True if ``text`` is a plain non-negative decimal integer (ASCII digits only)."""
    return _INT_RE.fullmatch(text) is not None
