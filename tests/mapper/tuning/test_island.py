"""One island as a worker runs it: the strategy's options, pruning and where it resumes."""

from __future__ import annotations

import pytest

import mapper.tuning.island as island
from costmodel import Hardware, Layer
from mapper.tuning.island import _storage_params, run_island
from mapper.tuning.plan import IslandTask
from mapper.tuning.settings import TuneSettings

LAYER = Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10))
HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


def _task(tmp_path=None, **settings) -> IslandTask:
    s = TuneSettings(**{"budget": 300, **settings})
    return IslandTask(LAYER, HW, s, 0, 7, s.budget,
                      state_file=None if tmp_path is None else tmp_path / "l.state")


@pytest.mark.parametrize("settings, prunes", [
    ({}, True), ({"prune": False}, False), ({"pareto": True}, False),
    ({"strategy": "random"}, False), ({"objective": "energy"}, False)])
def test_pruning_needs_a_strategy_that_prunes_and_no_front(monkeypatch, settings, prunes):
    seen = []
    real = island.Evaluator

    def spy(*args, **kwargs):
        ev = real(*args, **kwargs)
        seen.append(ev.prune)
        return ev
    monkeypatch.setattr(island, "Evaluator", spy)
    r = run_island(_task(**settings))
    assert seen == [prunes] and r.evaluations <= 300


def test_a_state_file_resumes_the_island(tmp_path):
    t = _task(tmp_path)
    first = run_island(t)
    assert t.state_file.exists()
    again = run_island(t)  # the saved search is complete: the same result at once
    assert again.evaluations == first.evaluations and again.best_fitness == first.best_fitness


def test_storage_strategies_get_a_study_beside_the_state_file_or_the_shared_one(tmp_path):
    own = _storage_params(_task(tmp_path, strategy="tpe"))
    assert own["storage"] == f"sqlite:///{tmp_path / 'l.optuna.db'}"
    assert own["shared"] is False and own["max_trials"] is None
    assert own["study_name"].startswith("a-")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    shared = _storage_params(_task(tmp_path, strategy="tpe", storage=url))
    assert shared["storage"] == url and shared["shared"] and shared["max_trials"] == 300
    assert _storage_params(_task(None, strategy="tpe")) == {}


def test_a_worker_runs_an_island_without_the_slow_optional_imports():
    # every search worker process imports this module and runs islands: scipy (0.15 s for
    # scipy.special alone), Optuna, pandas or matplotlib there would add their import time
    # to every tune's start-up on every worker
    import subprocess
    import sys
    code = ("import sys\n"
            "from costmodel import Hardware, Layer\n"
            "from mapper.tuning.island import run_island\n"
            "from mapper.tuning.plan import IslandTask\n"
            "from mapper.tuning.settings import TuneSettings\n"
            "s = TuneSettings(budget=300)\n"
            "run_island(IslandTask(Layer('a', 'CONV', dict(K=16, C=8, R=3, S=3, Y=10, X=10)),"
            " Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32),"
            " s, 0, 7, s.budget, state_file=None))\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert "numpy" in out and "costmodel" in out
    assert not {"scipy", "optuna", "pandas", "matplotlib"} & set(out)
