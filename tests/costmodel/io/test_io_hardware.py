"""MAESTRO hardware files and the YAML hardware form."""

from __future__ import annotations

import re

import pytest

from costmodel.errors import MaestroInputError
from costmodel.hardware import INT_MAX, Hardware
from costmodel.io import (
    format_hardware,
    format_hardware_yaml,
    load_hardware,
    load_hardware_any,
    parse_hardware,
    parse_hardware_yaml,
    save_hardware_any,
)

ACCEL1 = "num_pes: 256\nl1_size_cstr: 100\nl2_size_cstr: 3000\nnoc_bw_cstr: 1000\n" \
         "offchip_bw_cstr: 50\n"


def test_accelerator_1_and_defaults():
    hw = parse_hardware(ACCEL1, "accelerator_1.m")
    assert hw == Hardware(num_pes=256, l1_size=100, l2_size=3000, noc_bw=1000, offchip_bw=50,
                          noc_latency=1, simd_lanes=1)
    assert parse_hardware("num_pes 1") == Hardware(1, INT_MAX, INT_MAX, INT_MAX, INT_MAX, 1, 1)
    assert parse_hardware("// only a comment\r\nnum_pes 4").num_pes == 4


def test_extension_keys_and_zero_latency():
    hw = parse_hardware("num_pes: 8\nNoC_NumHops: 0\nnum_simd_lanes: 4\n")
    assert (hw.num_pes, hw.noc_latency, hw.simd_lanes) == (8, 0, 4)


@pytest.mark.parametrize("text,rule,line", [
    ("num_pes: 4\nnum_pe: 4\n", "hw-unknown-key", 2),
    ("Network N {\n", "hw-unknown-key", 1),
    ("num_pes: 4\nnum_pes: 8\n", "hw-duplicate-key", 2),
    ("num_pes: 4\nl1_size_cstr:\n", "hw-value", 2),
    ("num_pes: 0\n", "hw-value", 1),
    ("num_pes: 2.5\n", "hw-value", 1),
    ("num_pes: many\n", "hw-value", 1),
    ("noc_bw_cstr: 0\n", "hw-value", 1),
    ("offchip_bw_cstr: 0\n", "hw-value", 1),
    ("\n\nl2_size_cstr: 99999999999\n", "hw-value", 3),
    ("num_simd_lanes: 0\n", "hw-value", 1),
])
def test_bad_hardware_file(text, rule, line):
    with pytest.raises(MaestroInputError) as info:
        parse_hardware(text, "hw.m")
    assert (info.value.rule, info.value.line) == (rule, line)
    assert str(info.value).startswith(f"hw.m:{line}: ")


def test_format_hardware_writes_only_maestro_keys():
    hw = Hardware(num_pes=64, l1_size=512, noc_latency=3, simd_lanes=4)
    text = format_hardware(hw)
    keys = [x for x in text.splitlines() if not x.startswith("//")]
    assert not any("simd" in x for x in keys) and "NoC_NumHops: 3" in keys and \
        "num_pes: 64" in keys
    assert text.splitlines()[-1].startswith("// also, not keys of this file: simd_lanes 4 ")
    assert "--num_simd_lanes=4" in text
    again = parse_hardware(text)
    assert again == Hardware(num_pes=64, l1_size=512, noc_latency=3, simd_lanes=1)
    cli = Hardware.from_cli()
    assert parse_hardware(format_hardware(cli)) == cli  # latency 0 round-trips
    assert "//" not in format_hardware(cli)  # nothing beyond MAESTRO's keys


def test_yaml_round_trip_and_dispatch(tmp_path):
    hw = Hardware(num_pes=128, l1_size=64, l2_size=4096, noc_bw=16, offchip_bw=8,
                  noc_latency=0, simd_lanes=2)
    assert parse_hardware_yaml(format_hardware_yaml(hw)) == hw
    for name in ("hw.yaml", "hw.yml"):
        save_hardware_any(hw, tmp_path / name)
        assert load_hardware_any(tmp_path / name) == hw
    save_hardware_any(hw, tmp_path / "hw.m")
    assert load_hardware_any(tmp_path / "hw.m") == load_hardware(tmp_path / "hw.m")
    assert load_hardware(tmp_path / "hw.m").simd_lanes == 1
    assert parse_hardware_yaml("{}") == Hardware()
    assert parse_hardware_yaml("num_pes: 4") == Hardware(num_pes=4)


@pytest.mark.parametrize("text,fragment", [
    ("num_pes: 0", "hw.yaml: num_pes: must be a positive integer"),
    ("num_pes: true", "hw.yaml: num_pes: must be a positive integer"),
    ("noc_bw: 1.5", "hw.yaml: noc_bw: must be a positive integer"),
    ("noc_latency: -1", "hw.yaml: noc_latency: must be an integer >= 0"),
    ("pes: 4", "hw.yaml: pes: unknown field"),
    ("[1, 2]", "hw.yaml: must be a mapping"),
    ("num_pes: [\n", "hw.yaml:2: invalid YAML"),
])
def test_bad_hardware_yaml(text, fragment):
    with pytest.raises(MaestroInputError) as info:
        parse_hardware_yaml(text, "hw.yaml")
    assert fragment in str(info.value)


def test_unknown_extension(tmp_path):
    with pytest.raises(MaestroInputError) as info:
        load_hardware_any(tmp_path / "hw.txt")
    assert info.value.rule == "file-type"


@pytest.mark.parametrize("text", ["", "// only a comment\n", "  \n"])
def test_empty_hardware_file_is_an_error_not_one_pe(text):
    with pytest.raises(MaestroInputError, match="hardware file is empty"):
        parse_hardware(text, "hw.m")
    with pytest.raises(MaestroInputError, match="hardware file is empty"):
        parse_hardware_yaml(text.replace("//", "#"), "hw.yaml")


@pytest.mark.parametrize("text,fragment", [
    ("num_pes -168", "num_pes must be a positive integer, got '-168'"),
    ("num_pes 168\nl1_size_cstr: -5", "hw.m:2: l1_size_cstr must be a positive integer"),
    ("num_pes 99999999999", "num_pes 99999999999 exceeds 2147483647"),
])
def test_negative_and_huge_hardware_values(text, fragment):
    with pytest.raises(MaestroInputError, match=re.escape(fragment)):
        parse_hardware(text, "hw.m")


def test_non_utf8_hardware_yaml_names_the_file(tmp_path):
    f = tmp_path / "uni.yaml"
    f.write_bytes(b"num_pes: 4\n\xff\xfe\n")
    with pytest.raises(MaestroInputError, match=r"uni.yaml:2: not UTF-8 text"):
        load_hardware_any(f)
