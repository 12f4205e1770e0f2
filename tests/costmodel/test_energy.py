"""Energy and area/power tables: MAESTRO's coefficients reproduce its area and power columns."""

import math

import numpy as np
import pytest

from costmodel.energy import (
    DEFAULT_AREA_POWER,
    DEFAULT_ENERGY,
    UNCONSTRAINED_BW,
    AreaPowerModel,
    EnergyModel,
)
from tests import reference as ref

COMPONENTS = ("area", "power", "pe_power", "l1_power", "l2_power", "noc_power")


def test_area_and_power_match_maestro_on_every_golden_row():
    """MAESTRO sizes the SRAMs by the required (not provisioned) buffer sizes."""
    rows = [r for r in ref.golden_rows() if r["area"] != ""]
    out = DEFAULT_AREA_POWER.evaluate(*(np.array([int(r[c]) for r in rows]) for c in (
        "hw_num_pes", "hw_simd_lanes", "hw_noc_bw", "l1_size_req", "l2_size_req")))
    assert len(rows) > 300
    for k in COMPONENTS:
        want = np.array([float(r[k]) for r in rows])
        np.testing.assert_allclose(out[k], want, rtol=1e-9, err_msg=k)


def test_power_is_the_sum_of_its_parts_and_broadcasts():
    out = DEFAULT_AREA_POWER.evaluate(np.array([64, 256]), 1, 32, 512, 2**16)
    assert out["area"].shape == (2,)
    parts = out["pe_power"] + out["l1_power"] + out["l2_power"] + out["noc_power"]
    np.testing.assert_allclose(out["power"], parts)
    assert out["area"][1] > out["area"][0]


def test_offchip_interface_costs_only_when_bandwidth_is_bounded():
    m = AreaPowerModel()
    base = m.evaluate(256, 1, 64, 512, 2**16)
    assert "offchip_power" not in base
    bounded = m.evaluate(256, 1, 64, 512, 2**16, offchip_bw=10)
    assert bounded["offchip_power"] == pytest.approx(10 * m.offchip_power_per_bw)
    assert bounded["area"] == pytest.approx(base["area"] + 10 * m.offchip_area_per_bw)
    free = m.evaluate(256, 1, 64, 512, 2**16, offchip_bw=UNCONSTRAINED_BW)
    assert free["power"] == pytest.approx(base["power"]) and free["offchip_power"] == 0


def test_energy_defaults_are_maestros_and_invalid_entries_are_rejected():
    assert (DEFAULT_ENERGY.l1_read, DEFAULT_ENERGY.l2_read, DEFAULT_ENERGY.unit_nj) == (
        1.68, 18.61, 0.00023)
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="l2_read"):
            EnergyModel(l2_read=bad)
    assert EnergyModel(mac_skipped=0.0).mac_skipped == 0.0
