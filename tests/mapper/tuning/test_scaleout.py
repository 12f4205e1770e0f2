"""Scale-out: a Dask cluster gives the local result; Optuna studies persist in a storage."""

from __future__ import annotations

import pytest

from costmodel import Hardware, Layer, Network
from mapper.tuning.tuner import TuneSettings, tune_layer, tune_model

NET = Network("n", [Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10)),
                    Layer("b", "GEMM", dict(M=8, N=32, K=64))])
HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


def test_dask_backend_matches_local():
    distributed = pytest.importorskip("distributed")
    local = tune_model(NET, HW, TuneSettings(budget=300, seed=4, jobs=2))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        s = TuneSettings(budget=300, seed=4, jobs=2, backend="dask",
                         scheduler=cluster.scheduler_address)
        remote = tune_model(NET, HW, s)
    assert [str(r.layer.dataflow) for r in remote.layers] == \
        [str(r.layer.dataflow) for r in local.layers]


def test_optuna_trials_persist_and_are_reused(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    s = TuneSettings(strategy="tpe", budget=40, seed=1, storage=storage)
    first = tune_layer(NET.layers[0], HW, s, state_file=tmp_path / "x.state")
    assert first.evaluations == 40
    # a second worker on the same study: finds the 40 trials and adds nothing past the budget
    again = tune_layer(NET.layers[0], HW, s, state_file=tmp_path / "x.state")
    assert again.evaluations == 40 and again.best_fitness == first.best_fitness
    import optuna

    studies = optuna.get_all_study_summaries(storage)
    assert len(studies) == 1 and studies[0].n_trials == 40
