"""The accelerator description: MAESTRO's defaults, command-line mapping and validation."""

import pytest

from costmodel.errors import MaestroInputError
from costmodel.hardware import INT_MAX, Hardware


def test_defaults_are_those_of_an_empty_maestro_hardware_file():
    hw = Hardware()
    assert (hw.num_pes, hw.l1_size, hw.l2_size, hw.noc_bw, hw.offchip_bw) == (
        1, INT_MAX, INT_MAX, INT_MAX, INT_MAX)
    assert (hw.noc_latency, hw.simd_lanes, hw.offchip_latency) == (1, 1, 0)


def test_from_cli_uses_maestro_option_defaults_and_hop_latency():
    hw = Hardware.from_cli()
    assert (hw.num_pes, hw.offchip_bw, hw.noc_latency) == (7, 70000, 0)
    hw = Hardware.from_cli(num_pes=168, noc_hops=4, noc_hop_latency=3, simd_lanes=2)
    assert (hw.num_pes, hw.noc_latency, hw.simd_lanes) == (168, 12, 2)


@pytest.mark.parametrize("field,value", [
    ("num_pes", 0), ("l1_size", -1), ("noc_bw", 2.5), ("simd_lanes", 0), ("noc_latency", -1),
    ("offchip_latency", 1.5), ("element_bytes", 0), ("clock_ghz", 0.0),
    ("clock_ghz", float("inf")), ("clock_ghz", float("nan")),
])
def test_invalid_fields_are_rejected_with_the_field_name(field, value):
    with pytest.raises(MaestroInputError, match=field):
        Hardware(**{field: value})


def test_zero_latencies_are_allowed():
    assert Hardware(noc_latency=0, offchip_latency=0).noc_latency == 0


@pytest.mark.parametrize("gbs,ghz,nbytes,want", [
    (64.0, 1.0, 1, 64), (64.0, 2.0, 2, 16), (10.0, 1.0, 4, 2), (0.1, 1.0, 1, 1)])
def test_elements_per_cycle_rounds_down_to_at_least_one(gbs, ghz, nbytes, want):
    assert Hardware.elements_per_cycle(gbs, ghz, nbytes) == want


def test_to_dict_round_trips():
    hw = Hardware(num_pes=256, l1_size=512, noc_bw=64, simd_lanes=4, clock_ghz=1.5)
    assert Hardware(**hw.to_dict()) == hw
