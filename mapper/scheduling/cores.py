"""Multi-core accelerators: each core a PE count, a dataflow style and a cluster size.

``magma0`` .. ``magma12`` are the sub-accelerator sets of MAGMA's experiments (PE counts in
units of 64-PE clusters); ``magma9`` .. ``magma12`` pick each job's cluster size per core as
MAGMA does; ``magmaN-eye`` are the row-stationary variants of MAGMA's other runs. Any
other setting comes from a YAML/JSON file, one entry per core, optionally
with one of our hardware descriptions (``hw:`` a preset name or a .m/.yaml file) for
its buffers and NoC.
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
#: MAGMA's row-stationary variant (``get_setting``, its ``--df eye`` runs): the same core sets
#: with ``eye`` where the GA's settings above (``get_setting_v3``) have ``shi``; 13-20 repeat
#: 3-6 and, like 9-12 and 99, are flexible (MAGMA: every index from 9 up)
_MAGMA_EYE_SAME = {9: 2, 10: 8, 11: 2, 12: 8, 13: 3, 14: 3, 15: 4, 16: 4, 17: 5, 18: 5,
                   19: 6, 20: 6}
_MAGMA_EYE_99 = ([64, 64, 64], [D, "eye", S])


def magma_setting(index: int, eye: bool = False) -> CoreSetting:
    """MAGMA's core setting ``index`` (0-12), or with ``eye`` its row-stationary variant
    (0-20 and 99)."""
    if eye:
        if index == 99:
            units, styles = _MAGMA_EYE_99
        elif _MAGMA_EYE_SAME.get(index, index) in _MAGMA:
            units, styles = _MAGMA[_MAGMA_EYE_SAME.get(index, index)]
            styles = ["eye" if x == S else x for x in styles]
        else:
            raise MaestroInputError(f"unknown core setting magma{index}-eye; MAGMA defines "
                                    "magma0-eye .. magma20-eye and magma99-eye",
                                    rule="core-setting")
        cores = tuple(Core(u * DEFAULT_CLUSTER, x) for u, x in zip(units, styles, strict=True))
        return CoreSetting(f"magma{index}-eye", cores, flexible=index >= 9)
    base = _MAGMA_FLEX.get(index, index)
    if base not in _MAGMA:
        raise MaestroInputError(f"unknown core setting magma{index}; MAGMA defines magma0 .. "
                                "magma12 (and magma0-eye .. magma20-eye, magma99-eye)",
                                rule="core-setting")
    units, styles = _MAGMA[base]
    cores = tuple(Core(u * DEFAULT_CLUSTER, s) for u, s in zip(units, styles, strict=True))
    return CoreSetting(f"magma{index}", cores, flexible=index in _MAGMA_FLEX)


def _positive_int(d: dict, key: str, default, source: str, where: str) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        v = None
    try:
        n = int(v) if v is not None and float(v).is_integer() else None
    except (TypeError, ValueError):
        n = None
    if n is None or n <= 0:
        raise MaestroInputError(f"{where}: {key} must be a positive integer, got "
                                f"{d.get(key, default)!r}", source=source, rule="core")
    return n


def _core_hardware(spec, source: str, where: str) -> Hardware:
    """``hw:``: one of our hardware presets, or a .m/.yaml file (relative to the core file)."""
    from costmodel.io import load_hardware_any
    from mapper.workloads.presets import HARDWARE_PRESETS

    spec = str(spec)
    if spec in HARDWARE_PRESETS:
        return HARDWARE_PRESETS[spec]
    p = Path(spec)
    p = p if p.is_absolute() else Path(source).parent / p
    if not p.is_file():
        raise MaestroInputError(f"{where}: hw {spec!r} is neither a hardware preset "
                                f"({', '.join(HARDWARE_PRESETS)}) nor a file ({p} not found)",
                                source=source, rule="core")
    return load_hardware_any(p)


def _core_from_dict(d: dict, source: str, i: int) -> Core:
    where = f"core {i + 1}"
    if not isinstance(d, dict):
        raise MaestroInputError(f"{where}: expected a mapping", source=source, rule="core")
    unknown = set(d) - {"num_pes", "pes", "style", "cluster", "hw", "count"}
    if unknown:
        raise MaestroInputError(f"{where}: unknown keys {sorted(unknown)}", source=source,
                                rule="core")
    hw = _core_hardware(d["hw"], source, where) if d.get("hw") else None
    if "num_pes" not in d and "pes" not in d and hw is None:
        raise MaestroInputError(f"{where}: give num_pes (or hw)", source=source, rule="core")
    pes = _positive_int(d, "num_pes" if "num_pes" in d else "pes",
                        hw.num_pes if hw else None, source, where)
    style = str(d.get("style", "dla"))
    cluster = _positive_int(d, "cluster", DEFAULT_CLUSTER, source, where)
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
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 1 if mark is not None else getattr(e, "lineno", None)
        what = getattr(e, "problem", None) or getattr(e, "msg", None) or str(e)
        raise MaestroInputError(f"cannot parse core setting: {' '.join(str(what).split())}",
                                source=source, line=line, rule="core-setting") from None
    if isinstance(data, list):
        data = {"cores": data}
    if not isinstance(data, dict) or not isinstance(data.get("cores"), list) or not data["cores"]:
        raise MaestroInputError("expected a non-empty list 'cores'", source=source,
                                rule="core-setting")
    cores = []
    for i, d in enumerate(data["cores"]):
        n = _positive_int(d, "count", 1, source, f"core {i + 1}") if isinstance(d, dict) else 1
        cores += [_core_from_dict(d, source, i)] * n
    return CoreSetting(Path(path).stem, tuple(cores), bool(data.get("flexible", False)))


def resolve_setting(spec: str) -> CoreSetting:
    """``magmaN``, ``N`` (MAGMA's index), ``magmaN-eye`` or a YAML/JSON file."""
    s = spec.strip()
    if s.isdigit():
        return magma_setting(int(s))
    if s.lower().startswith("magma") and s[5:].isdigit():
        return magma_setting(int(s[5:]))
    if s.lower().startswith("magma") and s.lower().endswith("-eye") and s[5:-4].isdigit():
        return magma_setting(int(s[5:-4]), eye=True)
    if Path(s).is_file():
        return load_setting_file(s)
    raise MaestroInputError(f"core setting {spec!r} does not exist: expected magma0 .. magma12, "
                            "magmaN-eye or a YAML/JSON file", rule="core-setting")
