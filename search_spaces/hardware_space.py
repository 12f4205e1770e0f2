"""The space of accelerator configurations, with area/power budgets.

Each parameter has a list of allowed values (a range with a step, or powers of two). The area
and power of a configuration come from a replaceable :class:`AreaPowerModel` (MAESTRO's by
default) applied to the *provisioned* hardware: its PE count, SIMD lanes, NoC bandwidth, and
its L1 (per PE) and L2 capacities.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from costmodel import Hardware
from costmodel.energy import DEFAULT_AREA_POWER, AreaPowerModel

PARAMS = ("num_pes", "l1_size", "l2_size", "noc_bw", "offchip_bw", "noc_latency", "simd_lanes")


def pow2_range(lo: int, hi: int) -> tuple[int, ...]:
    out, v = [], 1
    while v <= hi:
        if v >= lo:
            out.append(v)
        v *= 2
    return tuple(out)


def step_range(lo: int, hi: int, step: int) -> tuple[int, ...]:
    return tuple(range(lo, hi + 1, step))


@dataclass
class HardwareSpace:
    """Allowed values per hardware parameter; a parameter with one value is fixed."""

    num_pes: tuple[int, ...] = step_range(16, 1024, 16)
    l1_size: tuple[int, ...] = pow2_range(64, 4096)
    l2_size: tuple[int, ...] = pow2_range(8192, 4 * 1024 * 1024)
    noc_bw: tuple[int, ...] = pow2_range(16, 1024)
    offchip_bw: tuple[int, ...] = (2**31 - 1,)
    noc_latency: tuple[int, ...] = (1,)
    simd_lanes: tuple[int, ...] = (1,)
    area_budget: float | None = None
    power_budget: float | None = None
    area_power: AreaPowerModel = field(default_factory=lambda: DEFAULT_AREA_POWER)
    #: the fields no parameter covers (DRAM latency, clock, element width) come from here
    base: Hardware = field(default_factory=Hardware)

    def values(self, name: str) -> np.ndarray:
        """The allowed values of parameter ``name``, increasing."""
        return np.asarray(getattr(self, name), dtype=np.int64)

    # -- arrays of configurations: dict name -> [n] int64 ----------------------------------
    def sample(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """``n`` configurations, each parameter drawn uniformly from its values."""
        return {p: self.values(p)[rng.integers(0, len(getattr(self, p)), n)] for p in PARAMS}

    def mutate(self, rng: np.random.Generator, cfg: dict[str, np.ndarray],
               rate: float = 0.3) -> dict[str, np.ndarray]:
        """Move each parameter one or two steps along its value list with probability ``rate``."""
        out = {}
        for p in PARAMS:
            vals = self.values(p)
            idx = np.searchsorted(vals, cfg[p]).clip(0, len(vals) - 1)
            step = rng.choice([-2, -1, 1, 2], len(idx))
            move = rng.random(len(idx)) < rate
            out[p] = vals[np.clip(np.where(move, idx + step, idx), 0, len(vals) - 1)]
        return out

    def cost(self, cfg: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Area and power of provisioned configurations."""
        return self.area_power.evaluate(cfg["num_pes"], cfg["simd_lanes"], cfg["noc_bw"],
                                        cfg["l1_size"], cfg["l2_size"], cfg["offchip_bw"])

    def feasible(self, cfg: dict[str, np.ndarray]) -> np.ndarray:
        """``[n]`` True where a configuration is within the area and power budgets."""
        c = self.cost(cfg)
        ok = np.ones(len(cfg["num_pes"]), dtype=bool)
        if self.area_budget is not None:
            ok &= c["area"] <= self.area_budget
        if self.power_budget is not None:
            ok &= c["power"] <= self.power_budget
        return ok

    def hardware(self, cfg: dict[str, np.ndarray], i: int) -> Hardware:
        """Configuration ``i`` as a :class:`Hardware`."""
        return dataclasses.replace(self.base, **{p: int(cfg[p][i]) for p in PARAMS})

    @staticmethod
    def from_hardware(hws: list[Hardware]) -> dict[str, np.ndarray]:
        """The configuration arrays of ``hws``, one entry each."""
        return {p: np.array([getattr(h, p) for h in hws], dtype=np.int64) for p in PARAMS}


# Budget presets: the area and power of two reference designs under the default model.
# Their off-chip ports (16 and 256 elements/cycle: LPDDR- and HBM-class at 1 GHz, 1 byte per
# element) count toward the budgets, so a search of the bandwidth trades it against compute.
EDGE_REFERENCE = Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=64, offchip_bw=16)
CLOUD_REFERENCE = Hardware(num_pes=1024, l1_size=1024, l2_size=2 * 1024 * 1024, noc_bw=256,
                           offchip_bw=256)
#: off-chip bandwidths (elements/cycle) a physical-model co-optimisation chooses from
OFFCHIP_BW_CHOICES = pow2_range(1, 4096)


def budget_preset(name: str, model: AreaPowerModel = DEFAULT_AREA_POWER) -> dict[str, float]:
    """``edge``/``cloud``: area and power of the reference design (see module constants)."""
    ref = {"edge": EDGE_REFERENCE, "cloud": CLOUD_REFERENCE}.get(name)
    if ref is None:
        raise ValueError(f"unknown budget preset {name!r}; expected edge or cloud")
    c = model.evaluate(ref.num_pes, ref.simd_lanes, ref.noc_bw, ref.l1_size, ref.l2_size,
                       ref.offchip_bw)
    return {"area": float(c["area"]), "power": float(c["power"])}
