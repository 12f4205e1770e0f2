"""What a comparison runs: suite layers, run specs, every strategy run once, records."""

from __future__ import annotations

import dataclasses
import math

import pytest

from mapper.comparison import runs as cmp
from mapper.search.strategies import STRATEGIES
from mapper.workloads.presets import HARDWARE_PRESETS
from search_spaces.enumeration import enumeration_size, is_enumerable

from .common import GEMM, HW, LAYER, TINY, make_record


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
        for hw in (HARDWARE_PRESETS["edge168"], HARDWARE_PRESETS["cloud1024"]):
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



# L1 room for most mappings of LAYER (about 70% of random ones fit, under a tenth of Optuna's
# draws on HW): whether a run of 64 finds a feasible one then does not hang on a sampler's
# trajectory, which changes between Optuna releases
ROOMY = dataclasses.replace(HW, l1_size=256)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_run_one_every_strategy(strategy):
    spec = cmp.RunSpec("budget", strategy, "tiny", LAYER, "hw", ROOMY, 1, 64, None)
    a, b = cmp.run_one(spec), cmp.run_one(spec)
    assert a.best == b.best and a.evaluations == b.evaluations <= 64  # reproducible
    assert math.isfinite(a.best) and a.history and a.history[-1][2] == a.best
    assert a.space == ("kcp_ws/divisors" if strategy == "exhaustive" else "free")
    assert (a.space_size is not None) == (strategy == "exhaustive")
    t = cmp.run_one(cmp.RunSpec("time", strategy, "tiny", GEMM, "hw", HW, 0, None, 0.05))
    assert t.evaluations > 0 and t.budget is None and t.time_limit == 0.05



def test_record_json_round_trip_keeps_infinities():
    r = make_record(best=math.inf, history=[(3, 0.1, math.inf)])
    back = cmp.RunRecord.from_json(r.to_json())
    assert math.isinf(back.best) and math.isinf(back.history[0][2])
    assert back.to_json() == r.to_json()
