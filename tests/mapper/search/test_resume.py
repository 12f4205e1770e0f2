"""Interrupted searches resume from their saved state and end with the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from costmodel import Hardware, Layer, Network
from mapper.search.evaluator import Evaluator
from mapper.search.loop import run_search
from mapper.search.strategies import make_strategy
from search_spaces import MappingSpace

LAYER = Layer("c", "CONV", dict(K=32, C=32, R=3, S=3, Y=16, X=16))
HW = Hardware(num_pes=64, l1_size=512, l2_size=50000, noc_bw=32, offchip_bw=32)


def _search(state_file=None, stop_after=None, prune=False):
    sp = MappingSpace(LAYER, HW)
    calls = {"n": 0}

    def progress(evals, best):
        calls["n"] += 1
        if stop_after is not None and calls["n"] > stop_after:
            raise KeyboardInterrupt

    return run_search(sp, make_strategy("ga", sp, seed=9), Evaluator(sp, prune=prune),
                      budget=12000,
                      progress=progress, state_file=state_file, save_every=0.0)


@pytest.mark.parametrize("prune", [False, True])
def test_interrupted_search_resumes_to_the_same_result(tmp_path, prune):
    full = _search(prune=prune)
    state = tmp_path / "layer.state"
    with pytest.raises(KeyboardInterrupt):
        _search(state, stop_after=4, prune=prune)
    assert state.exists()
    resumed = _search(state, prune=prune)
    assert resumed.evaluations == full.evaluations
    assert resumed.best_fitness == full.best_fitness
    assert str(resumed.dataflow) == str(full.dataflow)


def test_killed_tune_process_resumes(tmp_path):
    """SIGKILL a running ``mapper tune`` and run the same command again."""
    from costmodel.io import save_network

    net = Network("n", [Layer(f"l{i}", "CONV", dict(K=16 * (i + 1), C=32, R=3, S=3, Y=20,
                                                      X=20)) for i in range(4)])
    model = tmp_path / "m.yaml"
    save_network(net, model)

    def cmd(out):
        return [sys.executable, "-m", "mapper", "tune", str(model), "--hw", "edge168",
                "--budget", "1200", "--out", str(out), "--no-plots", "--quiet"]

    ref_out, out = tmp_path / "ref", tmp_path / "run"
    subprocess.run(cmd(ref_out), check=True, capture_output=True)
    p = subprocess.Popen(cmd(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    ck = out / ".checkpoint"
    while time.time() < deadline and not (ck.exists() and any(ck.iterdir())):
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    subprocess.run(cmd(out), check=True, capture_output=True)
    assert (out / "mappings.m").read_text() == (ref_out / "mappings.m").read_text()
