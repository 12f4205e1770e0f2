"""Option types for argparse: bad values become one-line usage errors at the boundary.

Each factory returns a ``type=`` callable; argparse reports its :class:`ArgumentTypeError`
as ``mapper tune: error: --budget must be >= 1, got 0`` (see :class:`Parser`).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable

_ARG_RE = re.compile(r"^argument ([^:]+): (must .*|expected .*)$")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str):  # type: ignore[override]
        m = _ARG_RE.match(message)
        if m:  # "argument --budget: must be >= 1" -> "--budget must be >= 1"
            message = f"{m.group(1).split('/')[0]} {m.group(2)}"
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def _number(text: str, kind: type) -> int | float:
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An integer ``>= minimum`` (and ``<= maximum`` when given)."""

    def parse(text: str) -> int:
        v = int(_number(text, int))
        if v < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {v}")
        if maximum is not None and v > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {v}")
        return v

    parse.__name__ = "integer"
    return parse


def float_above(minimum: float, inclusive: bool = False) -> Callable[[str], float]:
    """A finite number ``> minimum`` (``>=`` with ``inclusive``); nan and inf are rejected."""

    def parse(text: str) -> float:
        v = float(_number(text, float))
        if not math.isfinite(v) or v < minimum or (v == minimum and not inclusive):
            op = ">=" if inclusive else ">"
            raise argparse.ArgumentTypeError(f"must be a finite number {op} {minimum:g}, "
                                             f"got {text!r}")
        return v

    parse.__name__ = "number"
    return parse


def jobs(text: str) -> int:
    """Worker processes: a positive count, or negative as in joblib (-1: all cores)."""
    v = int(_number(text, int))
    if v == 0:
        raise argparse.ArgumentTypeError("must be a positive number of processes, or -1 for "
                                         "all cores (-2: all but one), got 0")
    return v


def budget_spec(text: str) -> str | float:
    """An area/power budget: the preset ``edge`` or ``cloud``, or a finite positive number."""
    if text in ("edge", "cloud"):
        return text
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number or edge/cloud, got {text!r}")
    return v


def non_empty(text: str) -> str:
    """A non-empty string (``--hw ""`` must not silently mean the default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text
