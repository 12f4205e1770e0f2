"""Restricted mapping spaces: classic dataflows and accelerators of limited flexibility.

A *template* fixes the level count, each level's loop order and spatial dim (the dataflow
style), and gives reference tiles and cluster sizes. By default only the map sizes (tiles) and
cluster sizes are free. A *flexibility class* (Kao et al., "A Formalism of DNN Accelerator
Flexibility") says which of four axes an accelerator can change: Tiling, Order (loop order),
Parallelism (spatial dims) and Shape (array shape = cluster sizes). It is written as
``T1O0P1S0`` (1 = flexible); the 16 classes range from ``T0O0P0S0`` (fixed-function) to
``T1O1P1S1`` (fully flexible). Fixed axes take the template's values.

Spec strings accepted by :func:`make_space`: ``None``/``"free"``, a template name
(``"kcp_ws"``) or ``"<template>:<class>"`` (``"kcp_ws:T1O0P0S1"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from costmodel import Hardware, Layer

from .mapping_space import MappingSpace

CONV_ORDER = ("K", "C", "R", "S", "Y", "X")


@dataclass(frozen=True)
class Template:
    """A classic dataflow: per level, a loop order (outer first) and the spatial dim."""

    name: str
    description: str
    orders: tuple[tuple[str, ...], ...]
    pars: tuple[str, ...]
    clusters: tuple[int, ...] = ()          # cluster sizes of levels 1.. (0: the layer's R)
    full: tuple[tuple[str, ...], ...] = ()  # dims mapped whole at each level (reference tiles)
    pars2: tuple[str | None, ...] = ()      # second spatial dim per level (None: none)


TEMPLATES: dict[str, Template] = {t.name: t for t in [
    Template("kcp_ws", "weight-stationary, K across clusters and C across PEs (NVDLA-like)",
             (("K", "C", "R", "S", "Y", "X"), ("K", "C", "Y", "X", "R", "S")), ("K", "C"),
             (64,), (("C",), ())),
    Template("yxp_os", "output-stationary, Y across clusters and X across PEs (ShiDianNao-like)",
             (("K", "C", "Y", "X", "R", "S"), ("K", "C", "Y", "X", "R", "S")), ("Y", "X"),
             (8,), ((), ())),
    Template("ykp_os", "output-stationary, Y across clusters and K across PEs",
             (("K", "Y", "X", "C", "R", "S"), ("C", "K", "Y", "X", "R", "S")), ("Y", "K"),
             (16,), ((), ())),
    Template("xp_ws", "weight-stationary, output columns X across PEs (one level)",
             (("K", "C", "Y", "X", "R", "S"),), ("X",)),
    Template("nlr", "no local reuse, input channels C across PEs (DianNao-like)",
             (("K", "Y", "X", "R", "S", "C"),), ("C",)),
    Template("cp_ws", "weight-stationary, input channels C across PEs (one level)",
             (("K", "C", "Y", "X", "R", "S"),), ("C",)),
    Template("rs", "row-stationary (Eyeriss): output rows across clusters of R PEs, each PE "
             "one filter row and one input row", (("Y", "X", "C", "K", "R", "S"),
                                                  ("K", "X", "C", "Y", "R", "S")),
             ("Y", "Y"), (0,), ((), ()), (None, "R")),
]}

GEMM_TEMPLATES: dict[str, Template] = {t.name: t for t in [
    Template("mnk", "M across clusters, K (reduction) across PEs",
             (("M", "N", "K"), ("M", "N", "K")), ("M", "K"), (64,), ((), ())),
    Template("nmk", "N across clusters, M across PEs", (("N", "M", "K"), ("N", "M", "K")),
             ("N", "M"), (64,), ((), ())),
]}

_FLEX = re.compile(r"T([01])O([01])P([01])S([01])")


def _adapt(order: tuple[str, ...], dims: list[str]) -> tuple[str, ...]:
    """A CONV-style order restricted/extended to a layer's dims (N outermost, no K for DSCONV)."""
    out = [d for d in order if d in dims]
    return tuple([d for d in dims if d not in out] + out)


def make_space(layer: Layer, hw: Hardware, spec: str | None = None,
               max_levels: int = 2) -> MappingSpace:
    """The mapping space of ``layer`` named by ``spec`` (see module docstring)."""
    if spec in (None, "", "free"):
        return MappingSpace(layer, hw, max_levels=max_levels)
    name, _, flex = spec.partition(":")
    table = GEMM_TEMPLATES if layer.type == "GEMM" else TEMPLATES
    if name not in table:
        raise ValueError(f"unknown template {name!r} for a {layer.type} layer; "
                         f"expected one of {', '.join(table)}")
    t = table[name]
    m = _FLEX.fullmatch(flex) if flex else None
    if flex and not m:
        raise ValueError(f"bad flexibility class {flex!r}; expected e.g. T1O0P1S0")
    tiling, order, par, clusters = (bool(int(x)) for x in m.groups()) if m else (1, 0, 0, 1)
    rs = any(p in ("R", "S") for p in t.pars2 if p)
    probe = MappingSpace(layer, hw, fixed_levels=len(t.orders), rs_spatial=rs)
    dims = probe.dims
    L = len(t.orders)
    kw: dict = {"fixed_levels": L, "name": spec, "rs_spatial": rs}
    if not order:
        kw["fixed_order"] = {lv: _adapt(t.orders[lv], dims) for lv in range(L)}
    if not par:
        pars = {}
        for lv in range(L):
            p = t.pars[lv]
            if p not in dims:  # e.g. K of a depthwise layer: fall back to its channel dim
                p = "C"
            pars[lv] = p
        kw["fixed_par"] = pars
        kw["fixed_par2"] = {lv: (t.pars2[lv] if lv < len(t.pars2) else None) for lv in range(L)}
    if not clusters and L > 1:
        sizes = [c or layer.full_dims().get("R", 1) for c in t.clusters]
        kw["fixed_clusters"] = {lv: min(sizes[lv - 1], hw.num_pes) for lv in range(1, L)}
    if not tiling:
        fixed = {}
        extent = dict(zip(dims, probe.extent.tolist()))
        for lv in range(L):
            full = t.full[lv] if lv < len(t.full) else ()
            for d in dims:
                if d in ("R", "S"):
                    if lv < len(t.pars2) and t.pars2[lv] == d:
                        fixed[(lv, d)] = 1  # one filter row per PE
                    continue
                fixed[(lv, d)] = extent[d] if d in full else 1
        kw["fixed_tiles"] = fixed
    return MappingSpace(layer, hw, **kw)
