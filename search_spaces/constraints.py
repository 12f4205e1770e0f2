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

    def violation(self, m: dict[str, np.ndarray], hw: Hardware) -> np.ndarray:
        """Total relative violation per candidate (0 means feasible, larger is worse)."""
        n = len(m["runtime"])
        v = np.zeros(n)

        def over(x, limit):
            return np.maximum(np.asarray(x, dtype=float) / float(limit) - 1.0, 0.0)

        if self.l1_capacity:
            v += over(m["l1_size"], hw.l1_size)
        if self.l2_capacity:
            v += over(m["l2_size"], hw.l2_size)
        if self.noc_bandwidth:
            v += over(m["noc_bw_req"], hw.noc_bw)
        if self.offchip_bandwidth:
            v += over(m["offchip_bw_req"], hw.offchip_bw)
        if self.area_budget is not None:
            v += over(m["area"], self.area_budget)
        if self.power_budget is not None:
            v += over(m["power"], self.power_budget)
        if self.energy_budget is not None:
            v += over(m["energy_nj"], self.energy_budget)
        return v
