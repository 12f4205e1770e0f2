"""Hardware-mapping co-optimisation under budgets, and clear errors for impossible budgets."""

from __future__ import annotations

import pytest

from costmodel import Layer, Network
from costmodel.errors import MaestroInputError
from mapper.cli import main
from mapper.tuning.cooptimize import co_optimize, per_layer_hardware
from mapper.tuning.tuner import TuneSettings
from search_spaces.hardware_space import HardwareSpace, budget_preset

NET = Network("n", [Layer("a", "CONV", dict(K=16, C=16, R=3, S=3, Y=10, X=10)),
                    Layer("b", "GEMM", dict(M=16, N=32, K=64))])


def small_space(**kw):
    return HardwareSpace(num_pes=(16, 32, 64), l1_size=(256, 512), l2_size=(16384, 65536),
                         noc_bw=(16, 64), **kw)


def test_co_optimisation_respects_the_budget():
    area = budget_preset("edge")["area"] / 4
    space = small_space(area_budget=area)
    res = co_optimize(NET, space, TuneSettings(budget=150, seed=1), candidates=3, rounds=2)
    assert res.best.totals()["layers_mapped"] == 2
    for c in res.candidates:
        assert c["area"] <= area
    best_hw = res.best.hardware
    assert space.feasible(HardwareSpace.from_hardware([best_hw]))[0]
    scores = [c["score"] for c in res.candidates]
    assert scores == sorted(scores) and res.best.totals()["runtime_cycles"] == scores[0]


def test_per_layer_hardware_assignment():
    space = small_space(power_budget=budget_preset("edge")["power"])
    out = per_layer_hardware(NET, space, TuneSettings(budget=100), candidates=2)
    assert set(out) == {"a", "b"} and all(hw is not None for hw, _ in out.values())


def test_impossible_budget_is_a_clear_error(capsys):
    with pytest.raises(MaestroInputError, match="no hardware in the space meets the budget"):
        co_optimize(NET, small_space(area_budget=1.0), TuneSettings(budget=50))
    assert main(["tune", "resnet18", "--area-budget", "1", "--quiet"]) == 2
    assert "meets the budget" in capsys.readouterr().err
    assert main(["tune", "resnet18", "--area-budget", "tiny"]) == 2


def test_cli_per_layer_hardware(tmp_path):
    import json

    from costmodel.io import save_network

    model = tmp_path / "m.yaml"
    save_network(NET, model)
    assert main(["tune", str(model), "--area-budget", "edge", "--per-layer-hw", "--budget", "60",
                 "--hw-candidates", "2", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    rows = json.loads((tmp_path / "o" / "per_layer_hw.json").read_text())
    assert set(rows) == {"a", "b"}
    # the same artefacts as a plain tune (hardware.m replaced by per_layer_hw.json)
    for f in ("mappings.m", "mappings.yaml", "report.csv", "summary.json"):
        assert (tmp_path / "o" / f).exists(), f
    assert not (tmp_path / "o" / "hardware.m").exists()
    assert not (tmp_path / "o" / "hardware.yaml").exists()


def test_co_optimisation_resumes_every_candidate(tmp_path):
    space = small_space(area_budget=budget_preset("edge")["area"])
    settings = TuneSettings(budget=100, seed=2)
    first = co_optimize(NET, space, settings, candidates=2, rounds=1, checkpoint_dir=tmp_path)
    again = co_optimize(NET, space, settings, candidates=2, rounds=1, checkpoint_dir=tmp_path)
    assert again.best.resumed_layers == 2
    assert again.candidates == first.candidates
    assert first.seconds >= first.best.seconds  # the whole run, not the winner's share
