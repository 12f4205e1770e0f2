"""Strategy comparison (``mapper.comparison.harness``): suite, runs, scoring, outputs, resume,
CLI."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from costmodel import Hardware, Layer
from mapper.cli import build_parser, main
from mapper.comparison import harness as cmp
from mapper.search.strategies import STRATEGIES
from search_spaces import MappingSpace
from search_spaces.enumeration import enumeration_size, is_enumerable

LAYER = Layer("small", "CONV", dict(K=8, C=4, R=3, S=3, Y=6, X=6))
GEMM = Layer("mm", "GEMM", dict(M=8, N=16, K=8))
HW = Hardware(num_pes=16, l1_size=64, l2_size=4096, noc_bw=8, offchip_bw=16)
TINY = [("tiny", LAYER), ("tiny", GEMM)]


def _record(strategy="ga", mode="budget", layer="a", seed=0, best=10.0, history=None, **kw):
    hist = history if history is not None else [(10, 0.1, best)]
    return cmp.RunRecord(mode, strategy, "m", layer, "CONV", "hw", seed, "free", None,
                         100 if mode == "budget" else None, 1.0 if mode == "time" else None,
                         "latency", best, hist[-1][0] if hist else 0, 1.0, hist, **kw)


def test_suite_covers_every_distinct_shape_and_limits_round_robin():
    full = cmp.suite_layers()
    assert len(full) == 69  # 21 ResNet-50 + 31 MobileNetV2 + 12 VGG16 + 5 BERT-base
    assert len({(m, lay.shape_key()) for m, lay in full}) == len(full)
    eight = cmp.suite_layers(limit=8)
    assert [m for m, _ in eight] == ["resnet50", "mobilenetv2", "vgg16", "bert_base"] * 2
    types = {(m, lay.type) for m, lay in eight}
    assert ("mobilenetv2", "DSCONV") in types and ("bert_base", "GEMM") in types
    assert [lay.name for _, lay in eight] == [lay.name for _, lay in cmp.suite_layers(limit=8)]
    assert all(lay.dataflow is None for _, lay in eight)


def test_spread_is_a_permutation_whose_prefixes_spread():
    for n in (1, 2, 5, 31):
        s = cmp._spread(n)
        assert sorted(s) == list(range(n))
    assert cmp._spread(31)[:3] == [0, 30, 15]


def test_exhaustive_space_is_enumerable_and_small_on_every_suite_layer():
    for _, lay in cmp.suite_layers():
        for hw in (cmp.HARDWARE_PRESETS["edge168"], cmp.HARDWARE_PRESETS["cloud1024"]):
            sp = cmp.exhaustive_space(lay, hw)
            assert is_enumerable(sp) and enumeration_size(sp) < 10**8, lay.name


def test_make_runs_counts_and_limits():
    s = cmp.CompareSettings(strategies=("ga", "random"), seeds=2, budget=50, time_limit=0.5)
    runs = cmp.make_runs(s, TINY, {"hw": HW})
    assert len(runs) == 2 * 2 * 2 * 1 * 2  # modes x strategies x layers x accelerators x seeds
    assert {(r.mode, r.budget, r.time_limit) for r in runs} == {("budget", 50, None),
                                                               ("time", None, 0.5)}
    assert len({r.key() for r in runs}) == len(runs)
    with pytest.raises(ValueError):
        cmp.make_runs(cmp.CompareSettings(strategies=("nope",)), TINY, {"hw": HW})


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_run_one_every_strategy(strategy):
    spec = cmp.RunSpec("budget", strategy, "tiny", LAYER, "hw", HW, 1, 64, None)
    a, b = cmp.run_one(spec), cmp.run_one(spec)
    assert a.best == b.best and a.evaluations == b.evaluations <= 64  # reproducible
    assert math.isfinite(a.best) and a.history and a.history[-1][2] == a.best
    assert a.space == ("kcp_ws/divisors" if strategy == "exhaustive" else "free")
    assert (a.space_size is not None) == (strategy == "exhaustive")
    t = cmp.run_one(cmp.RunSpec("time", strategy, "tiny", GEMM, "hw", HW, 0, None, 0.05))
    assert t.evaluations > 0 and t.budget is None and t.time_limit == 0.05


def test_annotate_and_summarise():
    recs = [
        _record("ga", layer="a", seed=0, best=10.0, history=[(5, 0.1, 20.0), (10, 0.2, 10.0)]),
        _record("ga", layer="a", seed=1, best=10.05, history=[(8, 0.1, 10.05)]),
        _record("random", layer="a", seed=0, best=12.0),
        _record("random", layer="a", seed=1, best=math.inf, history=[(10, 0.1, math.inf)]),
        _record("ga", layer="b", best=4.0), _record("random", layer="b", best=8.0),
    ]
    best = cmp.annotate(recs)
    assert best[("m", "a", "hw", "latency")] == 10.0 and best[("m", "b", "hw", "latency")] == 4.0
    assert recs[0].normalised == 1.0 and recs[0].evals_to_1pct == 10
    assert recs[0].seconds_to_1pct == 0.2
    assert recs[1].evals_to_1pct == 8  # 10.05 is within 1% of 10
    assert recs[2].normalised == 1.2 and recs[2].evals_to_1pct is None
    assert math.isinf(recs[3].normalised)
    rows = {s.strategy: s for s in cmp.summarise(recs)}
    assert rows["ga"].layers_within == 1.0 and rows["ga"].median_normalised == 1.0
    assert rows["ga"].median_evals_to_1pct == 10 and rows["ga"].feasible == 1.0
    assert rows["random"].layers_within == 0.0 and rows["random"].feasible == 2 / 3
    assert rows["random"].median_normalised == 2.0  # 1.2, 2.0, inf
    assert math.isinf(rows["random"].median_evals_to_1pct)
    assert [s.strategy for s in cmp.summarise(recs)] == ["ga", "random"]
    md = cmp.summary_markdown(recs)
    assert "| ga | 3 | 1.000 | 100% | 10 |" in md and "not reached" in md


def test_record_json_round_trip_keeps_infinities():
    r = _record(best=math.inf, history=[(3, 0.1, math.inf)])
    back = cmp.RunRecord.from_json(r.to_json())
    assert math.isinf(back.best) and math.isinf(back.history[0][2])
    assert back.to_json() == r.to_json()


def test_pareto_mask():
    pts = np.array([[1, 5], [2, 2], [3, 1], [2, 3], [4, 4], [2, 2], [1, 6]], dtype=float)
    assert cmp.pareto_mask(pts).tolist() == [True, True, True, False, False, False, False]
    assert cmp.pareto_mask(np.zeros((0, 2))).tolist() == []


def test_recording_evaluator_keeps_feasible_points_only():
    sp = MappingSpace(LAYER, HW, max_levels=2)
    ev = cmp.RecordingEvaluator(sp)
    e = ev(sp.sample(np.random.default_rng(0), 200))
    pts = ev.all_points()
    assert len(pts) == int(e.feasible.sum()) > 0
    assert np.array_equal(pts[:, 0], e.metrics["runtime"][e.feasible])


def test_compare_writes_outputs_and_resumes(tmp_path):
    s = cmp.CompareSettings(strategies=("ga", "random", "exhaustive", "tpe"), seeds=2,
                            budget=40, time_limit=0.05, pareto_budget=64,
                            pareto_layer="tiny/small")
    calls = []
    res = cmp.compare(s, tmp_path, layers=TINY, hardware={"hw": HW},
                      progress=lambda d, n, r: calls.append(d))
    assert len(res.records) == len(calls) == 2 * 4 * 2 * 2
    for f in ("runs.csv", "summary.md", "records.jsonl", "pareto.csv", "pareto.png",
              "convergence_evals.png", "convergence_seconds.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    rows = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert len(rows) == len(res.records) and tuple(rows[0]) == cmp.CSV_COLUMNS
    assert {r["mode"] for r in rows} == {"budget", "time"}
    for r in rows:  # best-known is the best over every run of that layer
        assert float(r["best_known"]) == min(float(x["best"]) for x in rows
                                             if x["layer"] == r["layer"])
    assert res.pareto is not None and len(res.pareto.front) >= 1
    # resume: nothing is run again and the results are the same
    again = []
    res2 = cmp.compare(s, tmp_path, layers=TINY, hardware={"hw": HW},
                       progress=lambda d, n, r: again.append(d))
    assert again == [] and [r.best for r in res2.records] == [r.best for r in res.records]
    assert "16 of 32 runs resumed" not in (tmp_path / "summary.md").read_text()
    assert "32 of 32 runs resumed" in (tmp_path / "summary.md").read_text()


def test_cli_compare_is_registered_and_checks_names(capsys):
    parser = build_parser()
    args = parser.parse_args(["compare", "--quick", "--layers", "2", "--budget", "50"])
    from mapper.cli.compare import settings_from_args

    s = settings_from_args(args)
    assert (s.layers, s.budget, s.seeds, s.time_limit) == (2, 50, 1, 1.0)
    s = settings_from_args(parser.parse_args(["compare", "--strategies", "ga,tpe",
                                              "--hw", "cloud1024"]))
    assert s.strategies == ("ga", "tpe") and s.accelerators == ("cloud1024",)
    assert s.layers is None and s.seeds == 3
    assert main(["compare", "--strategies", "ga,nope"]) == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err
    assert main(["compare", "--hw", "nope"]) == 2
