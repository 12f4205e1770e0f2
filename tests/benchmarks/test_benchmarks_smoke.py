"""Smoke tests: the benchmark scripts run end to end at their smallest settings."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from mapper.search.strategies import STRATEGIES

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
# ResNet-50 CONV1 on edge168: 881,375 cycles, but flagged inconsistent (too few busy PEs)
FLAGGED = ("TemporalMap(3,3) C; TemporalMap(7,2) X; TemporalMap(7,7) S; SpatialMap(115,110) Y; "
           "TemporalMap(7,7) R; SpatialMap(32,32) K; Cluster(57,P); TemporalMap(1,1) C; "
           "TemporalMap(7,2) Y; TemporalMap(7,2) X; SpatialMap(1,1) K; TemporalMap(7,7) S; "
           "TemporalMap(7,7) R")
# a valid mapping of ResNet-50 CONV4_2_1 on edge168 in GAMMA's output: 351,681 cycles
GAMMA_CONV4_2_1 = ("TemporalMap(4,4) K; SpatialMap(8,8) C; TemporalMap(1,1) R; "
                   "TemporalMap(1,1) S; TemporalMap(14,14) Y; TemporalMap(14,14) X; Cluster(8,P); "
                   "SpatialMap(1,1) C; TemporalMap(1,1) K; TemporalMap(1,1) R; "
                   "TemporalMap(1,1) S; TemporalMap(14,14) Y; TemporalMap(14,14) X")


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_compare_strategies_quick(tmp_path):
    out = _run(str(BENCH / "compare_strategies.py"), "--quick", "--layers", "2", "--budget",
               "100", "--time-limit", "0.3", "--hw", "edge168", "--pareto-budget", "200",
               "--jobs", "2", "--quiet", "--out", str(tmp_path))
    assert "mode budget:" in out and "mode time:" in out
    rows = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert {(r["mode"], r["strategy"]) for r in rows} == {
        (m, s) for m in ("budget", "time") for s in STRATEGIES}
    assert len(rows) == 2 * len(STRATEGIES) * 2  # modes x strategies x layers (1 hw, 1 seed)
    assert all(int(r["evaluations"]) <= 100 for r in rows if r["mode"] == "budget")
    summary = (tmp_path / "summary.md").read_text()
    assert "## Mode `budget`" in summary and "## Mode `time`" in summary
    for f in ("convergence_evals.png", "convergence_seconds.png", "pareto.png"):
        assert (tmp_path / f).stat().st_size > 1000


def test_tune_speed_quick():
    out = _run(str(BENCH / "tune_speed.py"), "--quick", "--budget", "50")
    assert "## Whole-model tuning" in out and "## evaluate_batch throughput" in out
    assert "physical cost model" in out  # mapper tune's default, named in the header
    assert "| 1 |" in out and "| 2 |" in out and "| 10,000 |" in out


def test_tune_quality_tiny(tmp_path):
    known = tmp_path / "known.csv"
    one = ("TemporalMap(1,1) K; TemporalMap(7,2) X; TemporalMap(7,7) R; TemporalMap(2,2) C; "
           "SpatialMap(7,2) Y; TemporalMap(7,7) S")  # valid, 1,025,473 cycles
    with known.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "layer", "best_latency", "best_dataflow"])
        w.writerow(["resnet50", "CONV1", 1, ""])  # no mapping to check: ignored
        w.writerow(["resnet50", "CONV1", 881375, FLAGGED])  # no longer valid: ignored
        w.writerow(["resnet50", "CONV1", 5, one])  # re-evaluated: 1,025,473
    out_csv = tmp_path / "q.csv"
    proc = subprocess.run([sys.executable, str(BENCH / "tune_quality.py"), "--models",
                           "resnet50", "--limit", "2", "--budget", "200", "--factor", "2",
                           "--ref-strategies", "random", "--jobs", "1", "--known", str(known),
                           "--out", str(out_csv)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "layers: 2" in proc.stdout
    assert "no stored dataflow" in proc.stderr and "no longer valid" in proc.stderr
    rows = {r["layer"]: r for r in csv.DictReader(out_csv.open())}
    assert set(rows) == {"CONV1", "CONV2_1_1"}
    assert float(rows["CONV1"]["ref_known"]) == 1_025_473
    assert float(rows["CONV1"]["best_latency"]) <= 1_025_473
    r = rows["CONV2_1_1"]
    assert float(r["best_latency"]) == min(float(r["default_latency"]),
                                           float(r["ref_random_x2_0"]))
    assert r["best_dataflow"] and r["ref_known"] == ""


def test_vs_gamma_tiny(tmp_path):
    gamma = tmp_path / "gamma.csv"
    with gamma.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["layer", "seed", "maestro_calls", "best_runtime_maestro", "wall_seconds",
                    "best_dataflow"])
        w.writerow(["CONV4_2_1", 1, 3580, 351681, 118.9, GAMMA_CONV4_2_1])
        # MAESTRO runtime 351,680: disagrees with our model
        w.writerow(["CONV4_2_1", 2, 3600, 351680, 120.0, GAMMA_CONV4_2_1])
        w.writerow(["CONV1", 1, 4011, 881375, 200.0, FLAGGED])
    out, summary = tmp_path / "ours.csv", tmp_path / "summary.md"
    args = [sys.executable, str(BENCH / "vs_gamma.py"), "--gamma", str(gamma), "--seeds", "2",
            "--budget", "60", "--default-budget", "120", "--out", str(out), "--summary",
            str(summary)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "our runtime 351681 differs from MAESTRO's 351680" in proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * 2 * 2  # layers x settings x seeds
    assert all(int(r["evaluations"]) <= int(r["budget"]) for r in rows)
    table = summary.read_text()
    conv4 = next(line for line in table.splitlines() if line.startswith("| CONV4_2_1 |"))
    # the run whose runtime disagrees counts as no result
    assert "351,681 / 351,681 / 351,681 (1 flagged)" in conv4 and " 3,590 | 119 | 60 |" in conv4
    conv1 = next(line for line in table.splitlines() if line.startswith("| CONV1 |"))
    assert "| - (1 flagged) |" in conv1  # no valid GAMMA run left to compare with
    gamma.write_text(gamma.read_text().replace("CONV1,", "CONV99,"))
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "gamma.csv:4: unknown layer 'CONV99'" in proc.stderr
    # equal evaluations by default: the mean of GAMMA's calls on the layer
    rows = gamma.read_text().splitlines()[:3]
    gamma.write_text("\n".join([rows[0], rows[1].replace(",3580,", ",80,"),
                                rows[2].replace(",3600,", ",101,")]) + "\n")
    proc = subprocess.run(args[:4] + ["--seeds", "1", "--skip-default"] + args[10:],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [(r["setting"], r["budget"]) for r in csv.DictReader(out.open())] == [("equal", "90")]
    assert "| 90 | 119 | 90 | " in summary.read_text()  # GAMMA calls, its seconds, ours


def test_small_budget_tiny(tmp_path):
    known = tmp_path / "known.csv"
    with known.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "layer", "best_latency", "best_dataflow"])
        w.writerow(["resnet50", "CONV4_5_1", 1, GAMMA_CONV4_2_1])  # same shape as CONV4_2_1
    args = [sys.executable, str(BENCH / "small_budget.py"), "--layers",
            "resnet50:CONV4_2_1,CONV2_1_1", "--seeds", "2", "--budget", "60", "--known",
            str(known)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resnet50 CONV4_2_1: best-known 351,681, mean ratio " in proc.stdout
    assert "resnet50 CONV2_1_1: no valid stored mapping of this shape; skipped" in proc.stderr
    assert "budget 60, seeds 0-1: " in proc.stdout and "/2 runs within 1%" in proc.stdout
    args[3] = "resnet50:CONV9_9_9"
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "resnet50 has no layer 'CONV9_9_9'" in proc.stderr


def test_vs_gamma_qualified_layers():
    sys.path.insert(0, str(BENCH))
    try:
        from vs_gamma import resolve_layer
    finally:
        sys.path.remove(str(BENCH))
    assert resolve_layer("resnet18/CONV2_1_1", {}).dims["K"] == 64
    conv = resolve_layer("bert_base/FFN1@conv", {})  # GAMMA's CONV form of a GEMM
    assert conv.type == "CONV"
    assert conv.dims == {"K": 3072, "C": 768, "R": 1, "S": 1, "Y": 512, "X": 1}
    assert resolve_layer("resnet18/CONV2_1_1@conv", {}) is None  # only GEMMs have that form
    assert resolve_layer("resnet18/NOPE", {}) is None and resolve_layer("NOPE", {}) is None


def test_stop_gap_replay():
    out = _run(str(BENCH / "stop_gap.py"), "--layers", "FC1000", "--budget", "1200",
               "--gaps", "0.5")
    row = next(x for x in out.splitlines() if x.startswith("| FC1000"))
    assert "12,191" in row  # the compute bound: 1000 x 2048 MACs over 168 PEs
    assert "gap 0.5:" in out and "no gap:" in out


def test_costmodel_throughput_quick_ends_with_the_regimes():
    out = _run(str(BENCH / "costmodel_throughput.py"), "--quick", "--cost-model", "maestro",
               "--candidates", "50")
    last = out.strip().splitlines()[-5:]
    assert [x.split(":")[0].split(" (")[0] for x in last] == [
        "regime GA's own batches", "regime sparse", "regime single", "regime GA-sized",
        "regime large"]
    assert all("/s" in x for x in last)


def test_check_floor_small_draw():
    out = _run(str(BENCH / "check_floor.py"), "--layers", "5", "--samples", "40")
    last = out.strip().splitlines()[-1]
    assert last.startswith("valid runtimes: ") and "below the floor: 0," in last
    assert int(last.split(":")[1].split(",")[0]) > 0  # some mappings were valid
    assert sum(line.startswith("narrow") for line in out.splitlines()) == 1
