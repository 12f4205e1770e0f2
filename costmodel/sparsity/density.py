"""Per-tensor densities of a layer: a fraction of nonzeros, an ``"N:M"`` structure, or a mask.

A density is stated per layer and tensor (``input``, ``weight``, ``output``; ``filter`` is an
alias of ``weight``). Unstructured densities are modelled as uniformly random; ``N:M`` keeps
``N`` nonzeros in every group of ``M`` consecutive elements along the reduction dimension; a
``.npy`` mask (or tensor: nonzero entries count) gives real data, checked against the layer's
tensor shape; the model then takes the per-tile occupancy statistics from the mask itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MaestroInputError
from .stats import mask_key

TENSOR_NAMES = ("input", "weight", "output")
ALIASES = {"filter": "weight", "weights": "weight", "inputs": "input", "activation": "input",
           "outputs": "output"}
_NM = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


@dataclass(frozen=True)
class Density:
    """The nonzero fraction of one tensor; ``n:m`` > 0 for an N:M structure; ``mask`` real data
    (boolean, the tensor's shape) and ``key`` its content digest (cache key of its statistics)."""

    value: float
    n: int = 0
    m: int = 0
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)
    key: str = field(default="", compare=False, repr=False)

    @property
    def structured(self) -> bool:
        return self.m > 0

    @property
    def is_dense(self) -> bool:
        return self.value >= 1.0

    def __str__(self) -> str:
        return f"{self.n}:{self.m}" if self.structured else f"{self.value:g}"


DENSE = Density(1.0)


def reduction_dim(layer_type: str) -> str:
    """The dimension an N:M structure runs along (the reduction dimension of the weights)."""
    return {"GEMM": "K", "DSCONV": "S"}.get(layer_type, "C")


def tensor_name(name: str, layer: str) -> str:
    """Canonical tensor name, or an error naming the layer."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in TENSOR_NAMES:
        raise MaestroInputError(f"layer {layer!r}: unknown tensor {name!r} in density; expected "
                                f"one of {', '.join(TENSOR_NAMES)}", rule="density")
    return key


def parse_density(spec, layer: str, tensor: str, reduction: int | None = None,
                  shape: tuple[int, ...] | None = None) -> Density:
    """A :class:`Density` from a float in (0, 1], an ``"N:M"`` string, a ``.npy`` path or an
    array; ``reduction`` (the reduction dim's extent) and ``shape`` are checked when given."""
    where = f"layer {layer!r}, tensor {tensor}"
    if isinstance(spec, Density):
        d = spec
    elif isinstance(spec, np.ndarray):
        d = _from_mask(spec, where, shape)
    elif isinstance(spec, str) and _NM.match(spec):
        n, m = (int(v) for v in _NM.match(spec).groups())
        if m < 1 or n < 1 or n > m:
            raise MaestroInputError(f"{where}: density {spec!r}: an N:M structure needs "
                                    "1 <= N <= M", rule="density")
        d = Density(n / m, n, m)
    elif isinstance(spec, (str, Path)) and str(spec).endswith(".npy"):
        try:
            arr = np.load(str(spec), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise MaestroInputError(f"{where}: cannot read mask {str(spec)!r}: {exc}",
                                    rule="density") from None
        d = _from_mask(arr, where, shape)
    else:
        try:
            v = float(spec)
        except (TypeError, ValueError):
            raise MaestroInputError(f"{where}: density {spec!r}: expected a number in (0, 1], "
                                    "an 'N:M' structure or a .npy mask", rule="density") from None
        if not (0.0 < v <= 1.0):
            raise MaestroInputError(f"{where}: density {spec!r} is outside (0, 1]",
                                    rule="density")
        d = Density(v)
    if d.structured and reduction is not None and reduction % d.m:
        raise MaestroInputError(f"{where}: {d.n}:{d.m} structure: M={d.m} does not divide the "
                                f"reduction dimension ({reduction})", rule="density")
    return d


def _from_mask(arr: np.ndarray, where: str, shape) -> Density:
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise MaestroInputError(f"{where}: mask shape {tuple(arr.shape)} does not match the "
                                f"tensor's shape {tuple(shape)}", rule="density")
    nz = np.asarray(arr) != 0
    v = float(nz.mean()) if nz.size else 0.0
    if v <= 0.0:
        raise MaestroInputError(f"{where}: the mask has no nonzero entry (density 0 is outside "
                                "(0, 1])", rule="density")
    return Density(v, mask=nz, key=mask_key(nz))


def tensor_shapes(layer) -> dict[str, tuple[int, ...]]:
    """Shape of each tensor in the layer's tensor-table order (output rows with stride)."""
    from ..layer import tensor_table  # local: layer.py imports this module
    sd = layer.full_dims()
    table = tensor_table(layer.type, "N" in layer.dims)
    out = {}
    for name, dims in zip(TENSOR_NAMES, table.tensors()):
        shp = []
        for d in dims:
            if d not in sd:
                continue
            if name == "output" and d in ("Y", "X") and layer.is_conv_family:
                shp.append(layer.output_size(d))
            else:
                shp.append(sd[d])
        out[name] = tuple(shp)
    return out


def layer_density(layer) -> dict[str, Density]:
    """Parse and check ``layer.density`` (a mapping tensor -> spec); dense tensors dropped."""
    raw = layer.density or {}
    if not isinstance(raw, dict):
        raise MaestroInputError(f"layer {layer.name!r}: density must be a mapping of tensor "
                                f"to density, got {raw!r}", rule="density")
    sd = layer.full_dims()
    red = sd.get(reduction_dim(layer.type))
    shapes = None
    out: dict[str, Density] = {}
    for key, spec in raw.items():
        t = tensor_name(key, layer.name)
        needs_shape = isinstance(spec, np.ndarray) or str(spec).endswith(".npy")
        if needs_shape and shapes is None:
            shapes = tensor_shapes(layer)
        d = parse_density(spec, layer.name, t, red, shapes[t] if needs_shape else None)
        if not (d.is_dense and not d.structured and d.mask is None):
            out[t] = d
    return out


def density_value(dens: dict[str, Density], tensor: str) -> float:
    d = dens.get(tensor)
    return 1.0 if d is None else d.value
