"""Errors raised for bad input: each one names where the problem is and which rule it breaks."""

from __future__ import annotations


class MaestroInputError(ValueError):
    """Invalid mapping, model or hardware description.

    ``source`` is a file name (or ``"<string>"``), ``line`` a 1-based line number when known,
    ``rule`` a short name of the violated rule.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 rule: str | None = None):
        self.message = message
        self.source = source
        self.line = line
        self.rule = rule
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.source:
            where = self.source + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}{self.message}{rule}"


class MappingError(MaestroInputError):
    """A dataflow that cannot be analysed for a layer (e.g. no spatial map in a level)."""
