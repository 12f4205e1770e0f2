"""Hardware presets (mapper.workloads.presets): MAESTRO-style ones and datasheet-derived ones."""

from __future__ import annotations

import pytest

from costmodel import Hardware
from costmodel.errors import MaestroInputError
from mapper.cli import main
from mapper.workloads.presets import (
    DRAM_GB_PER_S,
    HARDWARE_PRESETS,
    describe_preset,
    format_presets,
    physical_hardware,
    resolve_hardware,
)


def test_original_presets_are_unchanged():
    assert HARDWARE_PRESETS["edge168"] == Hardware(
        num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000, offchip_bw=81920000)
    assert HARDWARE_PRESETS["edge168-bw64"] == Hardware(
        num_pes=168, l1_size=512, l2_size=108000, noc_bw=64, offchip_bw=64)
    assert HARDWARE_PRESETS["cloud1024"] == Hardware(
        num_pes=1024, l1_size=1024, l2_size=2 * 1024 * 1024, noc_bw=81920000,
        offchip_bw=81920000)
    assert HARDWARE_PRESETS["maestro-accelerator1"] == Hardware(
        num_pes=256, l1_size=100, l2_size=3000, noc_bw=1000, offchip_bw=50)
    assert list(HARDWARE_PRESETS)[:4] == ["edge168", "edge168-bw64", "cloud1024",
                                          "maestro-accelerator1"]


@pytest.mark.parametrize("name,gb_s,ghz,nbytes,elements", [
    ("edge-npu", 51.2, 1.0, 1, 51),       # 51.2 / (1.0 x 1)
    ("cloud-hbm", 1200.0, 1.05, 2, 571),  # 1200 / (1.05 x 2) = 571.4
    ("a100-like", 2039.0, 1.41, 2, 723),  # 2039 / (1.41 x 2) = 723.0
])
def test_offchip_elements_per_cycle_from_gb_per_s(name, gb_s, ghz, nbytes, elements):
    hw = resolve_hardware(name)
    assert (DRAM_GB_PER_S[name], hw.clock_ghz, hw.element_bytes) == (gb_s, ghz, nbytes)
    assert hw.offchip_bw == elements == Hardware.elements_per_cycle(gb_s, ghz, nbytes)
    # the rounding loses less than one element per cycle
    assert 0 <= gb_s - hw.offchip_bw * ghz * nbytes < ghz * nbytes
    assert hw.offchip_latency > 0


def test_peak_compute_matches_the_device_class():
    a100 = describe_preset("a100-like")
    assert a100["macs_per_cycle"] == 108 * 4 * 256
    assert a100["peak_tops"] == pytest.approx(312, rel=0.002)   # bf16 dense datasheet peak
    assert describe_preset("cloud-hbm")["peak_tops"] == pytest.approx(275, rel=0.002)
    assert describe_preset("edge-npu")["peak_tops"] == pytest.approx(2.048)
    a = HARDWARE_PRESETS["a100-like"]
    assert a.l2_size * 2 == 40 * 1024 * 1024 and a.noc_bw == 5120 // 2


def test_physical_hardware_converts_bytes_to_elements():
    hw = physical_hardware(num_pes=4, simd_lanes=2, clock_ghz=2.0, element_bytes=4,
                           dram_gb_per_s=100.0, l1_bytes=1000, l2_bytes=4096,
                           noc_bytes_per_cycle=2, offchip_latency=7)
    assert (hw.l1_size, hw.l2_size, hw.noc_bw, hw.offchip_bw, hw.offchip_latency) == \
        (250, 1024, 1, 12, 7)


def test_describe_and_table():
    with pytest.raises(MaestroInputError, match="unknown hardware preset 'tpu'"):
        describe_preset("tpu")
    table = format_presets()
    assert all(name in table for name in HARDWARE_PRESETS)
    line = next(l for l in table.splitlines() if l.startswith("a100-like"))
    assert "432 x 256" in line and "2039" in line and "723" in line and "311.9" in line


def test_cli_models_presets(capsys):
    assert main(["models", "--presets"]) == 0
    out = capsys.readouterr().out
    assert "edge-npu" in out and "cloud-hbm" in out and "DRAM GB/s" in out
