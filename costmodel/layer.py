"""DNN layers as MAESTRO sees them: a type, named loop dimensions, strides and a dataflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from .dataflow import Dataflow
from .errors import MaestroInputError

#: Layer types the model analyses. TRCONV is analysed exactly like CONV (as MAESTRO does).
LAYER_TYPES = ("CONV", "DSCONV", "NGCONV", "GEMM", "TRCONV")
CONV_FAMILY = ("CONV", "DSCONV", "NGCONV", "TRCONV")
CONV_DIMS = ("N", "G", "K", "C", "R", "S", "Y", "X", "Y'", "X'")
GEMM_DIMS = ("M", "N", "K")


@dataclass(frozen=True)
class TensorTable:
    """Coupled dimensions of the input, filter and output tensors of one layer type."""

    input: tuple[str, ...]
    filter: tuple[str, ...]
    output: tuple[str, ...]

    @property
    def input_vars(self) -> tuple[str, ...]:
        """ASCII-sorted union of input and filter dims (MAESTRO's "input variables")."""
        return tuple(sorted(set(self.input) | set(self.filter)))

    def tensors(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        return (self.input, self.filter, self.output)


def tensor_table(layer_type: str, with_batch: bool) -> TensorTable:
    """The tensor table of a layer type; ``with_batch`` adds N to the CONV-family tensors."""
    n = ("N",) if with_batch else ()
    t = "CONV" if layer_type == "TRCONV" else layer_type
    if t == "CONV":
        return TensorTable(n + ("C", "Y", "X"), ("K", "C", "R", "S"), n + ("K", "Y", "X"))
    if t == "DSCONV":
        return TensorTable(n + ("C", "Y", "X"), ("C", "R", "S"), n + ("C", "Y", "X"))
    if t == "NGCONV":
        return TensorTable(n + ("G", "C", "Y", "X"), ("G", "K", "C", "R", "S"),
                           n + ("G", "K", "C", "Y", "X"))
    if t == "GEMM":
        return TensorTable(("M", "K"), ("K", "N"), ("M", "N"))
    raise MaestroInputError(f"unknown layer type {layer_type!r}; expected one of {LAYER_TYPES}",
                            rule="layer-type")


@dataclass
class Layer:
    """One layer: ``dims`` in declaration order (``Y'``/``X'`` allowed instead of ``Y``/``X``).

    ``strides`` maps a dimension (X or Y) to its stride; missing entries mean 1.
    ``dataflow`` is optional: a workload layer has none until a mapper assigns one.
    """

    name: str
    type: str
    dims: dict[str, int]
    strides: dict[str, int] = field(default_factory=dict)
    dataflow: Dataflow | None = None
    #: line of the layer's Dataflow block (or header) in the file it was read from, if any
    source_line: int | None = field(default=None, compare=False, repr=False)
    #: per-tensor density (sparsity; the ``physical`` model only): tensor -> a float in (0, 1],
    #: an ``"N:M"`` string or a ``.npy`` mask; parsed into :class:`costmodel.sparsity.Density`
    density: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in LAYER_TYPES:
            raise MaestroInputError(
                f"layer {self.name!r}: unknown type {self.type!r}; expected one of {LAYER_TYPES}",
                rule="layer-type")
        allowed = GEMM_DIMS if self.type == "GEMM" else CONV_DIMS
        for d, v in self.dims.items():
            if d not in allowed:
                raise MaestroInputError(
                    f"layer {self.name!r}: unknown dimension {d!r} for {self.type}; "
                    f"expected one of {allowed}", rule="dimension")
            if int(v) <= 0:
                raise MaestroInputError(
                    f"layer {self.name!r}: dimension {d} must be positive, got {v}",
                    rule="positive-size")
        for d, s in self.strides.items():
            if int(s) < 1:
                raise MaestroInputError(f"layer {self.name!r}: stride of {d} must be >= 1, got {s}",
                                        rule="stride")
        if self.type in CONV_FAMILY:
            for d in ("R", "S"):
                if d not in self.dims:
                    raise MaestroInputError(f"layer {self.name!r}: dimension {d} must be declared",
                                            rule="dimension")
            for a, b in (("Y", "Y'"), ("X", "X'")):
                if a in self.dims and b in self.dims:
                    raise MaestroInputError(
                        f"layer {self.name!r}: declare either {a} or {b}, not both",
                        rule="dimension")
            for slide, ref in (("R", "Y"), ("S", "X")):
                if ref in self.dims and int(self.dims[slide]) > int(self.dims[ref]):
                    raise MaestroInputError(
                        f"layer {self.name}: filter {slide}={int(self.dims[slide])} larger than "
                        f"input {ref}={int(self.dims[ref])}", rule="filter-larger-than-input")
        if self.density:
            from .sparsity.density import layer_density  # local: sparsity imports this module
            self.density = layer_density(self)

    # -- derived quantities -------------------------------------------------------------
    @property
    def is_conv_family(self) -> bool:
        return self.type in CONV_FAMILY

    def stride(self, dim: str) -> int:
        return int(self.strides.get(dim, 1))

    def full_dims(self) -> dict[str, int]:
        """Dimension table SD_0: declared dims plus derived Y/X/Y'/X' (stride ignored: MAESTRO)."""
        sd = {k: int(v) for k, v in self.dims.items()}
        if self.is_conv_family:
            for ref, slide, out in (("Y", "R", "Y'"), ("X", "S", "X'")):
                if ref in sd and out not in sd:
                    sd[out] = sd[ref] - sd[slide] + 1
                elif out in sd and ref not in sd:
                    sd[ref] = sd[out] + sd[slide] - 1
        return sd

    def output_size(self, dim: str) -> int:
        """True output rows/columns of a CONV-family layer, with stride (no padding)."""
        sd = self.full_dims()
        slide = "R" if dim == "Y" else "S"
        return (sd[dim] - sd[slide]) // self.stride(dim) + 1

    @property
    def macs(self) -> int:
        """The layer's true MAC count (used for the physical-consistency check)."""
        sd = self.full_dims()
        if self.type == "GEMM":
            return sd["M"] * sd["N"] * sd["K"]
        base = sd.get("N", 1) * sd["R"] * sd["S"] * self.output_size("Y") * self.output_size("X")
        if self.type == "DSCONV":
            return base * sd["C"]
        if self.type == "NGCONV":
            return base * sd["C"] * sd["K"] * sd.get("G", 1)
        return base * sd["K"] * sd["C"]

    def tensor_elements(self, table: TensorTable) -> tuple[int, int]:
        """MAESTRO's "Num Total Input/Weight Pixels": products of declared dims per tensor."""
        vol_in = prod(int(self.dims[d]) for d in table.input if d in self.dims)
        vol_w = prod(int(self.dims[d]) for d in table.filter if d in self.dims)
        return vol_in, vol_w

    def shape_key(self) -> tuple:
        """Hashable description of the layer's shape (type, dims, strides), without dataflow."""
        key = (self.type, tuple(self.dims.items()),
               tuple(sorted((k, int(v)) for k, v in self.strides.items() if int(v) != 1)))
        if self.density:  # a sparse layer costs differently from its dense shape
            key += (tuple(sorted((t, str(d), d.key) for t, d in self.density.items())),)
        return key


@dataclass
class Network:
    """A named list of layers, as in a MAESTRO ``Network { ... }`` block."""

    name: str
    layers: list[Layer]
