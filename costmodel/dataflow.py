"""MAESTRO's data-centric directives and the dataflow (an ordered list of them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .errors import MaestroInputError

MAX_CLUSTERS = 3  #: MAESTRO has 4 NoCs, so at most 3 Cluster directives (4 levels).


@dataclass(frozen=True)
class TemporalMap:
    """Tiles of ``size`` elements of ``dim``, consecutive time steps ``offset`` apart."""

    size: int
    offset: int
    dim: str
    kind = "T"

    def __str__(self) -> str:
        return f"TemporalMap({self.size},{self.offset}) {self.dim}"


@dataclass(frozen=True)
class SpatialMap:
    """Tiles of ``size`` elements of ``dim``, consecutive sub-units ``offset`` apart."""

    size: int
    offset: int
    dim: str
    kind = "S"

    def __str__(self) -> str:
        return f"SpatialMap({self.size},{self.offset}) {self.dim}"


@dataclass(frozen=True)
class Cluster:
    """Closes a level: each unit of the level above holds ``size`` units of the next one."""

    size: int
    type: str = "P"
    kind = "C"

    def __str__(self) -> str:
        return f"Cluster({self.size},{self.type})"


Directive = Union[TemporalMap, SpatialMap, Cluster]  # noqa: UP007 (runtime alias, py3.10)


@dataclass(frozen=True)
class Dataflow:
    """An ordered tuple of directives; ``Cluster`` entries split it into levels (outer first)."""

    directives: tuple[Directive, ...]
    #: physical model: the innermost top-level loops whose tiles stay resident in L2 (an outer
    #: DRAM-to-L2 level; ``L2Resident(k)`` in a ``.m`` file); None: the model chooses
    l2_resident: int | None = None
    #: file line of the ``L2Resident`` statement, for error messages
    l2_resident_line: int | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "directives", tuple(self.directives))
        if self.l2_resident is not None and (int(self.l2_resident) != self.l2_resident
                                             or self.l2_resident < 0):
            raise MaestroInputError(
                f"L2Resident({self.l2_resident}): expected a number of loops >= 0",
                line=self.l2_resident_line, rule="l2-resident")
        for d in self.directives:
            if d.size <= 0:
                raise MaestroInputError(f"{d}: size must be > 0", rule="positive-size")
            if d.kind != "C" and d.offset <= 0:
                raise MaestroInputError(f"{d}: offset must be > 0", rule="positive-size")
        if sum(d.kind == "C" for d in self.directives) > MAX_CLUSTERS:
            raise MaestroInputError(
                f"at most {MAX_CLUSTERS} Cluster directives are supported (4 levels)",
                rule="cluster-count")

    @property
    def structure(self) -> tuple[tuple[str, str], ...]:
        """The structure without sizes: ``(kind, dim)`` per directive (``("C", "")``: cluster)."""
        return tuple((d.kind, d.dim if d.kind != "C" else "") for d in self.directives)

    @property
    def cluster_sizes(self) -> tuple[int, ...]:
        return tuple(d.size for d in self.directives if d.kind == "C")

    @property
    def num_levels(self) -> int:
        return len(self.cluster_sizes) + 1

    def levels(self) -> list[list[Directive]]:
        """Directives of each level, outer (level 0) to inner, without the Cluster entries."""
        out: list[list[Directive]] = [[]]
        for d in self.directives:
            if d.kind == "C":
                out.append([])
            else:
                out[-1].append(d)
        return out

    def __str__(self) -> str:
        text = "; ".join(str(d) for d in self.directives)
        return text if self.l2_resident is None else f"{text}; L2Resident({self.l2_resident})"
