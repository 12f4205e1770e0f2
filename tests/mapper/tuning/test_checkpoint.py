"""Checkpoint records: what a finished layer keeps, its names, damaged files recomputed."""

from __future__ import annotations

import json

from costmodel import Hardware, Layer
from mapper.search.evaluator import Evaluator
from mapper.search.loop import run_search
from mapper.search.pareto import ParetoArchive
from mapper.search.strategies import make_strategy
from mapper.tuning.checkpoint import Checkpoint, layer_record, record_dataflow, shape_hash
from search_spaces import MappingSpace

LAYER = Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10))
HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


def test_a_record_round_trips_the_mapping_and_keeps_the_front():
    sp = MappingSpace(LAYER, HW)
    res = run_search(sp, make_strategy("random", sp, 1), Evaluator(sp), budget=300,
                     pareto=ParetoArchive())
    rec = json.loads(json.dumps(layer_record(res, sp)))
    assert str(record_dataflow(rec)) == str(res.dataflow)
    assert rec["evaluations"] == res.evaluations and rec["best"] == res.best_fitness
    assert len(rec["pareto"]) == len(res.pareto) and "dataflow" in rec["pareto"][0]
    assert record_dataflow({"dataflow": None}) is None


def test_names_tie_records_to_shape_and_settings(tmp_path):
    ck = Checkpoint(tmp_path, "f00")
    renamed = Layer("b", "CONV", dict(LAYER.dims))
    assert shape_hash(renamed) == shape_hash(LAYER)
    assert ck.state_file(LAYER).name == f"layer-{shape_hash(LAYER)}-f00.state"
    assert ck.load(LAYER) is None
    state = ck.state_file(LAYER)
    state.write_text("x")
    ck.save(LAYER, {"evaluations": 3}, [state])
    assert ck.load(renamed) == {"evaluations": 3} and not state.exists()
    assert Checkpoint(tmp_path, "other").load(LAYER) is None
    (tmp_path / f"layer-{shape_hash(LAYER)}-f00.json").write_text("{cut sh")
    assert ck.load(LAYER) is None  # damaged: recomputed
