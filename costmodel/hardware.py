"""Accelerator description: the parameters MAESTRO's analysis uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import MaestroInputError

INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Hardware:
    """An accelerator. Sizes and bandwidths are in tensor elements (MAESTRO has no word width).

    Defaults are those of a MAESTRO hardware file whose keys are all absent, except the SIMD
    lane count which MAESTRO only takes from the command line.
    """

    num_pes: int = 1
    l1_size: int = INT_MAX
    l2_size: int = INT_MAX
    noc_bw: int = INT_MAX
    offchip_bw: int = INT_MAX
    noc_latency: int = 1
    simd_lanes: int = 1
    #: DRAM access latency in cycles, paid once per layer by the ``physical`` model (MAESTRO has
    #: no DRAM latency; 0 keeps ``physical`` equal to ``maestro`` where bandwidth does not bind)
    offchip_latency: int = 0
    #: clock in GHz and bytes per element: how a preset's GB/s becomes elements per cycle
    clock_ghz: float = 1.0
    element_bytes: int = 1

    def __post_init__(self) -> None:
        for name in ("num_pes", "l1_size", "l2_size", "noc_bw", "offchip_bw", "simd_lanes"):
            v = getattr(self, name)
            if int(v) != v or int(v) <= 0:
                raise MaestroInputError(
                    f"hardware field {name} must be a positive integer, got {v}", rule="hardware")
        for name in ("noc_latency", "offchip_latency"):
            v = getattr(self, name)
            if int(v) != v or v < 0:
                raise MaestroInputError(
                    f"hardware field {name} must be a non-negative integer, got {v}",
                    rule="hardware")
        if int(self.element_bytes) != self.element_bytes or self.element_bytes <= 0:
            raise MaestroInputError("hardware field element_bytes must be a positive integer, "
                                    f"got {self.element_bytes}", rule="hardware")
        if not (float(self.clock_ghz) > 0 and float(self.clock_ghz) < float("inf")):
            raise MaestroInputError(
                f"hardware field clock_ghz must be a positive number, got {self.clock_ghz}",
                rule="hardware")

    @classmethod
    def from_cli(cls, num_pes: int = 7, l1_size: int = INT_MAX, l2_size: int = INT_MAX,
                 noc_bw: int = INT_MAX, offchip_bw: int = 70000, noc_hops: int = 1,
                 noc_hop_latency: int = 0, simd_lanes: int = 1) -> Hardware:
        """Hardware from MAESTRO's command-line options (used when no HW file is given)."""
        return cls(num_pes=num_pes, l1_size=l1_size, l2_size=l2_size, noc_bw=noc_bw,
                   offchip_bw=offchip_bw, noc_latency=noc_hops * noc_hop_latency,
                   simd_lanes=simd_lanes)

    @staticmethod
    def elements_per_cycle(gb_per_s: float, clock_ghz: float, element_bytes: int) -> int:
        """Off-chip bandwidth in whole elements per cycle from GB/s (rounded down, at least 1)."""
        return max(1, int(gb_per_s / (clock_ghz * element_bytes)))

    def to_dict(self) -> dict[str, int]:
        return asdict(self)
