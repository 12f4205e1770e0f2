"""The mappings a model file states, scored beside the tuned ones (report.csv, summary.json,
the CLI line and a warning where a stated mapping wins)."""

from __future__ import annotations

import csv
import dataclasses
import json

from costmodel import Hardware, Layer, Network
from costmodel.analysis import evaluate
from costmodel.io import parse_dataflow, save_network
from mapper.cli import main
from mapper.tuning.given import GivenMapping, beats, score_given
from mapper.tuning.results import write_results
from mapper.tuning.tuner import TuneSettings, tune_model

HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)
CONV = Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10))
GEMM = Layer("fc", "GEMM", dict(M=4, N=32, K=64))
# fits the L1 of HW; the second needs far more than 256 elements of L1
SMALL = parse_dataflow("SpatialMap(1,1) K; TemporalMap(4,4) C; TemporalMap(3,3) R; "
                       "TemporalMap(3,3) S; TemporalMap(3,1) Y; TemporalMap(3,1) X")
HUGE = parse_dataflow("SpatialMap(1,1) K; TemporalMap(8,8) C; TemporalMap(3,3) R; "
                      "TemporalMap(3,3) S; TemporalMap(10,10) Y; TemporalMap(10,10) X")


def _net(df_a, df_fc=None) -> Network:
    return Network("n", [dataclasses.replace(CONV, dataflow=df_a),
                         dataclasses.replace(GEMM, dataflow=df_fc),
                         dataclasses.replace(CONV, name="a", dataflow=HUGE)])  # same name


def test_stated_mappings_are_scored_per_layer_with_the_runs_constraints():
    s = TuneSettings(budget=100, jobs=1)
    got = score_given(_net(SMALL), HW, s)
    assert got[1] is None  # the GEMM states no mapping
    want = evaluate(dataclasses.replace(CONV, dataflow=SMALL), HW, cost_model="physical")
    assert (got[0].runtime, got[0].feasible, got[0].reason) == (want.runtime, True, "")
    assert got[2].runtime is not None and not got[2].feasible  # layers told apart by order
    assert got[2].reason.startswith("needs L1 ") and "> 256" in got[2].reason


def test_report_and_summary_compare_over_feasible_layers(tmp_path):
    res = tune_model(_net(SMALL), HW, TuneSettings(budget=300, jobs=1))
    summary = write_results(res, tmp_path, plots=False)
    rows = list(csv.DictReader((tmp_path / "report.csv").open()))
    assert [r["given_feasible"] for r in rows] == ["True", "", "False"]
    assert int(rows[0]["given_runtime"]) == res.given[0].runtime and rows[1]["given_runtime"] == ""
    g = summary["given"]
    assert (g["layers_stated"], g["layers_compared"]) == (2, 1)
    assert g["runtime_cycles"] == res.given[0].runtime
    assert g["tuned_runtime_cycles"] == res.layers[0].report.runtime
    assert g["speedup"] == g["runtime_cycles"] / g["tuned_runtime_cycles"]
    assert list(g["not_compared"]) == ["a"] and "L1" in g["not_compared"]["a"]


def test_no_given_block_for_a_model_without_mappings(tmp_path):
    res = tune_model(Network("n", [CONV, GEMM]), HW, TuneSettings(budget=100, jobs=1))
    summary = write_results(res, tmp_path, plots=False)
    assert "given" not in summary
    rows = list(csv.DictReader((tmp_path / "report.csv").open()))
    assert all(r["given_runtime"] == r["given_feasible"] == "" for r in rows)


def test_the_search_starts_from_the_stated_mappings(tmp_path, capsys):
    """A stated mapping the space can express opens every island's first sample, so even a
    budget of 5 evaluations ends at least as good as it; one it cannot express (two levels
    under --levels 1) is still scored, and named where it wins."""
    best = tune_model(Network("n", [CONV]), HW, TuneSettings(budget=3000, jobs=1))
    stated = best.layers[0].layer
    assert stated.dataflow.structure.count(("C", "")) == 1  # two levels
    model = tmp_path / "m.yaml"
    save_network(Network("n", [stated]), model)
    out = tmp_path / "out"
    args = ["tune", str(model), "--hw", str(_hw_file(tmp_path)), "--budget", "5", "--out",
            str(out), "--no-plots", "--quiet", "--no-resume", "--jobs", "1"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["given"]["better_than_tuned"] == []
    assert summary["totals"]["runtime_cycles"] <= best.layers[0].report.runtime
    assert "against the file's own mappings (1 of 1 layers" in capsys.readouterr().out
    assert main(args + ["--levels", "1"]) == 0
    text = capsys.readouterr()
    assert json.loads((out / "summary.json").read_text())["given"]["better_than_tuned"] == ["a"]
    assert "layer a: the mapping the model file states scores better (latency)" in text.err


def test_beats_compares_on_the_objective():
    rep = evaluate(dataclasses.replace(CONV, dataflow=SMALL), HW)
    fast = GivenMapping(rep.runtime - 1, rep.energy_nj * 2, True)
    assert beats(fast, rep, "latency") and not beats(fast, rep, "energy")
    assert not beats(dataclasses.replace(fast, feasible=False), rep, "latency")
    assert not beats(None, rep, "latency")


def _hw_file(tmp_path):
    from costmodel.io import save_hardware_any

    path = tmp_path / "hw.yaml"
    save_hardware_any(HW, path)
    return path


def test_editing_a_stated_mapping_reruns_that_layer_on_resume(tmp_path):
    net = _net(SMALL, None)
    s = TuneSettings(budget=60, jobs=1)
    tune_model(net, HW, s, checkpoint_dir=tmp_path)
    assert tune_model(net, HW, s, checkpoint_dir=tmp_path).resumed_layers == 2
    other = parse_dataflow("SpatialMap(1,1) K; TemporalMap(2,2) C; TemporalMap(3,3) R; "
                           "TemporalMap(3,3) S; TemporalMap(3,1) Y; TemporalMap(3,1) X")
    again = tune_model(_net(other, None), HW, s, checkpoint_dir=tmp_path)
    assert again.resumed_layers == 1  # the GEMM (nothing stated) resumes, the CONV reruns


def test_cli_tunes_a_file_whose_stated_dataflow_breaks_a_rule(tmp_path, capsys):
    m = tmp_path / "w.m"
    m.write_text("Network N {\nLayer A {\nType: CONV\nDimensions { K: 8, C: 4, R: 3, S: 3, "
                 "Y: 10, X: 10 }\nDataflow {\nSpatialMap(1,1) K;\nTemporalMap(1,7) R;\n"
                 "TemporalMap(3,3) S;\n}\n}\n}\n")
    out = tmp_path / "o"
    assert main(["tune", str(m), "--budget", "30", "--out", str(out), "--no-plots", "--quiet",
                 "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "layer A: its stated dataflow is left out" in err and f"{m}:7:" in err
    assert main(["evaluate", str(m)]) == 2  # evaluating it stays an error
