"""The MAGMA comparison's report: per-setting table in MAGMA's numeric order, paired A12."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "vs_magma.py"


def _module():
    spec = importlib.util.spec_from_file_location("vs_magma", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(setting, bw, ours, magma=10.0, inst="batch_conv/insts0"):
    return {"instance": inst, "setting": setting, "dram_bw": bw, "seed": "0",
            "magma_makespan": magma, "ours_makespan": ours, "ratio": ours / magma}


def test_per_setting_table_is_in_numeric_order_with_paired_a12():
    v = _module()
    text = v.summarise([_row("magma10", "1.0", 9.0), _row("magma3", "8.0", 10.0),
                        _row("magma3", "1.0", 11.0), _row("magma10", "1.0", 12.0)])
    part = text.split("## Per core setting")[1].split("## Per group")[0]
    rows = [ln for ln in part.splitlines() if ln.startswith("| magma")]
    assert [r.split(" | ")[0:2] for r in rows] == [["| magma3", "1.0"], ["| magma3", "8.0"],
                                                    ["| magma10", "1.0"]]
    assert rows[2].endswith("| 0.50 |")  # one win, one loss
    assert rows[1].endswith("| 0.50 |")  # a tie counts half
    assert "runs at or below MAGMA: 2/4 strictly" in text


def test_rounding_ties_and_run_selection():
    v = _module()
    m = 2384565.4617226413
    text = v.summarise([_row("magma1", "8.0", m + 2 * 4.66e-10, m),
                        _row("magma1", "8.0", m * (1 + 1e-9), m, inst="batch_conv/insts3")])
    assert "0/2 strictly, 1/2 within floating-point rounding" in text
    assert "held-out runs at or below: 0/1" in text
    rows = [{"instance": i, "setting": s, "dram_bw": b, "seed": d}
            for i, s, b, d in (("batch_conv/insts0", "magma10", "1.0", "1"),
                               ("batch_conv/insts0", "magma1", "1.0", "1"),
                               ("batch_lang/insts0", "magma10", "8.0", "0"))]
    assert v.select(rows, ["batch_conv/insts0:magma10:1:1"]) == rows[:1]
    assert v.select(rows, [":magma10"]) == [rows[0], rows[2]]
    assert v.select(rows, ["conv::1"]) == rows[:2]
    assert v.select(rows, None) == rows
