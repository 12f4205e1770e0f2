"""Feasibility of evaluated mappings: capacities, budgets and bandwidth limits.

The original MAESTRO only warns when a mapping needs more L1/L2 than the hardware has; a search
must not return such mappings, so capacities are enforced by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodel import Hardware


@dataclass(frozen=True)
class Constraints:
    """Limits a mapping must meet. Budgets apply to the cost model's per-layer figures
    (area/power as MAESTRO computes them, from the required buffer sizes)."""

    l1_capacity: bool = True
    l2_capacity: bool = True
    noc_bandwidth: bool = False
    offchip_bandwidth: bool = False
    area_budget: float | None = None
    power_budget: float | None = None
    energy_budget: float | None = None

    def limits(self, hw: Hardware) -> list[tuple[str, str, float]]:
        """The limits in force: ``(label, metric, limit)``, metric a cost-model field."""
        rows = [("L1", "l1_size", hw.l1_size, self.l1_capacity),
                ("L2", "l2_size", hw.l2_size, self.l2_capacity),
                ("NoC bandwidth", "noc_bw_req", hw.noc_bw, self.noc_bandwidth),
                ("off-chip bandwidth", "offchip_bw_req", hw.offchip_bw, self.offchip_bandwidth),
                ("area", "area", self.area_budget, self.area_budget is not None),
                ("power", "power", self.power_budget, self.power_budget is not None),
                ("energy", "energy_nj", self.energy_budget, self.energy_budget is not None)]
        return [(label, metric, limit) for label, metric, limit, on in rows if on]

    def violation(self, m: dict[str, np.ndarray], hw: Hardware) -> np.ndarray:
        """Total relative violation per candidate (0 means feasible, larger is worse)."""
        v = np.zeros(len(m["runtime"]))
        for _, metric, limit in self.limits(hw):
            v += np.maximum(np.asarray(m[metric], dtype=float) / float(limit) - 1.0, 0.0)
        return v

    def breaches(self, m: dict[str, np.ndarray], hw: Hardware, i: int = 0) -> list[str]:
        """What candidate ``i`` needs beyond the limits, e.g. ``["L1 306 > 256"]``."""
        return [f"{label} {float(m[metric][i]):g} > {float(limit):g}"
                for label, metric, limit in self.limits(hw) if m[metric][i] > limit]
