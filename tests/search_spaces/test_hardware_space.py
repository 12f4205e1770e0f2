"""Hardware space: sampling, mutation along value lists, budgets."""

from __future__ import annotations

import numpy as np
import pytest

from search_spaces.hardware_space import (
    EDGE_REFERENCE,
    PARAMS,
    HardwareSpace,
    budget_preset,
    pow2_range,
    step_range,
)


def test_value_ranges():
    assert pow2_range(3, 40) == (4, 8, 16, 32)
    assert step_range(16, 64, 16) == (16, 32, 48, 64)


def test_samples_and_mutants_stay_on_the_value_lists():
    space = HardwareSpace()
    rng = np.random.default_rng(0)
    cfg = space.sample(rng, 200)
    moved = space.mutate(rng, cfg, rate=1.0)
    for p in PARAMS:
        assert np.isin(cfg[p], space.values(p)).all() and np.isin(moved[p], space.values(p)).all()
    assert any((moved[p] != cfg[p]).any() for p in PARAMS)
    assert space.hardware(cfg, 3).num_pes == cfg["num_pes"][3]


def test_budgets_of_the_reference_design():
    edge = budget_preset("edge")
    ref = HardwareSpace.from_hardware([EDGE_REFERENCE])
    assert HardwareSpace(area_budget=edge["area"], power_budget=edge["power"]).feasible(ref)[0]
    assert not HardwareSpace(area_budget=edge["area"] * 0.99).feasible(ref)[0]
    with pytest.raises(ValueError, match="unknown budget preset"):
        budget_preset("huge")


def test_offchip_interface_counts_toward_area_and_power_when_finite():
    from costmodel import Hardware
    from costmodel.energy import DEFAULT_AREA_POWER as AP

    space = HardwareSpace(offchip_bw=(16, 256))
    hws = [Hardware(num_pes=64, offchip_bw=16), Hardware(num_pes=64, offchip_bw=256),
           Hardware(num_pes=64)]
    c = space.cost(HardwareSpace.from_hardware(hws))
    assert c["area"][1] - c["area"][0] == pytest.approx(240 * AP.offchip_area_per_bw)
    assert c["power"][1] - c["power"][0] == pytest.approx(240 * AP.offchip_power_per_bw)
    # an unconstrained port (MAESTRO's view) costs nothing: MAESTRO's own area
    maestro = AP.evaluate(64, 1, hws[2].noc_bw, hws[2].l1_size, hws[2].l2_size)
    assert c["area"][2] == pytest.approx(maestro["area"])
    # the candidates keep the fields no parameter covers
    base = Hardware(num_pes=64, offchip_latency=100, clock_ghz=1.5, element_bytes=2)
    hw = HardwareSpace(base=base).hardware(HardwareSpace.from_hardware(hws), 0)
    assert (hw.offchip_latency, hw.clock_ghz, hw.element_bytes) == (100, 1.5, 2)
