"""The accelerator's sparsity features: storage formats per tensor and level, and what the
compute does with an ineffectual MAC (skip, gate or nothing), conditioned on which operands.

Kept apart from :class:`costmodel.hardware.Hardware` (which stays MAESTRO's parameters) and
passed alongside it; in a hardware YAML file it is the ``sparsity`` key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

from ..errors import MaestroInputError
from .density import TENSOR_NAMES, tensor_name

FORMATS = ("dense", "bitmask", "coordinate", "nm", "rle")
ACTIONS = ("skip", "gate", "none")
LEVELS = ("L1", "L2", "DRAM")
OPERANDS = ("weight", "input")
_LEVEL_ALIASES = {"l1": "L1", "l2": "L2", "dram": "DRAM", "offchip": "DRAM"}


@dataclass(frozen=True)
class SparsityConfig:
    """Formats ``(tensor, level) -> format`` (missing: dense), the compute action and the
    operands it conditions on; ``rle_bits`` is the run-length field width of ``rle``,
    ``coord_bits`` a fixed coordinate width of ``coordinate`` (0: log2 of the tile)."""

    formats: tuple[tuple[str, str, str], ...] = ()
    compute: str = "none"
    on: tuple[str, ...] = ("weight",)
    rle_bits: int = 4
    coord_bits: int = 0
    _table: dict = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        table = {}
        for t, lv, f in self.formats:
            tensor = tensor_name(t, "<hardware>")
            level = _level(lv)
            if f not in FORMATS:
                raise MaestroInputError(f"sparsity: tensor {tensor}, level {level}: unknown "
                                        f"format {f!r}; expected one of {', '.join(FORMATS)}",
                                        rule="sparsity-format")
            table[(tensor, level)] = f
        if self.compute not in ACTIONS:
            raise MaestroInputError(f"sparsity: unknown compute action {self.compute!r}; "
                                    f"expected one of {', '.join(ACTIONS)}", rule="sparsity")
        on = tuple(tensor_name(o, "<hardware>") for o in self.on)
        if not on or any(o not in OPERANDS for o in on):
            raise MaestroInputError(f"sparsity: the compute action conditions on {self.on!r}; "
                                    "expected weight, input or both", rule="sparsity")
        if int(self.rle_bits) != self.rle_bits or not 1 <= self.rle_bits <= 16:
            raise MaestroInputError(f"sparsity: rle_bits must be an integer in 1..16, got "
                                    f"{self.rle_bits}", rule="sparsity")
        if int(self.coord_bits) != self.coord_bits or not 0 <= self.coord_bits <= 64:
            raise MaestroInputError(f"sparsity: coord_bits must be an integer in 0..64 (0: "
                                    f"log2 of the tile), got {self.coord_bits}",
                                    rule="sparsity")
        object.__setattr__(self, "on", on)
        object.__setattr__(self, "_table", table)

    def format(self, tensor: str, level: str) -> str:
        return self._table.get((tensor, level), "dense")

    @property
    def is_trivial(self) -> bool:
        """No compressed format and no compute action: identical to the dense model."""
        return self.compute == "none" and all(f == "dense" for f in self._table.values())

    def to_dict(self) -> dict:
        fm: dict = {}
        for (t, lv), f in sorted(self._table.items()):
            fm.setdefault(t, {})[lv] = f
        return {"formats": fm, "compute": self.compute, "on": list(self.on),
                "rle_bits": self.rle_bits, "coord_bits": self.coord_bits}

    @classmethod
    def from_dict(cls, data, source: str = "sparsity") -> SparsityConfig:
        """From ``{formats: {tensor: fmt | {level: fmt}}, compute: ..., on: ...}``."""
        if not isinstance(data, dict):
            raise MaestroInputError(f"{source}: expected a mapping, got {data!r}",
                                    rule="sparsity")
        # YAML 1.1 reads an unquoted ``on:`` key as the boolean True
        data = {("on" if k is True else k): v for k, v in data.items()}
        unknown = set(data) - {"formats", "compute", "on", "rle_bits", "coord_bits"}
        if unknown:
            raise MaestroInputError(f"{source}: unknown keys {sorted(unknown)}; expected "
                                    "formats, compute, on, rle_bits, coord_bits",
                                    rule="sparsity")
        formats = []
        for t, spec in (data.get("formats") or {}).items():
            levels = spec if isinstance(spec, dict) else {lv: spec for lv in LEVELS}
            formats += [(t, lv, f) for lv, f in levels.items()]
        on = data.get("on", ("weight",))
        on = ("weight", "input") if on == "both" else (on,) if isinstance(on, str) else on
        return cls(tuple(formats), str(data.get("compute", "none")), tuple(on),
                   int(data.get("rle_bits", 4)), int(data.get("coord_bits", 0)))


def _level(name: str) -> str:
    lv = _LEVEL_ALIASES.get(str(name).lower())
    if lv is None:
        raise MaestroInputError(f"sparsity: unknown storage level {name!r}; expected one of "
                                f"{', '.join(LEVELS)}", rule="sparsity")
    return lv


def uniform(tensor_formats: dict[str, str], compute: str = "none",
            on=("weight",), coord_bits: int = 0) -> SparsityConfig:
    """One format per tensor at every level (the common case, and a search choice)."""
    return SparsityConfig(tuple((t, lv, f) for t, f in tensor_formats.items() for lv in LEVELS),
                          compute, tuple(on), coord_bits=coord_bits)


def hardware_choices(tensors=("weight",), formats=FORMATS, actions=ACTIONS,
                     on=("weight",)) -> list[SparsityConfig]:
    """Every combination of one format per listed tensor and a compute action: the sparsity
    features as hardware choices for a search."""
    out = []
    for fs in product(formats, repeat=len(tensors)):
        for a in actions:
            out.append(uniform(dict(zip(tensors, fs)), a, on))
    return out


__all__ = ["ACTIONS", "FORMATS", "LEVELS", "SparsityConfig", "TENSOR_NAMES", "hardware_choices",
           "uniform"]
