"""Checks of a layer's dataflow that MAESTRO only performs during analysis (spec 2.3-2.4)."""

from __future__ import annotations

from math import prod

from ..errors import MappingError
from ..layer import CONV_DIMS, GEMM_DIMS, Layer, tensor_table

#: Dimension names accepted per layer type (G only for grouped convolutions).
_CONV_NO_G = tuple(d for d in CONV_DIMS if d != "G")
ALLOWED_DIMS: dict[str, tuple[str, ...]] = {
    "CONV": _CONV_NO_G, "DSCONV": _CONV_NO_G, "TRCONV": _CONV_NO_G, "NGCONV": CONV_DIMS,
    "GEMM": GEMM_DIMS, "FC": ("N", "K", "C", "R", "S", "Y", "X"),
}


def mappable_dims(layer_type: str, declared: dict[str, int] | list[str]) -> set[str]:
    """Dims a directive may name: the declared ones, plus Y/X for Y'/X' and vice versa."""
    names = set(declared)
    if layer_type != "GEMM":
        for a, b in (("Y", "Y'"), ("X", "X'")):
            if a in names or b in names:
                names |= {a, b}
    return names


def validate_dataflow(layer: Layer, source: str | None = None, line: int | None = None, *,
                      num_pes: int | None = None) -> None:
    """Check that ``layer.dataflow`` can be analysed; raise :class:`MappingError` if not.

    Rules, per cluster level from the outermost (level 0) in:

    * ``undeclared-dimension``: a directive names a dim the layer does not have
      (Y/X may be used when Y'/X' are declared and vice versa);
    * ``inner-level-dimension``: a level below the top ends up (explicitly, or by
      inheriting its parent's directives, spec 2.4 steps 1-2) with a directive on a dim
      that inner levels do not carry. Inner levels only know the tensor-coupled dims
      (e.g. not K for DSCONV) and never Y'/X'. MAESTRO: "Dimension ... not found";
    * ``prime-without-filter-map``: a level maps Y' (X') but not Y (X) and has no directive
      of its own on R (S); MAESTRO then converts Y' to Y with an uninitialised filter size
      (undefined behaviour, spec 2.4 step 1);
    * ``no-spatial-map`` / ``spatial-map-count``: each level needs 1 or 2 SpatialMaps;
    * ``offset-gt-size``: an offset larger than its size skips data (MAESTRO silently
      exits or miscounts), except on strided X/Y whose offsets MAESTRO recomputes.

    With ``num_pes`` given, also ``cluster-exceeds-pes``: the product of the Cluster sizes
    must not exceed the PE count (MAESTRO divides by zero otherwise, spec 2.3).
    """
    df = layer.dataflow
    if df is None:
        return
    if num_pes is not None and prod(df.cluster_sizes) > num_pes:
        raise MappingError(
            f"layer {layer.name!r}: Cluster sizes {' x '.join(map(str, df.cluster_sizes))} = "
            f"{prod(df.cluster_sizes)} PEs per top-level unit, but there are only {num_pes} PEs",
            source=source, line=line, rule="cluster-exceeds-pes")
    for d in df.directives:
        if d.kind == "C" or d.offset <= d.size:
            continue
        if d.dim[0] in ("X", "Y") and layer.stride(d.dim[0]) > 1:
            continue  # MAESTRO recomputes offsets of strided X/Y maps (spec 2.4 step 4)
        raise MappingError(
            f"layer {layer.name!r}: {d} has offset {d.offset} > size {d.size}, which skips "
            f"elements of {d.dim} (allowed only on strided X/Y, whose offsets MAESTRO "
            "recomputes)", source=source, line=line, rule="offset-gt-size")
    sd0 = set(layer.full_dims())
    inner = set(tensor_table(layer.type, "N" in layer.dims).input_vars) & sd0
    parent: set[str] = set()
    for level_no, level in enumerate(df.levels()):
        where = f"layer {layer.name!r}, cluster level {level_no} (0 = outermost)"
        explicit = [d.dim for d in level]
        for dim in explicit:
            if dim not in sd0:
                raise MappingError(
                    f"{where}: directive on dimension {dim!r}, which the layer does not declare "
                    f"(declared: {', '.join(layer.dims)})",
                    source=source, line=line, rule="undeclared-dimension")
        for prime, slide in (("Y'", "R"), ("X'", "S")):
            if prime in explicit and prime[0] not in explicit and slide not in explicit:
                raise MappingError(
                    f"{where}: a directive on {prime} needs a directive on {slide} at the same "
                    f"level (MAESTRO converts {prime} to {prime[0]} with the {slide} tile size)",
                    source=source, line=line, rule="prime-without-filter-map")
        # Input-centric conversion: Y'/X' become Y/X unless the level also maps Y/X.
        completed = {d[0] if d in ("Y'", "X'") and d[0] not in explicit else d for d in explicit}
        completed |= parent
        if level_no > 0:
            for dim in sorted(completed - inner):
                how = "inherited from an outer level" if dim not in explicit else "mapped here"
                raise MappingError(
                    f"{where}: directive on {dim!r} ({how}), but inner levels only carry "
                    f"{', '.join(sorted(inner))} for a {layer.type} layer",
                    source=source, line=line, rule="inner-level-dimension")
        n_spatial = sum(d.kind == "S" for d in level)
        if n_spatial == 0:
            raise MappingError(f"{where}: no SpatialMap; each level needs 1 or 2",
                               source=source, line=line, rule="no-spatial-map")
        if n_spatial > 2:
            raise MappingError(f"{where}: {n_spatial} SpatialMaps; each level allows at most 2",
                               source=source, line=line, rule="spatial-map-count")
        parent = completed
