"""Result files: counts explained, units in headers, resource warnings, no stale artefacts."""

from __future__ import annotations

import csv
import json

from costmodel import Hardware, Layer, Network
from costmodel.io import load_mapping
from mapper.tuning.results import resource_warnings, write_results
from mapper.tuning.tuner import TuneSettings, tune_model

NET = Network("n", [Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10)),
                    Layer("b", "GEMM", dict(M=16, N=32, K=64))])


def _result(hw: Hardware, counts: dict | None = None):
    net = Network(NET.name, list(NET.layers))
    if counts:
        net.counts = counts  # as a zoo model's per-layer instance counts
    return tune_model(net, hw, TuneSettings(budget=100, jobs=1))


def test_counts_in_mappings_and_totals_explained(tmp_path):
    hw = Hardware(num_pes=64, l1_size=512, l2_size=65536, noc_bw=64, offchip_bw=64)
    res = _result(hw, {"b": 12})
    summary = write_results(res, tmp_path, plots=False)
    text = (tmp_path / "mappings.m").read_text()
    assert "// count: 12 identical instances" in text
    assert [x.name for x in load_mapping(tmp_path / "mappings.m").layers] == ["a", "b"]
    assert summary["totals"]["instances"] == 13 and "count" in summary["notes"]["totals"]
    rows = list(csv.DictReader((tmp_path / "report.csv").open()))
    assert float(rows[0]["area_um2"]) > 0 and float(rows[0]["power_mw"]) > 0  # NoC 64


def test_mappings_m_runs_under_maestro_and_reproduces_the_physical_report(tmp_path):
    """mappings.m of a physical tune has no L2Resident directive (MAESTRO rejects it): the
    chosen residency is a comment, and the file gives report.csv's runtimes again."""
    from costmodel.analysis import evaluate

    hw = Hardware(num_pes=64, l1_size=512, l2_size=65536, noc_bw=64, offchip_bw=4)
    res = _result(hw)
    write_results(res, tmp_path, plots=False)
    text = (tmp_path / "mappings.m").read_text()
    assert "// L2Resident(" in text
    assert not [x for x in text.splitlines() if x.strip().startswith("L2Resident")]
    rows = {r["layer"]: r for r in csv.DictReader((tmp_path / "report.csv").open())}
    for layer in load_mapping(tmp_path / "mappings.m").layers:
        evaluate(layer, hw)  # parses and runs under MAESTRO's model
        rep = evaluate(layer, hw, cost_model="physical")
        assert rep.runtime == int(rows[layer.name]["runtime"])
        assert rep.l2_resident == int(rows[layer.name]["l2_resident"])


def test_hardware_yaml_holds_what_hardware_m_cannot(tmp_path):
    """SIMD lanes and DRAM latency have no MAESTRO key: hardware.m names them in a comment and
    hardware.yaml holds them, so mappings.m with it gives report.csv's runtimes again."""
    from costmodel.analysis import evaluate
    from costmodel.io import load_hardware, load_hardware_any

    hw = Hardware(num_pes=64, l1_size=512, l2_size=65536, noc_bw=64, offchip_bw=4,
                  simd_lanes=4, offchip_latency=100)
    res = _result(hw)
    write_results(res, tmp_path, plots=False)
    assert load_hardware_any(tmp_path / "hardware.yaml") == hw
    text = (tmp_path / "hardware.m").read_text()
    assert "simd_lanes 4" in text and "offchip_latency 100" in text
    assert load_hardware(tmp_path / "hardware.m").simd_lanes == 1  # MAESTRO's keys only
    rows = {r["layer"]: r for r in csv.DictReader((tmp_path / "report.csv").open())}
    for layer in load_mapping(tmp_path / "mappings.m").layers:
        rep = evaluate(layer, load_hardware_any(tmp_path / "hardware.yaml"),
                       cost_model="physical")
        assert rep.runtime == int(rows[layer.name]["runtime"])


def test_area_left_empty_on_an_unconstrained_noc(tmp_path):
    res = _result(Hardware(num_pes=64, l1_size=512, l2_size=65536, noc_bw=81920000,
                           offchip_bw=81920000))
    summary = write_results(res, tmp_path, plots=False)
    rows = list(csv.DictReader((tmp_path / "report.csv").open()))
    assert rows[0]["area_um2"] == "" and rows[0]["power_mw"] == ""
    assert "unconstrained" in summary["notes"]["area_power"]


def test_offchip_warning_as_in_evaluate(tmp_path):
    hw = Hardware(num_pes=64, l1_size=512, l2_size=65536, noc_bw=64, offchip_bw=1)
    res = _result(hw)
    summary = write_results(res, tmp_path, plots=False)
    w = resource_warnings([r.report for r in res.layers], hw)
    assert any("off-chip bandwidth requirement" in x for x in w)
    assert json.loads((tmp_path / "summary.json").read_text())["warnings"] == w == \
        summary["warnings"]


def test_stale_plots_removed(tmp_path):
    hw = Hardware(num_pes=64, l1_size=512, l2_size=65536, noc_bw=64, offchip_bw=64)
    res = _result(hw)
    write_results(res, tmp_path, plots=True)
    assert (tmp_path / "layers.png").exists() and (tmp_path / "convergence.png").exists()
    (tmp_path / "pareto.csv").write_text("old\n")
    write_results(res, tmp_path, plots=False)
    assert not any((tmp_path / f).exists() for f in ("layers.png", "convergence.png",
                                                     "pareto.csv"))
