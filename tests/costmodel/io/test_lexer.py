"""MAESTRO's lexer: separators, comments, line numbers, minus signs and integers."""

import pytest

from costmodel.io._lexer import Token, is_int, negative_number, tokenize


def texts(src):
    return [t.text for t in tokenize(src)]


def test_separators_split_tokens_but_braces_do_not():
    assert texts("SpatialMap(1,1) K;") == ["SpatialMap", "1", "1", "K"]
    assert texts("Dimensions { K: 64, C:3 }") == ["Dimensions", "{", "K", "64", "C", "3", "}"]
    assert texts("a->b\tc") == ["a", "b", "c"]
    assert texts("Layer{") == ["Layer{"]


def test_comments_end_the_line_and_lines_are_numbered():
    toks = tokenize("K: 1 // note: ignored\n// whole line\nC: 2")
    assert [(t.text, t.line) for t in toks] == [("K", 1), ("1", 1), ("C", 3), ("2", 3)]


@pytest.mark.parametrize("src", ["a\r\nb", "a\rb", "a\nb"])
def test_crlf_and_cr_line_endings_count_as_newlines(src):
    assert [(t.text, t.line) for t in tokenize(src)] == [("a", 1), ("b", 2)]


def test_a_minus_sign_is_a_separator_that_is_remembered():
    toks = tokenize("K: -64 a-b")
    assert [t.text for t in toks] == ["K", "64", "a", "b"]
    assert [t.minus for t in toks] == [False, True, False, True]
    assert negative_number(toks[1]) and not negative_number(toks[3])


@pytest.mark.parametrize("text,want", [("0", True), ("064", True), ("12a", False),
                                       ("", False), ("1.5", False), ("\u0663", False)])
def test_is_int_accepts_plain_ascii_digits_only(text, want):
    assert is_int(text) is want
    assert negative_number(Token(text, 1, minus=True)) is want
