"""Sparsity reaches the search: the Evaluator scores with the layer's densities and the
accelerator's SparsityConfig, its latency bounds stay below every skipping candidate's runtime,
tuning keeps the densities and writes effectual_macs, the CLI reads --sparsity and warns
under maestro, and sparsity choices are ranked."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from costmodel import Hardware, Layer, Network
from costmodel.errors import MaestroInputError
from costmodel.sparsity import uniform
from mapper.cli._inputs import load_sparsity
from mapper.search.evaluator import Evaluator
from mapper.tuning.results import write_results
from mapper.tuning.settings import TuneSettings
from mapper.tuning.sparsity_choices import tune_sparsity_choices
from mapper.tuning.tuner import space_for, tune_model

HW = Hardware(num_pes=64, l1_size=512, l2_size=1 << 20, noc_bw=64, offchip_bw=64)
NM = uniform({"weight": "nm"}, "skip")
DIMS = {"M": 64, "N": 128, "K": 128}


def _space(layer):
    return space_for(layer, HW, TuneSettings(budget=10))


@pytest.mark.parametrize("density,cfg", [("2:4", NM), (0.3, uniform({"weight": "bitmask"},
                                                                    "skip"))])
def test_evaluator_uses_sparsity_and_bounds_hold(density, cfg):
    layer = Layer("g", "GEMM", DIMS, density={"weight": density})
    space = _space(layer)
    g = space.sample(np.random.default_rng(0), 300)
    dense = Evaluator(space, cost_model="physical")
    sparse = Evaluator(space, cost_model="physical", sparsity=cfg)
    md, ms = dense.metrics(g), sparse.metrics(g)
    ok = md["valid"] & ms["valid"]
    assert ok.sum() > 50 and (ms["runtime"][ok] < md["runtime"][ok]).any()
    assert (ms["runtime"][ok] <= md["runtime"][ok]).all()
    # the pruning bounds hold for skipping: no valid candidate beats them
    assert (ms["runtime"][ok] >= sparse.latency_bound(g)[ok]).all()
    assert ms["runtime"][ok].min() >= sparse.compute_bound
    assert sparse.compute_bound < dense.compute_bound
    # maestro stays dense
    assert Evaluator(space, cost_model="maestro", sparsity=cfg).sparsity is None


def test_tune_keeps_densities_and_reports_effectual_macs(tmp_path):
    net = Network("two", [Layer("sparse", "GEMM", DIMS, density={"weight": "2:4"}),
                          Layer("dense", "GEMM", {"M": 64, "N": 64, "K": 64})])
    s = TuneSettings(budget=600, jobs=1, islands=1, extra_islands=0, sparsity=NM)
    res = tune_model(net, HW, s)
    dense = tune_model(net, HW, TuneSettings(budget=600, jobs=1, islands=1, extra_islands=0))
    sp = res.layers[0]
    assert sp.layer.density["weight"].m == 4
    assert sp.report.effectual_macs * 2 == sp.report.num_macs
    assert sp.report.runtime < dense.layers[0].report.runtime
    assert s.fingerprint(HW) != dense.settings.fingerprint(HW)
    write_results(res, tmp_path, plots=False)
    rows = list(csv.DictReader(open(tmp_path / "report.csv")))
    assert int(rows[0]["effectual_macs"]) * 2 == int(rows[0]["num_macs"])
    assert rows[1]["effectual_macs"] == rows[1]["num_macs"]


def test_cli_sparsity_file_and_maestro_warning(tmp_path, capsys):
    f = tmp_path / "sp.yaml"
    f.write_text("formats: {weight: nm}\ncompute: skip\non: weight\n")
    net = Network("n", [Layer("q", "GEMM", DIMS, density={"weight": "2:4"})])
    assert load_sparsity(str(f), None, "physical", net, "tune") == NM
    hw = tmp_path / "hw.yaml"
    hw.write_text("num_pes: 64\nsparsity: {formats: {weight: nm}, compute: skip, on: weight}\n")
    assert load_sparsity(None, str(hw), "physical", net, "tune") == NM
    assert load_sparsity(str(f), None, "maestro", net, "tune") is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "maestro cost model is dense" in err
    with pytest.raises(MaestroInputError, match="layer 'r', tensor weight: format 'nm'"):
        load_sparsity(str(f), None, "physical",
                      Network("n", [Layer("r", "GEMM", DIMS, density={"weight": 0.3})]), "tune")
    capsys.readouterr()
    # densities without any sparsity feature: said once, not silently computed dense
    assert load_sparsity(None, None, "physical", net, "tune") is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 layer(s) state densities but the hardware has no " \
        "sparsity features" in err
    assert load_sparsity(None, None, "physical", Network("n", [Layer("d", "GEMM", DIMS)]),
                         "tune") is None
    assert capsys.readouterr().err == ""


def test_sparsity_choices_ranked():
    net = Network("n", [Layer("q", "GEMM", DIMS, density={"weight": "2:4"})])
    s = TuneSettings(budget=400, jobs=1, islands=1, extra_islands=0)
    ranked = tune_sparsity_choices(net, HW, s, [uniform({"weight": "dense"}, "none"), NM,
                                                uniform({"weight": "bitmask"}, "gate")])
    assert ranked[0].sparsity == NM
    assert [c.score for c in ranked] == sorted(c.score for c in ranked)
    bad = tune_sparsity_choices(Network("n", [Layer("r", "GEMM", DIMS,
                                                    density={"weight": 0.3})]), HW, s, [NM])
    assert bad[0].result is None and "nm" in bad[0].reason
