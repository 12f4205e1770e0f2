"""``mapper schedule``: outputs, and one-line errors (exit 2) for every kind of bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mapper.cli import main

DATA = Path(__file__).parent / "data"
SMALL = str(DATA / "small_instance.csv")


def test_schedule_writes_csv_summary_and_gantt(tmp_path):
    out = tmp_path / "o"
    assert main(["schedule", SMALL, "--cores", "magma3", "--dram-bw", "1", "--budget", "200",
                 "--seed", "1", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "schedule.csv")))
    assert list(rows[0]) == ["job", "core", "order", "start", "end"] and len(rows) == 24
    s = json.loads((out / "summary.json").read_text())
    assert s["makespan_cycles"] == pytest.approx(max(float(r["end"]) for r in rows))
    assert s["setting"] == "magma3" and s["dram_bw"] == 1.0 and s["budget"] == 200
    assert s["strategy"] == "hybrid" and s["seed"] == 1 and s["cost_model"] == "maestro"
    assert s["energy_nj"] > 0 and (out / "gantt.png").stat().st_size > 1000
    table = list(csv.DictReader(open(out / "job_table.csv")))
    assert len(table) == 24 * 4 and list(table[0]) == [
        "job", "core", "latency_cycles", "bw_elems_per_cycle", "energy_nj", "cluster"]
    for r in rows:  # each job's run on its core is at least its latency there
        (t,) = [t for t in table if t["job"] == r["job"] and t["core"] == r["core"]]
        assert float(r["end"]) - float(r["start"]) >= float(t["latency_cycles"]) * (1 - 1e-12)
    for c in {r["core"] for r in rows}:  # queue positions 0..n-1 run back to back
        q = sorted((int(r["order"]), float(r["start"]), float(r["end"])) for r in rows
                   if r["core"] == c)
        assert [o for o, _, _ in q] == list(range(len(q)))
        assert all(a[2] == pytest.approx(b[1]) for a, b in zip(q, q[1:]))


def _err(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err


def test_malformed_instance_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,1,64,64,14,14,3,3,1\n1,2,64,64,14,x,3,3,1\n")
    err = _err(["schedule", str(bad), "--cores", "magma3", "--dram-bw", "1", "--out",
                str(tmp_path / "o")], capsys)
    assert f"{bad}:2: column 6 (d4): 'x' is not a number" in err


@pytest.mark.parametrize("text, message", [
    ("1,1,64,64,14,14,3,3\n", ":1: expected 9 columns"),
    ("1,1,64,64,14,14,3,3,1\n1,1,64,64.5,14,14,3,3,1\n",
     ":2: column 4 (d2): '64.5' is not an integer"),
    ("1,1,64,64,14,14,3,3,9\n", ":1: unknown job type 9"),
    ("\n\n", ": no jobs in instance file"),
    ("1,1,64,64,2,2,3,3,1\n", ":1: filter 3x3 larger than input 2x2"),
])
def test_each_kind_of_malformed_instance(tmp_path, capsys, text, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    err = _err(["schedule", str(bad), "--cores", "magma3", "--dram-bw", "1", "--out",
                str(tmp_path / "o")], capsys)
    assert f"{bad}{message}" in err


@pytest.mark.parametrize("text, message", [
    ("cores:\n  - {num_pes: abc}\n", "core 1: num_pes must be a positive integer, got 'abc'"),
    ("cores:\n  - {num_pes: 64, count: 0}\n", "core 1: count must be a positive integer"),
    ("cores: [ {num_pes: 64\n", "cannot parse core setting"),
    ("cores:\n  - {num_pes: 64, hw: nosuch.m}\n", "hw 'nosuch.m' is neither a hardware preset"),
    ("cores:\n  - {num_pes: 64, style: tpu}\n", "core 1: unknown style 'tpu'"),
])
def test_bad_core_file_names_the_file(tmp_path, capsys, text, message):
    cores = tmp_path / "cores.yaml"
    cores.write_text(text)
    err = _err(["schedule", SMALL, "--cores", str(cores), "--dram-bw", "1", "--out",
                str(tmp_path / "o")], capsys)
    assert str(cores) in err and message in err


def test_core_file_takes_hardware_presets_and_files(tmp_path):
    from mapper.scheduling.cores import load_setting_file

    hw = tmp_path / "hw.yaml"
    hw.write_text("num_pes: 256\nl1_size: 512\nl2_size: 1048576\nnoc_bw: 256\noffchip_bw: 64\n")
    cores = tmp_path / "cores.yaml"
    cores.write_text("cores:\n  - {hw: edge-npu, style: shi}\n"
                     "  - {hw: hw.yaml, num_pes: 128, count: 2}\n")
    s = load_setting_file(cores)
    assert [c.label() for c in s.cores] == ["shi1024", "dla128", "dla128"]
    assert s.cores[1].hw().offchip_bw == 64 and s.cores[1].hw().num_pes == 128


def test_out_that_is_a_file_fails_before_the_search(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("")
    err = _err(["schedule", SMALL, "--cores", "magma3", "--dram-bw", "1", "--out", str(f)],
               capsys)
    assert "is not a directory" in err


def test_job_names_are_unique(tmp_path):
    from mapper.scheduling.workload import load_instance_csv, load_models

    inst = tmp_path / "rep.csv"
    inst.write_text("1,1,64,64,14,14,3,3,1\n1,1,64,64,14,14,3,3,1\n")
    assert [j.name for j in load_instance_csv(inst)] == ["net1/L1/row1", "net1/L1/row2"]
    names = [j.name for j in load_models("bert_base:2")]
    assert len(names) == len(set(names)) == 60
    assert "bert_base#1/ATTN_SCORE[11]" in names


def test_schedule_csv_has_one_row_per_job_with_unique_names(tmp_path):
    inst = tmp_path / "rep.csv"
    inst.write_text("1,1,64,64,14,14,3,3,1\n" * 3 + "1,2,32,16,1,1,1,1,0\n")
    out = tmp_path / "o"
    assert main(["schedule", str(inst), "--cores", "magma3", "--dram-bw", "1", "--budget",
                 "50", "--out", str(out), "--no-plot", "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "schedule.csv")))
    assert [r["job"] for r in rows] == ["net1/L1/row1", "net1/L1/row2", "net1/L1/row3",
                                        "net1/L2/row4"]


def test_highs_output_stays_off_stdout(capfd):
    import os

    from mapper.scheduling.heuristics import _quiet_stdout

    with _quiet_stdout():
        os.write(1, b"HighsMipSolverData::noise\n")
    print("after")
    assert capfd.readouterr().out == "after\n"


def test_unknown_setting_and_bad_bandwidth(tmp_path, capsys):
    o = str(tmp_path / "o")
    assert "magma42" in _err(["schedule", SMALL, "--cores", "magma42", "--dram-bw", "1",
                              "--out", o], capsys)
    for bw in ("0", "-3"):
        err = _err(["schedule", SMALL, "--cores", "magma3", "--dram-bw", bw, "--out", o], capsys)
        assert "--dram-bw (off-chip bandwidth) must be a positive" in err
    err = _err(["schedule", SMALL, "--cores", "magma3", "--dram-bw", "1", "--budget", "0",
                "--out", o], capsys)
    assert "--budget must be a positive" in err


def test_job_that_fits_no_core(tmp_path, capsys):
    cores = tmp_path / "tiny.yaml"
    cores.write_text("cores:\n  - {num_pes: 16, style: dla, cluster: 64, count: 2}\n")
    inst = tmp_path / "one.csv"
    inst.write_text("1,1,64,64,14,14,3,3,1\n")
    err = _err(["schedule", str(inst), "--cores", str(cores), "--dram-bw", "1", "--out",
                str(tmp_path / "o")], capsys)
    assert f"{inst}:1" in err and "fits no core" in err


def test_time_limit_stops_the_search_before_the_budget(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["schedule", "resnet50:2,bert_base", "--cores", "magma6", "--dram-bw", "4",
                 "--budget", "1000000", "--time-limit", "0.5", "--out", str(out), "--no-plot",
                 "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert 0 < s["evaluations"] < 1000000 and s["time_limit"] == 0.5
    assert main(["schedule", SMALL, "--cores", "magma3", "--dram-bw", "1", "--time-limit",
                 "0", "--out", str(out)]) == 2
    assert "--time-limit" in capsys.readouterr().err


def test_model_files_mix_with_bundled_models(tmp_path):
    from mapper.scheduling.workload import load_workload

    net = tmp_path / "mine.yaml"
    net.write_text("name: Mine\nlayers:\n"
                   "  - {name: G, type: GEMM, dims: {M: 64, N: 32, K: 16}, count: 2}\n"
                   "  - {name: C, type: CONV, dims: {K: 8, C: 4, Y: 10, X: 10, R: 3, S: 3}}\n")
    assert [j.name for j in load_workload(str(net))] == ["mine#0/G[0]", "mine#0/G[1]",
                                                          "mine#0/C"]
    jobs = load_workload(f"{net}:2,gemm_example")
    assert len(jobs) == 7 and jobs[-1].name == "gemm_example#0/BLAS"
    out = tmp_path / "o"
    assert main(["schedule", str(net), "--cores", "magma3", "--dram-bw", "1", "--budget", "50",
                 "--out", str(out), "--no-plot", "--quiet"]) == 0


def test_a_gamma_model_table_is_a_model_not_an_instance_file(tmp_path):
    from mapper.scheduling.workload import load_workload

    table = tmp_path / "tiny.csv"
    table.write_text("K,C,Y,X,R,S,T\n16,8,10,10,3,3,1\n32,64,4,1,1,1,3\n")
    assert [j.name for j in load_workload(str(table))] == ["tiny#0/L1", "tiny#0/L2"]
    assert [j.name for j in load_workload(f"{table}:2")][-1] == "tiny#1/L2"
    inst = tmp_path / "inst.csv"
    inst.write_text("1,1,64,64,14,14,3,3,1\n")
    assert [j.name for j in load_workload(str(inst))] == ["net1/L1/row1"]
