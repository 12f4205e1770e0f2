"""End-to-end ``mapper tune``: files written, MAESTRO-readable output, resume, determinism."""

from __future__ import annotations

import csv
import json

import pytest

from costmodel import Hardware, Layer, Network
from costmodel.analysis import evaluate
from costmodel.io import load_mapping
from mapper.cli import main
from mapper.tuning.tuner import TuneSettings, tune_model

NET = Network("tiny", [
    Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10)),
    Layer("b", "CONV", dict(K=16, C=16, R=1, S=1, Y=8, X=8), {"X": 2, "Y": 2}),
    Layer("a2", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10)),  # same shape as "a"
    Layer("dw", "DSCONV", dict(K=1, C=16, R=3, S=3, Y=8, X=8)),
    Layer("fc", "GEMM", dict(M=4, N=32, K=64)),
])
HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


def test_tune_model_is_deterministic_across_jobs():
    s1 = TuneSettings(budget=300, seed=5, jobs=1)
    s2 = TuneSettings(budget=300, seed=5, jobs=2)
    r1, r2 = tune_model(NET, HW, s1), tune_model(NET, HW, s2)
    assert [str(x.layer.dataflow) for x in r1.layers] == [str(x.layer.dataflow) for x in r2.layers]
    assert r1.totals()["distinct_shapes"] == 4 and r1.layers[2].reused
    for x in r1.layers:  # every mapping returned is feasible and physically consistent
        rep = evaluate(x.layer, HW, cost_model="physical")
        assert rep.valid and rep.l1_size <= HW.l1_size and rep.l2_size <= HW.l2_size


def test_cli_tune_writes_results_and_resumes(tmp_path, capsys):
    model = tmp_path / "tiny.yaml"
    from costmodel.io import save_network

    save_network(NET, model)
    out = tmp_path / "out"
    args = ["tune", str(model), "--hw", "edge168", "--budget", "200", "--out", str(out),
            "--no-plots", "--quiet"]
    assert main(args) == 0
    for f in ("mappings.m", "mappings.yaml", "report.csv", "summary.json", "hardware.m"):
        assert (out / f).exists(), f
    net = load_mapping(out / "mappings.m")  # our own parser, MAESTRO's grammar
    assert [layer.name for layer in net.layers] == [layer.name for layer in NET.layers]
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert all(r["valid"] == "True" for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["seed"] == 0 and summary["totals"]["layers_mapped"] == 5
    assert summary["settings"]["islands"] == 2 and summary["settings"]["extra_islands"] == 2
    assert summary["settings"]["extend_gap"] == 0.005 and summary["settings"]["prune"] is True
    first = (out / "mappings.m").read_text()
    # a second run resumes every layer from the checkpoint and gives the same result
    assert main(args) == 0
    assert json.loads((out / "summary.json").read_text())["timing"]["resumed_layers"] == 4
    assert (out / "mappings.m").read_text() == first
    # --no-prune: every proposal scored and counted (a new run: the settings differ)
    assert main(args + ["--no-prune"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["prune"] is False and summary["timing"]["resumed_layers"] == 0
    assert summary["totals"]["evaluations"] == 4 * 200


def test_cli_tune_bad_model_is_a_clean_error(tmp_path, capsys):
    assert main(["tune", "no_such_model"]) == 2
    assert "no_such_model" in capsys.readouterr().err
    empty = tmp_path / "e.yaml"
    empty.write_text("name: e\nlayers: []\n")
    assert main(["tune", str(empty), "--quiet"]) == 2
    assert main(["tune", "resnet50", "--islands", "0", "--quiet"]) == 2
    assert "--islands must be >= 1" in capsys.readouterr().err
    assert main(["tune", "resnet50", "--extra-islands", "-1", "--quiet"]) == 2
    assert "--extra-islands must be >= 0" in capsys.readouterr().err
    assert main(["tune", "resnet50", "--extend-gap", "0.5", "--quiet"]) == 2
    assert "--extend-gap <= --extend-max-gap" in capsys.readouterr().err


@pytest.mark.parametrize("strategy", ["random", "tpe"])
def test_other_strategies_through_the_cli(tmp_path, strategy):
    from costmodel.io import save_network

    model = tmp_path / "m.yaml"
    save_network(Network("one", NET.layers[:1]), model)
    assert main(["tune", str(model), "--strategy", strategy, "--budget", "64", "--out",
                 str(tmp_path / "o"), "--no-plots", "--quiet"]) == 0


def test_cli_hw_set_changes_fields_of_the_preset(tmp_path, capsys):
    out = tmp_path / "o"
    args = ["tune", "gemm_example", "--hw", "edge168", "--budget", "30", "--out", str(out),
            "--no-plots", "--quiet", "--jobs", "1"]
    assert main(args + ["--hw-set", "num_pes=256", "--hw-set", "simd_lanes=2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["hardware"]["num_pes"], summary["hardware"]["simd_lanes"]) == (256, 2)
    assert summary["hardware"]["l1_size"] == 512  # the rest of edge168
    capsys.readouterr()
    for bad, message in (("pes=256", "FIELD one of num_pes"), ("num_pes=x", "an integer"),
                         ("num_pes=0", "positive integer")):
        assert main(args + ["--hw-set", bad]) == 2
        assert message in capsys.readouterr().err


def test_cli_layers_selects_by_name_position_and_range(tmp_path, capsys):
    out = tmp_path / "o"
    base = ["tune", "resnet18", "--budget", "20", "--out", str(out), "--no-plots", "--quiet",
            "--jobs", "1", "--no-resume"]
    assert main(base + ["--layers", "FC1000,1,3-4"]) == 0
    rows = list(csv.DictReader((out / "report.csv").open()))
    from mapper.workloads.zoo import load_model

    names = [x.name for x in load_model("resnet18").layers]
    assert [r["layer"] for r in rows] == [names[0], names[2], names[3], "FC1000"]
    capsys.readouterr()
    for bad, message in (("0", "positions run from 1 to 21"), ("CONVX", "not a layer of"),
                         ("5-2", "positions run from 1")):
        assert main(base + ["--layers", bad]) == 2
        assert message in capsys.readouterr().err
