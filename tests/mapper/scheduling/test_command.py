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
    assert f"{bad}:2" in err and "non-numeric" in err


def test_unknown_setting_and_bad_bandwidth(tmp_path, capsys):
    o = str(tmp_path / "o")
    assert "magma42" in _err(["schedule", SMALL, "--cores", "magma42", "--dram-bw", "1",
                              "--out", o], capsys)
    for bw in ("0", "-3"):
        assert "bandwidth must be positive" in _err(
            ["schedule", SMALL, "--cores", "magma3", "--dram-bw", bw, "--out", o], capsys)


def test_job_that_fits_no_core(tmp_path, capsys):
    cores = tmp_path / "tiny.yaml"
    cores.write_text("cores:\n  - {num_pes: 16, style: dla, cluster: 64, count: 2}\n")
    inst = tmp_path / "one.csv"
    inst.write_text("1,1,64,64,14,14,3,3,1\n")
    err = _err(["schedule", str(inst), "--cores", str(cores), "--dram-bw", "1", "--out",
                str(tmp_path / "o")], capsys)
    assert f"{inst}:1" in err and "fits no core" in err
