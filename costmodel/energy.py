"""Per-access energy and per-component area/power tables (replaceable data, MAESTRO's defaults).

Energy is counted in units of one MAC's energy and scaled to nJ by ``unit_nj``. Area and power
follow MAESTRO's fixed component model; every coefficient can be overridden, e.g. to plug in
numbers from Accelergy or a process library.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EnergyModel:
    """Energy per access, in MAC-energy units; ``unit_nj`` is one MAC's energy in nJ."""

    mac: float = 1.0
    l1_read: float = 1.68
    l1_write: float = 1.68
    l2_read: float = 18.61
    l2_write: float = 18.61
    #: DRAM access per element, used by the ``physical`` model only: 200 MAC energies, the
    #: normalised DRAM cost of the Eyeriss energy hierarchy (Chen et al., ISCA 2016)
    dram_read: float = 200.0
    dram_write: float = 200.0
    unit_nj: float = 0.00023
    #: sparsity (``physical`` model with a sparsity configuration): a gated MAC (operands
    #: checked, datapath clock-gated) and a skipped MAC, in MAC energies; a metadata access
    #: relative to a data access of the same width at the same level
    mac_gated: float = 0.1
    mac_skipped: float = 0.0
    metadata_access: float = 1.0

    def __post_init__(self) -> None:
        for name in ("mac", "l1_read", "l1_write", "l2_read", "l2_write", "dram_read",
                     "dram_write", "unit_nj", "mac_gated", "mac_skipped", "metadata_access"):
            v = getattr(self, name)
            if not (float(v) >= 0 and float(v) < float("inf")):
                raise ValueError(f"energy table field {name} must be a finite number >= 0, "
                                 f"got {v}")


@dataclass(frozen=True)
class AreaPowerModel:
    """Component area (um^2, nominal) and power (mW, nominal) coefficients (MAESTRO's table).

    MAC: per lane per PE. SRAM: per element of the *required* buffer size. Bus: linear in PE
    count and NoC bandwidth. Arbiter: quadratic in PE count, with a floor.
    """

    mac_area: float = 283.0
    mac_power: float = 1.2223
    sram_area: float = 0.104
    sram_power: float = 0.00345
    bus_area_scale: float = 101.7938
    bus_power_scale: float = 0.8 / 1000
    bus_per_pe: float = 14.662
    bus_const: float = 28.895
    arb_a: float = 1.2886
    arb_b: float = 5.5814
    arb_c: float = -23.711
    arb_area: float = 395.473
    arb_power: float = 0.34
    #: off-chip interface (DRAM PHY and controller) per element/cycle of provisioned bandwidth:
    #: nominal figures of the order of a DDR/HBM PHY (about 0.04 mm^2 and 20 mW per GB/s at
    #: 1 GHz and 1 byte per element); not part of MAESTRO's table, so only hardware spaces that
    #: search the bandwidth pass it (a bandwidth of UNCONSTRAINED_BW or more costs nothing)
    offchip_area_per_bw: float = 40000.0
    offchip_power_per_bw: float = 20.0

    def evaluate(self, num_pes, simd_lanes, noc_bw, l1_size, l2_size,
                 offchip_bw=None) -> dict[str, np.ndarray]:
        """Area, power and the power breakdown; array arguments broadcast. ``offchip_bw``
        (optional) adds the off-chip interface; MAESTRO's model has none."""
        P = np.asarray(num_pes, dtype=float)
        vw = np.asarray(simd_lanes, dtype=float)
        B = np.asarray(noc_bw, dtype=float)
        l1 = np.maximum(np.asarray(l1_size, dtype=float), 1.0)
        l2 = np.maximum(np.asarray(l2_size, dtype=float), 1.0)
        bus = self.bus_per_pe * P + self.bus_const
        g = self.arb_a * P * P + self.arb_b * P + self.arb_c
        area = (P * (self.mac_area * vw + self.sram_area * l1) + self.sram_area * l2
                + self.bus_area_scale * bus * B + np.maximum(self.arb_area * g, self.arb_area))
        pe_power = P * self.mac_power * vw
        l1_power = P * self.sram_power * l1
        l2_power = self.sram_power * l2
        noc_power = (self.bus_power_scale * bus * B
                     + np.maximum(self.arb_power * g / 1000, self.arb_power))
        out = {"area": area, "power": pe_power + l1_power + l2_power + noc_power,
               "pe_power": pe_power, "l1_power": l1_power, "l2_power": l2_power,
               "noc_power": noc_power}
        if offchip_bw is not None:
            bw = np.asarray(offchip_bw, dtype=float)
            bw = np.where(bw >= UNCONSTRAINED_BW, 0.0, bw)
            out["offchip_power"] = self.offchip_power_per_bw * bw
            out["area"] = area + self.offchip_area_per_bw * bw
            out["power"] = out["power"] + out["offchip_power"]
        return out


#: an off-chip bandwidth at or above this many elements/cycle stands for "no limit" (presets
#: that leave DRAM out use 81,920,000 or 2**31 - 1)
UNCONSTRAINED_BW = 1_000_000

DEFAULT_ENERGY = EnergyModel()
DEFAULT_AREA_POWER = AreaPowerModel()
