"""Many ``mapper tune`` workers share one Optuna study per layer in a PostgreSQL database.

The server comes from the ``pgserver`` package (a PostgreSQL build shipped as a wheel, in the
``dev`` extra), so the test needs no system PostgreSQL. It fails, never skips, when the server
cannot start.
"""

from __future__ import annotations

import collections
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

from costmodel import Layer, Network
from costmodel.io import load_mapping, save_network

NET = Network("two", [Layer("a", "CONV", dict(K=32, C=16, R=3, S=3, Y=14, X=14)),
                      Layer("b", "CONV", dict(K=64, C=32, R=1, S=1, Y=14, X=14))])
BUDGET = 40
WORKERS = 2


@pytest.fixture
def postgres_url():
    """A throw-away PostgreSQL server; yields an SQLAlchemy URL for Optuna (psycopg2)."""
    try:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set"
            warnings.simplefilter("ignore")
            import pgserver
        import psycopg2  # noqa: F401  (the driver SQLAlchemy uses for postgresql:// URLs)
    except ImportError as e:
        pytest.fail(f"PostgreSQL storage test needs the dev extra (pgserver, psycopg2-binary): "
                    f"pip install -e '.[dev]' ({e})")
    # a short path outside pytest's private tmp tree: pgserver runs the server as a separate
    # system user when we are root, and a unix socket path must stay short
    root = Path(tempfile.mkdtemp(prefix="mapper-pg-"))
    try:
        try:
            server = pgserver.get_server(root / "data", cleanup_mode="delete")
        except Exception as e:  # noqa: BLE001  (any start failure must fail the test)
            log = root / "data" / "log"
            pytest.fail(f"could not start PostgreSQL from pgserver: {e!r}\n"
                        + (log.read_text() if log.exists() else ""))
        with server:
            # a throw-away cluster: no need to wait for the disk at each commit and at shutdown
            server.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;"
                        " SELECT pg_reload_conf(); CREATE DATABASE mapper;")
            uri = server.get_uri("mapper")  # postgresql://postgres:@/mapper?host=/socket/dir
            yield uri.replace("postgresql://", "postgresql+psycopg2://", 1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_concurrent_workers_share_one_study_per_layer(tmp_path, postgres_url):
    import optuna

    model = tmp_path / "two.yaml"
    save_network(NET, model)

    def worker(k):
        return subprocess.Popen(
            [sys.executable, "-m", "mapper", "tune", str(model), "--strategy", "tpe",
             "--budget", str(BUDGET), "--seed", "0", "--storage", postgres_url, "--jobs", "1",
             "--out", str(tmp_path / f"w{k}"), "--no-plots", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    # started together on an empty database: they also race to create Optuna's tables
    procs = [worker(k) for k in range(WORKERS)]
    for k, p in enumerate(procs):
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, f"worker {k} failed:\n{out}"

    studies = optuna.get_all_study_summaries(postgres_url)
    assert len(studies) == len(NET.layers)  # one study per layer, shared by all workers
    best = {}
    for s in studies:
        trials = optuna.load_study(study_name=s.study_name, storage=postgres_url).trials
        states = collections.Counter(t.state.name for t in trials)
        # the budget caps the study, not each worker: BUDGET trials in all, not WORKERS x
        assert states["COMPLETE"] == BUDGET, (s.study_name, states)
        assert states["FAIL"] <= WORKERS and states["RUNNING"] == 0, states  # surplus claims
        done = [t for t in trials if t.state.name == "COMPLETE"]
        by_worker = collections.Counter(t.user_attrs["worker"] for t in done)
        assert len(by_worker) == WORKERS, by_worker  # every worker ran trials of this study
        # workers started with the same seed still propose different mappings (identical
        # sampler seeds would repeat about half of the random start-up trials)
        assert len({tuple(sorted(t.params.items())) for t in done}) >= BUDGET - 2
        best[s.study_name.split("-")[0]] = min(t.value for t in done)

    # every worker reports the study's best mapping of each layer, as a valid mappings.m
    for k in range(WORKERS):
        out = tmp_path / f"w{k}"
        net = load_mapping(out / "mappings.m")
        assert [layer.name for layer in net.layers] == ["a", "b"]
        assert all(layer.dataflow is not None for layer in net.layers)
        rows = list(csv.DictReader((out / "report.csv").open()))
        assert [r["valid"] for r in rows] == ["True", "True"]
        totals = json.loads((out / "summary.json").read_text())["totals"]
        assert totals["layers_mapped"] == 2
        assert totals["runtime_cycles"] == int(best["a"] + best["b"])
    assert len({(tmp_path / f"w{k}" / "mappings.m").read_text() for k in range(WORKERS)}) == 1
