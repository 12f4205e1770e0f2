"""TuneSettings: defaults held once, every field checked when built, the fingerprint."""

from __future__ import annotations

import dataclasses

import pytest

from costmodel import Hardware
from costmodel.errors import MaestroInputError
from mapper.tuning import settings as st
from mapper.tuning.settings import TuneSettings

HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


def test_defaults():
    s = TuneSettings()
    assert (s.strategy, s.objective, s.budget, s.islands, s.extra_islands) == (
        "ga", "latency", st.DEFAULT_BUDGET, st.DEFAULT_ISLANDS, st.DEFAULT_EXTRA_ISLANDS)
    assert (s.extend_gap, s.extend_max_gap, s.cost_model) == (
        st.EXTEND_GAP, st.EXTEND_MAX_GAP, "physical")


@pytest.mark.parametrize("field, value, message", [
    ("budget", 0, "budget must be at least 1"),
    ("budget", 2.5, "budget: must be an integer"),
    ("time_limit", 0, "time_limit: must be a positive number"),
    ("time_limit", float("nan"), "time_limit"),
    ("jobs", 0, "jobs: must not be 0"),
    ("islands", 0, "islands must be at least 1"),
    ("extra_islands", -1, "extra_islands must be at least 0"),
    ("max_levels", 0, "max_levels must be at least 1"),
    ("strategy", "nope", "unknown strategy 'nope'"),
    ("objective", "speed", "unknown objective 'speed'"),
    ("backend", "mpi", "unknown backend 'mpi'"),
    ("cost_model", "roofline", "unknown cost_model 'roofline'"),
    ("template", "nope", "unknown template 'nope'"),
    ("extend_gap", -0.1, "extend_gap <= extend_max_gap"),
    ("extend_gap", 0.5, "extend_gap <= extend_max_gap"),
    ("seed", "1", "seed: must be an integer"),
    ("constraints", None, "constraints"),
])
def test_bad_values_are_clear_errors_naming_the_field(field, value, message):
    with pytest.raises(MaestroInputError, match=message) as exc:
        TuneSettings(**{field: value})
    assert f"TuneSettings.{field}" in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_a_budget_or_a_time_limit():
    with pytest.raises(ValueError, match="budget"):
        TuneSettings(budget=None)
    assert TuneSettings(budget=None, time_limit=2.0).budget is None
    assert TuneSettings(template="kcp_ws:T1O0P1S0").template == "kcp_ws:T1O0P1S0"


def test_replace_is_checked_too():
    with pytest.raises(ValueError, match="islands"):
        dataclasses.replace(TuneSettings(), islands=0)


def test_fingerprint_covers_what_changes_results_only():
    base = TuneSettings().fingerprint(HW)
    assert TuneSettings(jobs=1, backend="threading").fingerprint(HW) == base
    assert TuneSettings(cost_model="maestro").fingerprint(HW) != base
    assert TuneSettings(seed=1).fingerprint(HW) != base
    other = Hardware(num_pes=64, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)
    assert TuneSettings().fingerprint(other) != base


def test_fingerprint_changes_with_the_code(monkeypatch):
    """A checkpoint written by another version of the cost model or search is not resumed."""
    from mapper.tuning import settings
    base = TuneSettings().fingerprint(HW)
    assert len(settings.code_version()) == 16
    monkeypatch.setattr(settings, "code_version", lambda: "another-version")
    assert TuneSettings().fingerprint(HW) != base
