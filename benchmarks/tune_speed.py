"""Whole-model tuning speed (jobs 1 and 2) and cost-model throughput vs number of candidates.

    python benchmarks/tune_speed.py            # ResNet-50 on edge168, 10^3..10^6 candidates
    python benchmarks/tune_speed.py --full     # ... up to 10^7 candidates
    python benchmarks/tune_speed.py --quick    # seconds: budget 100, up to 10^4

Part 1 runs ``tune_model(load_model(MODEL), HARDWARE_PRESETS[HW], TuneSettings(jobs=J))``
(``--cost-model``, by default ``mapper tune``'s) for each J of ``--jobs``, each in a fresh
Python process, and reports wall time, evaluations, evaluations/s, the total runtime of the
tuned model (so that runs can be compared for quality) and peak resident memory
(``resource.getrusage``: the process itself and its largest worker; with ``--tracemalloc``
also the traced Python-heap peak of the main process, from a second, traced run, since
tracing slows it down). Part 2 times
``costmodel.analysis.evaluate_batch`` on N = 10^3.. random mappings of one fixed ``kcp_ws``
template structure (``make_space(...).sample`` and ``sizes_offsets``) of ResNet-50 CONV2_1_2, in
calls of at most ``--batch`` candidates; only the ``evaluate_batch`` calls are timed. Random
mappings of arbitrary structures, per ResNet-50 layer: ``benchmarks/costmodel_throughput.py``.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.analysis import COST_MODELS, evaluate_batch  # noqa: E402
from mapper.tuning.settings import DEFAULT_ISLANDS, TuneSettings  # noqa: E402
from mapper.tuning.tuner import distinct_shapes, tune_model  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402
from search_spaces.templates import make_space  # noqa: E402


def _maxrss_mb(who: int) -> float:
    """Peak resident set size in MB (Linux reports KB, macOS bytes)."""
    v = resource.getrusage(who).ru_maxrss
    return v / 2**20 if sys.platform == "darwin" else v / 1024


def tune_once(model: str, hw: str, jobs: int, budget: int | None, trace: bool,
              islands: int = DEFAULT_ISLANDS, cost_model: str = "physical") -> dict:
    """One whole-model tuning in this process; the figures of part 1 as a dict."""
    import tracemalloc

    net = load_model(model)
    settings = TuneSettings(jobs=jobs, islands=islands, cost_model=cost_model)
    if budget is not None:
        settings.budget = budget
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    res = tune_model(net, HARDWARE_PRESETS[hw], settings)
    wall = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    if jobs > 1:  # stop the worker pool so its processes are reaped and counted as children
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    t = res.totals()
    return {"jobs": jobs, "layers": t["layers"], "distinct": t["distinct_shapes"],
            "budget": settings.budget, "strategy": settings.strategy, "wall_s": wall,
            "evaluations": t["evaluations"], "evals_per_s": t["evaluations"] / wall,
            "runtime_cycles": t["runtime_cycles"], "rss_main_mb": _maxrss_mb(resource.RUSAGE_SELF),
            "rss_worker_mb": _maxrss_mb(resource.RUSAGE_CHILDREN) if jobs > 1 else None,
            "traced_peak_mb": traced}


def tune_in_subprocess(model: str, hw: str, jobs: int, budget: int | None, trace: bool,
                       islands: int = DEFAULT_ISLANDS, cost_model: str = "physical") -> dict:
    cmd = [sys.executable, __file__, "--one", str(jobs), "--model", model, "--hw", hw,
           "--islands", str(islands), "--cost-model", cost_model]
    if budget is not None:
        cmd += ["--budget", str(budget)]
    if trace:
        cmd.append("--tracemalloc")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def throughput(n: int, batch: int, seed: int = 0) -> dict:
    """Evaluate ``n`` random mappings of one kcp_ws structure in calls of <= ``batch``."""
    layer = next(x for x in load_model("resnet50").layers if x.name == "CONV2_1_2")
    hw = HARDWARE_PRESETS["edge168"]
    space = make_space(layer, hw, "kcp_ws")
    rng = np.random.default_rng(seed)
    secs, valid, calls, structure = 0.0, 0, 0, None
    for lo in range(0, n, batch):
        m = min(batch, n - lo)
        g = space.sample(rng, m)
        structure = structure or space.structure_of(g, 0)
        assert len(np.unique(space.structure_keys(g))) == 1, "a template has one dataflow structure"
        sizes, offsets = space.sizes_offsets(g, np.arange(m), structure)
        t0 = time.perf_counter()
        rep = evaluate_batch(layer, structure, sizes, offsets, hw)
        secs += time.perf_counter() - t0
        valid += int(np.count_nonzero(rep["valid"]))
        calls += 1
    return {"n": n, "batch": min(batch, n), "calls": calls, "seconds": secs,
            "evals_per_s": n / secs, "valid": valid / n,
            "rss_mb": _maxrss_mb(resource.RUSAGE_SELF)}


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--hw", default="edge168", choices=list(HARDWARE_PRESETS))
    ap.add_argument("--jobs", default="1,2", help="comma-separated job counts (default 1,2)")
    ap.add_argument("--budget", type=int, default=None,
                    help="evaluations per distinct layer (default: TuneSettings' default; "
                    "--quick: 100)")
    ap.add_argument("--cost-model", default=TuneSettings().cost_model, choices=COST_MODELS,
                    help="cost model of part 1 (default: mapper tune's, "
                    f"{TuneSettings().cost_model})")
    ap.add_argument("--islands", type=int, default=DEFAULT_ISLANDS,
                    help=f"independent runs per layer (default {DEFAULT_ISLANDS})")
    ap.add_argument("--batch", type=int, default=100_000,
                    help="largest evaluate_batch call of part 2 (default 100000)")
    ap.add_argument("--max-candidates", type=int, default=None,
                    help="largest N of part 2 (default 10^6; --full 10^7; --quick 10^4)")
    ap.add_argument("--quick", action="store_true", help="seconds: a smoke test")
    ap.add_argument("--full", action="store_true", help="part 2 up to 10^7 candidates")
    ap.add_argument("--skip-tune", action="store_true", help="only part 2")
    ap.add_argument("--skip-throughput", action="store_true", help="only part 1")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also trace the Python heap of the main process (slower)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # child process
    a = ap.parse_args(argv)
    budget = a.budget if a.budget is not None else (100 if a.quick else None)
    if a.one is not None:
        print(json.dumps(tune_once(a.model, a.hw, a.one, budget, a.tracemalloc, a.islands,
                                   a.cost_model)))
        return 0
    print(f"# tune_speed: {platform.python_version()}, {platform.machine()}, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not a.skip_tune:
        net = load_model(a.model)
        print(f"\n## Whole-model tuning: {a.model} ({len(net.layers)} layers, "
              f"{len(distinct_shapes(net)[0])} distinct) on {a.hw}, "
              f"{TuneSettings().strategy}, budget "
              f"{budget or TuneSettings().budget} evaluations per distinct layer "
              f"({a.islands} islands), {a.cost_model} cost model\n")
        print("| jobs | wall s | evaluations | evals/s | speed-up | total runtime (cycles) | "
              "peak RSS main MB | peak RSS worker MB | traced peak MB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        base = None
        for j in (int(x) for x in a.jobs.split(",")):
            r = tune_in_subprocess(a.model, a.hw, j, budget, False, a.islands, a.cost_model)
            if a.tracemalloc:  # a separate run: tracing slows the main process a lot
                r["traced_peak_mb"] = tune_in_subprocess(a.model, a.hw, j, budget, True,
                                                         a.islands,
                                                         a.cost_model)["traced_peak_mb"]
            base = base or r["wall_s"]
            print(f"| {j} | {r['wall_s']:.1f} | {r['evaluations']:,} | "
                  f"{r['evals_per_s']:,.0f} | {base / r['wall_s']:.2f} | "
                  f"{r['runtime_cycles']:,} | "
                  f"{r['rss_main_mb']:.0f} | {_fmt(r['rss_worker_mb'], '.0f')} | "
                  f"{_fmt(r['traced_peak_mb'], '.1f')} |", flush=True)
    if not a.skip_throughput:
        top = a.max_candidates or (10**4 if a.quick else 10**7 if a.full else 10**6)
        print(f"\n## evaluate_batch throughput: ResNet-50 CONV2_1_2, kcp_ws structure, edge168, "
              f"calls of <= {a.batch:,} candidates\n")
        print("| candidates | calls | seconds | evals/s | valid | peak RSS MB |")
        print("|---:|---:|---:|---:|---:|---:|")
        n = 1000
        while n <= top:
            r = throughput(n, a.batch)
            print(f"| {n:,} | {r['calls']} | {r['seconds']:.3f} | {r['evals_per_s']:,.0f} | "
                  f"{100 * r['valid']:.0f}% | {r['rss_mb']:.0f} |", flush=True)
            n *= 10
    return 0


if __name__ == "__main__":
    sys.exit(main())
