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

    def __post_init__(self) -> None:
        for name in ("num_pes", "l1_size", "l2_size", "noc_bw", "offchip_bw", "simd_lanes"):
            v = getattr(self, name)
            if int(v) != v or int(v) <= 0:
                raise MaestroInputError(
                    f"hardware field {name} must be a positive integer, got {v}", rule="hardware")
        if int(self.noc_latency) != self.noc_latency or self.noc_latency < 0:
            raise MaestroInputError(
                "hardware field noc_latency must be a non-negative integer, "
                f"got {self.noc_latency}",
                rule="hardware")

    @classmethod
    def from_cli(cls, num_pes: int = 7, l1_size: int = INT_MAX, l2_size: int = INT_MAX,
                 noc_bw: int = INT_MAX, offchip_bw: int = 70000, noc_hops: int = 1,
                 noc_hop_latency: int = 0, simd_lanes: int = 1) -> Hardware:
        """Hardware from MAESTRO's command-line options (used when no HW file is given)."""
        return cls(num_pes=num_pes, l1_size=l1_size, l2_size=l2_size, noc_bw=noc_bw,
                   offchip_bw=offchip_bw, noc_latency=noc_hops * noc_hop_latency,
                   simd_lanes=simd_lanes)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)
