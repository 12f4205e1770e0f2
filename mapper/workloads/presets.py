"""Bundled accelerator presets (plain data) and how the CLI resolves model/hardware names."""

from __future__ import annotations

from pathlib import Path

from costmodel import Hardware, Network
from costmodel.errors import MaestroInputError

#: 168 PEs, L1 512 and L2 108,000 elements, NoC 81,920,000 elements/cycle: an Eyeriss-sized
#: array with MAESTRO's effectively unconstrained NoC (the issue's reference accelerator).
HARDWARE_PRESETS: dict[str, Hardware] = {
    "edge168": Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000,
                        offchip_bw=81920000),
    "edge168-bw64": Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=64,
                             offchip_bw=64),
    "cloud1024": Hardware(num_pes=1024, l1_size=1024, l2_size=2 * 1024 * 1024, noc_bw=81920000,
                          offchip_bw=81920000),
    "maestro-accelerator1": Hardware(num_pes=256, l1_size=100, l2_size=3000, noc_bw=1000,
                                     offchip_bw=50),
}
DEFAULT_HARDWARE = "edge168"


def resolve_hardware(spec: str | None) -> Hardware:
    """A preset name, or a MAESTRO/YAML hardware file."""
    from costmodel.io import load_hardware_any

    spec = spec or DEFAULT_HARDWARE
    if spec in HARDWARE_PRESETS:
        return HARDWARE_PRESETS[spec]
    if Path(spec).suffix.lower() in (".m", ".yaml", ".yml") or Path(spec).exists():
        return load_hardware_any(spec)
    raise MaestroInputError(f"unknown hardware {spec!r}: give a .m/.yaml file or a preset "
                            f"({', '.join(HARDWARE_PRESETS)})", rule="hardware")


def resolve_model(spec: str) -> Network:
    """A bundled model name, or a MAESTRO ``.m`` / YAML model file (dataflows are ignored)."""
    from costmodel.io import load_network

    suffix = Path(spec).suffix.lower()
    if suffix == ".m":
        return load_network(spec)
    if suffix in (".yaml", ".yml"):
        from mapper.workloads.zoo import (
            load_model_file,  # reads both the zoo schema (counts) and plain YAML
        )

        return load_model_file(spec)
    try:
        from mapper.workloads.zoo import load_model
    except ImportError:  # pragma: no cover - zoo is part of the package
        raise MaestroInputError(f"unknown model {spec!r}", rule="model") from None
    return load_model(spec)
