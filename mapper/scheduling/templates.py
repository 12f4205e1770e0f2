"""The fixed per-core dataflow styles of MAGMA's sub-accelerators, as our own directives.

``dla`` is NVDLA-like (K spatial across clusters, C inside a cluster), ``shi`` is
ShiDianNao-like (output rows/columns spatial), ``eye`` is Eyeriss-like row stationary.
Depthwise layers (DSCONV) use one C-parallel dataflow on every core, as MAGMA does.
"""

from __future__ import annotations

from costmodel import Cluster, Dataflow, SpatialMap, TemporalMap

STYLES = ("dla", "shi", "eye")


def _dla(r: int, s: int, c: int) -> list:
    return [SpatialMap(1, 1, "K"), TemporalMap(c, c, "C"), TemporalMap(r, r, "R"),
            TemporalMap(s, s, "S"), TemporalMap(r, 1, "Y"), TemporalMap(s, 1, "X"),
            Cluster(c), SpatialMap(1, 1, "C")]


def _shi(r: int, s: int, c: int) -> list:
    return [TemporalMap(1, 1, "K"), SpatialMap(r, r, "Y'"), TemporalMap(c, c, "X'"),
            TemporalMap(1, 1, "C"), TemporalMap(r, r, "R"), TemporalMap(s, s, "S"),
            Cluster(c), TemporalMap(1, 1, "C"), TemporalMap(1, 1, "Y'"),
            SpatialMap(1, 1, "X'"), TemporalMap(r, r, "R"), TemporalMap(s, s, "S")]


def _eye(r: int, s: int, c: int) -> list:
    return [TemporalMap(1, 1, "C"), TemporalMap(1, 1, "K"), SpatialMap(c, c, "Y'"),
            TemporalMap(s, s, "X'"), TemporalMap(r, r, "R"), TemporalMap(s, s, "S"),
            Cluster(c), TemporalMap(1, 1, "C"), SpatialMap(1, 1, "Y'"),
            SpatialMap(1, 1, "X'"), TemporalMap(r, r, "R"), TemporalMap(s, s, "S")]


def _depthwise(r: int, s: int, c: int) -> list:
    return [SpatialMap(c, c, "C"), TemporalMap(r, 1, "Y"), TemporalMap(s, 1, "X"),
            TemporalMap(r, r, "R"), TemporalMap(s, s, "S")]


_BUILDERS = {"dla": _dla, "shi": _shi, "eye": _eye}


def template_dataflow(style: str, layer_type: str, r: int, s: int, cluster: int) -> Dataflow:
    """The dataflow a core of ``style`` runs a layer with (filter ``r`` x ``s``)."""
    if layer_type == "DSCONV":
        return Dataflow(_depthwise(r, s, cluster))
    if style not in _BUILDERS:
        raise ValueError(f"unknown dataflow style {style!r}; expected one of {', '.join(STYLES)}")
    return Dataflow(_BUILDERS[style](r, s, cluster))
