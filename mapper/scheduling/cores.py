"""Multi-core accelerators: each core a PE count, a dataflow style and a cluster size.

``magma0`` .. ``magma12`` are the sub-accelerator sets of MAGMA's experiments (PE counts in
units of 64-PE clusters); ``magma9`` .. ``magma12`` pick each job's cluster size per core as
MAGMA does. Any other setting comes from a YAML/JSON file, one entry per core, optionally
with one of our hardware descriptions (``hw: file.m``) for its buffers and NoC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from costmodel import Hardware
from costmodel.errors import MaestroInputError

from .templates import STYLES

#: MAESTRO options MAGMA runs every job with (buffers and bandwidths that never bind)
MAGMA_BIG_BW = 81_920_000
MAGMA_BIG_BUFFER = 819_200_000
DEFAULT_CLUSTER = 64


def magma_hardware(num_pes: int) -> Hardware:
    """The hardware MAGMA passes to MAESTRO for a core of ``num_pes`` PEs."""
    return Hardware(num_pes=num_pes, l1_size=MAGMA_BIG_BUFFER, l2_size=MAGMA_BIG_BUFFER,
                    noc_bw=MAGMA_BIG_BW, offchip_bw=MAGMA_BIG_BW, noc_latency=1)


@dataclass(frozen=True)
class Core:
    """One sub-accelerator."""

    num_pes: int
    style: str = "dla"
    cluster: int = DEFAULT_CLUSTER
    hardware: Hardware | None = None  #: None: MAGMA's MAESTRO options

    def hw(self) -> Hardware:
        return self.hardware if self.hardware is not None else magma_hardware(self.num_pes)

    def label(self) -> str:
        return f"{self.style}{self.num_pes}"


@dataclass(frozen=True)
class CoreSetting:
    """A set of cores; ``flexible`` lets each job pick its cluster size per core."""

    name: str
    cores: tuple[Core, ...]
    flexible: bool = False
    meta: dict = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.cores)


D, S = "dla", "shi"
_MAGMA: dict[int, tuple[list[int], list[str]]] = {
    0: ([256, 128, 96, 64, 32, 16], [D] * 6),
    1: ([128] * 6 + [64] * 6, [D] * 12),
    2: ([32] * 4, [D] * 4),
    3: ([32] * 4, [D, D, D, S]),
    4: ([128] * 8, [D] * 7 + [S]),
    5: ([128] * 4 + [64] * 4, [D, D, D, S] * 2),
    6: ([128] * 8 + [64] * 8, ([D] * 7 + [S]) * 2),
    7: ([32, 64, 128] * 2, [D] * 3 + [S] * 3),
    8: ([128] * 8, [D] * 8),
}
_MAGMA_FLEX = {9: 2, 11: 2, 10: 8, 12: 8}  # flexible-cluster settings reuse these core sets


def magma_setting(index: int) -> CoreSetting:
    """MAGMA's core setting ``index`` (0-12)."""
    base = _MAGMA_FLEX.get(index, index)
    if base not in _MAGMA:
        raise MaestroInputError(f"unknown core setting magma{index}; MAGMA defines magma0 .. "
                                "magma12", rule="core-setting")
    units, styles = _MAGMA[base]
    cores = tuple(Core(u * DEFAULT_CLUSTER, s) for u, s in zip(units, styles, strict=True))
    return CoreSetting(f"magma{index}", cores, flexible=index in _MAGMA_FLEX)


def _core_from_dict(d: dict, source: str, i: int) -> Core:
    where = f"core {i + 1}"
    if not isinstance(d, dict):
        raise MaestroInputError(f"{where}: expected a mapping", source=source, rule="core")
    unknown = set(d) - {"num_pes", "pes", "style", "cluster", "hw", "count"}
    if unknown:
        raise MaestroInputError(f"{where}: unknown keys {sorted(unknown)}", source=source,
                                rule="core")
    hw = None
    if d.get("hw"):
        from costmodel.io import load_hardware_any

        p = Path(d["hw"])
        hw = load_hardware_any(p if p.is_absolute() else Path(source).parent / p)
    pes = int(d.get("num_pes", d.get("pes", hw.num_pes if hw else 0)))
    style = str(d.get("style", "dla"))
    cluster = int(d.get("cluster", DEFAULT_CLUSTER))
    if pes <= 0 or cluster <= 0:
        raise MaestroInputError(f"{where}: num_pes and cluster must be positive",
                                source=source, rule="core")
    if style not in STYLES:
        raise MaestroInputError(f"{where}: unknown style {style!r} (expected "
                                f"{', '.join(STYLES)})", source=source, rule="core")
    if hw is not None and hw.num_pes != pes:
        hw = Hardware(**{**hw.to_dict(), "num_pes": pes})
    return Core(pes, style, cluster, hw)


def load_setting_file(path: str | Path) -> CoreSetting:
    """A core setting from YAML/JSON: ``{cores: [{num_pes, style, cluster, hw, count}],
    flexible: bool}`` or just the list of cores."""
    source = str(path)
    text = Path(path).read_text()
    try:
        data = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise MaestroInputError(f"cannot parse core setting: {e}", source=source,
                                rule="core-setting") from None
    if isinstance(data, list):
        data = {"cores": data}
    if not isinstance(data, dict) or not isinstance(data.get("cores"), list) or not data["cores"]:
        raise MaestroInputError("expected a non-empty list 'cores'", source=source,
                                rule="core-setting")
    cores = []
    for i, d in enumerate(data["cores"]):
        n = int(d.get("count", 1)) if isinstance(d, dict) else 1
        cores += [_core_from_dict(d, source, i)] * n
    return CoreSetting(Path(path).stem, tuple(cores), bool(data.get("flexible", False)))


def resolve_setting(spec: str) -> CoreSetting:
    """``magmaN``, ``N`` (MAGMA's index) or a YAML/JSON file."""
    s = spec.strip()
    if s.isdigit():
        return magma_setting(int(s))
    if s.lower().startswith("magma") and s[5:].isdigit():
        return magma_setting(int(s[5:]))
    if Path(s).is_file():
        return load_setting_file(s)
    raise MaestroInputError(f"core setting {spec!r} does not exist: expected magma0 .. magma12 "
                            "or a YAML/JSON file", rule="core-setting")
