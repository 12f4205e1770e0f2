"""The whole comparison (``mapper.comparison.harness.compare``): outputs, resume, CLI."""

from __future__ import annotations

import csv

from mapper.cli import build_parser, main
from mapper.comparison import harness as cmp

from .common import HW, TINY


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
