"""Bundled accelerator presets (plain data) and how the CLI resolves model/hardware names.

The first presets are MAESTRO-style (bandwidth effectively unconstrained, no clock); the
``edge-npu``, ``cloud-hbm`` and ``a100-like`` ones are built from datasheet units (GB/s, bytes,
GHz) so that their off-chip bandwidth and DRAM latency are those of a real device class.
"""

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


def physical_hardware(*, num_pes: int, simd_lanes: int, clock_ghz: float, element_bytes: int,
                      dram_gb_per_s: float, l1_bytes: int, l2_bytes: int,
                      noc_bytes_per_cycle: int, offchip_latency: int) -> Hardware:
    """Hardware from datasheet units: bytes and GB/s become elements and elements/cycle.

    ``offchip_bw`` is :meth:`Hardware.elements_per_cycle` of ``dram_gb_per_s`` at the clock
    and element width (rounded down); buffers are whole elements of ``element_bytes``.
    """
    return Hardware(num_pes=num_pes, simd_lanes=simd_lanes, clock_ghz=clock_ghz,
                    element_bytes=element_bytes, l1_size=l1_bytes // element_bytes,
                    l2_size=l2_bytes // element_bytes,
                    noc_bw=max(1, noc_bytes_per_cycle // element_bytes),
                    offchip_bw=Hardware.elements_per_cycle(dram_gb_per_s, clock_ghz,
                                                           element_bytes),
                    offchip_latency=offchip_latency)


KIB, MIB = 1024, 1024 * 1024

#: Presets with finite, datasheet-class DRAM bandwidth (for the ``physical`` cost model).
#: ``DRAM_GB_PER_S`` keeps the GB/s each one's ``offchip_bw`` was derived from.
DRAM_GB_PER_S = {"edge-npu": 51.2, "cloud-hbm": 1200.0, "a100-like": 2039.0}
HARDWARE_PRESETS.update({
    # Edge NPU (Arm Ethos-N57 class: 1024 int8 MACs/cycle = 2 TOPS at 1 GHz), int8 = 1 byte.
    # DRAM: one 64-bit LPDDR5-6400 channel = 6400 MT/s x 8 B = 51.2 GB/s -> 51.2 / (1 GHz x
    # 1 B) = 51 elements/cycle; ~100 ns LPDDR latency = 100 cycles. 256 B L1 per PE, 2 MiB
    # shared L2, on-chip fabric 512 B/cycle.
    "edge-npu": physical_hardware(
        num_pes=1024, simd_lanes=1, clock_ghz=1.0, element_bytes=1,
        dram_gb_per_s=DRAM_GB_PER_S["edge-npu"], l1_bytes=256, l2_bytes=2 * MIB,
        noc_bytes_per_cycle=512, offchip_latency=100),
    # Cloud accelerator (TPU v4 class: 8 MXUs of 128x128 = 131,072 bf16 MACs/cycle at
    # 1.05 GHz = 275 TFLOPS), bf16 = 2 bytes, modelled as 4096 PEs x 32 lanes. DRAM: HBM2 at
    # 1200 GB/s -> 1200 / (1.05 GHz x 2 B) = 571 elements/cycle; ~300 cycles (~290 ns) latency.
    # 4 KiB L1 per PE (16 MiB in all), 32 MiB shared L2, on-chip fabric 4 KiB/cycle.
    "cloud-hbm": physical_hardware(
        num_pes=4096, simd_lanes=32, clock_ghz=1.05, element_bytes=2,
        dram_gb_per_s=DRAM_GB_PER_S["cloud-hbm"], l1_bytes=4 * KIB, l2_bytes=32 * MIB,
        noc_bytes_per_cycle=4 * KIB, offchip_latency=300),
    # NVIDIA A100 SXM (as in GenZ's A100): 108 SMs x 4 tensor cores = 432 PEs x 256 bf16
    # FMAs/cycle = 110,592 MACs/cycle; at the 1.41 GHz boost clock 2 x 110,592 x 1.41e9 =
    # 311.9 TFLOPS (datasheet: 312). DRAM: HBM2e 2039 GB/s (80 GB part; 40 GB: 1555) ->
    # 2039 / (1.41 GHz x 2 B) = 723 elements/cycle; ~400 cycles latency (several hundred in
    # published microbenchmarks). L1: 192 KiB per SM / 4 = 48 KiB per PE; L2 40 MiB; L2
    # bandwidth 5120 B/clk (A100 whitepaper). DRAM capacity is not modelled.
    "a100-like": physical_hardware(
        num_pes=432, simd_lanes=256, clock_ghz=1.41, element_bytes=2,
        dram_gb_per_s=DRAM_GB_PER_S["a100-like"], l1_bytes=48 * KIB, l2_bytes=40 * MIB,
        noc_bytes_per_cycle=5120, offchip_latency=400),
})


def describe_preset(name: str) -> dict[str, object]:
    """One preset in datasheet units: MACs/cycle, peak TOPS (2 ops per MAC), DRAM GB/s."""
    if name not in HARDWARE_PRESETS:
        raise MaestroInputError(f"unknown hardware preset {name!r}; presets: "
                                f"{', '.join(HARDWARE_PRESETS)}", rule="hardware")
    hw = HARDWARE_PRESETS[name]
    macs = hw.num_pes * hw.simd_lanes
    gb_s = DRAM_GB_PER_S.get(name)
    return {"name": name, "num_pes": hw.num_pes, "simd_lanes": hw.simd_lanes,
            "macs_per_cycle": macs, "clock_ghz": hw.clock_ghz,
            "element_bytes": hw.element_bytes, "peak_tops": 2 * macs * hw.clock_ghz / 1e3,
            "dram_gb_per_s": gb_s, "offchip_bw": hw.offchip_bw, "l1_size": hw.l1_size,
            "l2_size": hw.l2_size, "noc_bw": hw.noc_bw,
            "offchip_latency": hw.offchip_latency}


def format_presets() -> str:
    """A text table of all presets (datasheet units next to the model's elements/cycle)."""
    rows = [["preset", "PEs x lanes", "GHz", "B/elem", "peak TOPS", "DRAM GB/s",
             "offchip elem/cyc", "L1 elem", "L2 elem", "DRAM lat"]]
    for name in HARDWARE_PRESETS:
        d = describe_preset(name)
        gb_s = d["dram_gb_per_s"]
        rated = gb_s is not None  # MAESTRO-style presets have no clock or DRAM rating
        rows.append([name, f"{d['num_pes']} x {d['simd_lanes']}",
                     f"{d['clock_ghz']:g}" if rated else "-", str(d["element_bytes"]),
                     f"{d['peak_tops']:.4g}" if rated else "-",
                     f"{gb_s:g}" if rated else "-", str(d["offchip_bw"]), str(d["l1_size"]),
                     str(d["l2_size"]), str(d["offchip_latency"])])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip()
                     for row in rows) + "\n"


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
    """A bundled model name, a MAESTRO ``.m`` / YAML model file (with the dataflows it
    states), a GAMMA model CSV (:mod:`mapper.workloads.gamma_csv`) or an ONNX model
    (:mod:`mapper.workloads.onnx_import`, symbolic dimensions taken as 1), a Timeloop
    problem file or folder of them (:mod:`mapper.workloads.timeloop`) or a ZigZag workload
    (:mod:`mapper.workloads.zigzag`: YAML, or the dict literal of a Python file)."""
    from costmodel.io import load_network

    suffix = Path(spec).suffix.lower()
    if suffix == ".m":
        return load_network(spec)
    if suffix == ".csv":
        from mapper.workloads.gamma_csv import load_gamma_csv

        return load_gamma_csv(spec)
    if suffix == ".onnx":
        from mapper.workloads.onnx_import import import_onnx

        return import_onnx(spec)[0]
    if suffix in (".yaml", ".yml"):
        from costmodel.io.yaml_io import load_yaml_data
        from mapper.workloads.timeloop import is_timeloop_problem, load_timeloop
        from mapper.workloads.zigzag import is_zigzag_workload, load_zigzag
        from mapper.workloads.zoo import (
            load_model_file,  # reads both the zoo schema (counts) and plain YAML
        )

        data = load_yaml_data(spec)
        if is_timeloop_problem(data):
            return load_timeloop(spec)
        if is_zigzag_workload(data):
            return load_zigzag(spec)
        return load_model_file(spec)
    if suffix == ".py":  # a ZigZag 2 / Stream workload file (its dict literal, not run)
        from mapper.workloads.zigzag import load_zigzag

        return load_zigzag(spec)
    from mapper.workloads.zoo import load_model

    try:
        return load_model(spec)
    except MaestroInputError as e:
        if e.rule != "unknown-model" or not Path(spec).is_dir():
            raise
    # a folder that is not a bundled model's name: Timeloop problem files
    from mapper.workloads.timeloop import load_timeloop

    return load_timeloop(spec)
