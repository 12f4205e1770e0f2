"""Throughput of the batch cost model on random valid mappings of every ResNet-50 layer shape.

Usage: python benchmarks/costmodel_throughput.py [--quick] [--candidates N] [--batch B]
                                                  [--repeat R] [--seed S]

For each dataflow structure (a 2-level weight-stationary KC-P, a 1-level output-stationary YX-P and
a 3-level one) and each distinct ResNet-50 conv layer shape, it draws ``--candidates`` random
mappings that MAESTRO's parser accepts (R/S temporal maps cover the whole filter, Y/X tiles are
at least one filter window, cluster sizes fit the PEs) and evaluates them with
``costmodel.analysis.evaluate_batch`` in batches of ``--batch``, on one process. Only the
evaluate_batch calls are timed; each structure's pass over all layers runs ``--repeat`` times and
the fastest pass counts (wall clock; the process CPU time of that pass is printed too, since
other processes on a shared machine slow the wall clock). It prints per-structure figures, the
median latency of a single ``costmodel.analysis.evaluate`` call, ``evaluations/s: N``
(overall, wall clock), two more regimes in CPU time (``GA's own batches``, the calls the
mapper's GA makes while it tunes three ResNet-50 layers, whatever their sizes; ``sparse``, the
physical model dense and with sparsity on the same mappings, docs/sparsity.md), and as its last
three lines the issue's three regimes in CPU time (the machine may be shared): ``single``, one
``evaluate()`` at a time; ``GA-sized``, ``evaluate_batch`` on groups of ``--ga-batch`` (39: a GA
generation's candidates per structure); ``large``, the batches above.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Cluster, Dataflow, Hardware, Layer, SpatialMap, TemporalMap  # noqa: E402
from costmodel.analysis import evaluate, evaluate_batch  # noqa: E402


def resnet50_layers() -> list[Layer]:
    """The distinct conv layer shapes of ResNet-50 (as in MAESTRO's Resnet50 mapping files).

    No padding (MAESTRO has none): Y/X are input sizes. Stride 2 sits on CONV1 and on the first
    1x1 conv and the projection shortcut of stages conv3..conv5. FC is a 1x1 CONV.
    """
    specs = [("CONV1", 64, 3, 7, 224, 2)]
    c_in, size = 64, 56
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=2):
        del blocks  # every block after the first repeats the first one's shapes
        stride = 1 if stage == 2 else 2
        out_size = size // stride
        specs += [
            (f"CONV{stage}_1_1", width, c_in, 1, size, stride),
            (f"CONV{stage}_1_2", width, width, 3, out_size, 1),
            (f"CONV{stage}_1_3", 4 * width, width, 1, out_size, 1),
            (f"CONV{stage}_1_proj", 4 * width, c_in, 1, size, stride),
            (f"CONV{stage}_2_1", width, 4 * width, 1, out_size, 1),
        ]
        c_in, size = 4 * width, out_size
    specs.append(("FC1000", 1000, 2048, 1, 1, 1))
    layers, seen = [], set()
    for name, k, c, r, yx, s in specs:
        layer = Layer(name, "CONV", {"K": k, "C": c, "R": r, "S": r, "Y": yx, "X": yx},
                      {"Y": s, "X": s} if s != 1 else {})
        if layer.shape_key() not in seen:
            seen.add(layer.shape_key())
            layers.append(layer)
    return layers


def _structure(text: str) -> tuple[tuple[str, str], ...]:
    """``"S K; T C; C; ..."`` -> ``(("S", "K"), ("T", "C"), ("C", ""), ...)``."""
    out = []
    for item in text.split(";"):
        kind, *dim = item.split()
        out.append((kind, dim[0] if dim else ""))
    return tuple(out)


# name -> (dataflow structure, hardware)
STRUCTURES = {
    "kcp_ws 2-level": (_structure("S K; T C; T R; T S; T Y; T X; C; S C; T Y; T X; T R; T S"),
                       Hardware(num_pes=256, noc_bw=64, offchip_bw=32)),
    "yxp_os 1-level": (_structure("T K; T C; S Y; T X; T R; T S"),
                       Hardware(num_pes=168, noc_bw=32, offchip_bw=16)),
    "3-level": (_structure("S K; T C; T Y; T X; T R; T S; C; S C; T K; T Y; T X; C; S Y; T X; T R; "
                       "T S"),
                Hardware(num_pes=256, noc_bw=128, offchip_bw=64)),
}


def _log_uniform(rng, lo, hi):
    """Integers in ``[lo, hi]`` (arrays), log-uniformly distributed."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    x = np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))
    return np.clip(np.floor(x), lo, hi).astype(np.int64)


def random_mappings(layer: Layer, structure, n: int, num_pes: int, rng):
    """``n`` random ``(sizes, offsets)`` of ``structure`` for ``layer`` that MAESTRO accepts.

    R/S TemporalMaps cover the whole filter (size == offset == dim). Other tiles are at most the
    enclosing level's tile on the same dim; Y/X tiles hold at least one filter window, with
    offset ``size - R + 1`` (no output overlap) or a random one. K/C offsets are mostly the
    size. Cluster sizes divide the PEs available to them or are random.
    """
    dims = layer.full_dims()
    sizes = np.empty((n, len(structure)), dtype=np.int64)
    offsets = np.empty_like(sizes)
    outer: dict[str, np.ndarray] = {}
    pes_left = np.full(n, num_pes, dtype=np.int64)
    for col, (kind, dim) in enumerate(structure):
        if kind == "C":
            divs = np.array([d for d in range(1, num_pes + 1) if num_pes % d == 0])
            c = np.where(rng.random(n) < 0.5, rng.choice(divs, n), _log_uniform(rng, 1, num_pes))
            c = np.minimum(c, pes_left)
            sizes[:, col] = offsets[:, col] = c
            pes_left = np.maximum(pes_left // c, 1)
            continue
        full = dims[dim]
        hi = np.minimum(outer.get(dim, full), full)
        if kind == "T" and dim in ("R", "S"):
            m = np.full(n, full, dtype=np.int64)
            o = m
        elif dim in ("Y", "X"):
            win = dims["R" if dim == "Y" else "S"]
            m = _log_uniform(rng, np.minimum(win, hi), hi)
            o = np.where(rng.random(n) < 0.7, np.maximum(m - win + 1, 1),
                         rng.integers(1, m + 1))
        else:
            m = _log_uniform(rng, 1, hi)
            o = np.where(rng.random(n) < 0.9, m, rng.integers(1, m + 1))
        sizes[:, col], offsets[:, col] = m, o
        outer[dim] = m
    return sizes, offsets


def bench_structure(name, structure, hw, layers, n_cand, batch, repeat, rng, cost_model="maestro"):
    """Evaluate ``n_cand`` random mappings per layer, ``repeat`` times; returns (evaluations,
    wall seconds, CPU seconds) of the fastest pass."""
    work = [(layer,) + random_mappings(layer, structure, n_cand, hw.num_pes, rng)
            for layer in layers]
    best = None
    for _ in range(repeat):
        n_eval, wall, cpu, n_valid = 0, 0.0, 0.0, 0
        for layer, sizes, offsets in work:
            for lo in range(0, n_cand, batch):
                s, o = sizes[lo:lo + batch], offsets[lo:lo + batch]
                t0, c0 = time.perf_counter(), time.process_time()
                rep = evaluate_batch(layer, structure, s, o, hw, cost_model=cost_model)
                wall += time.perf_counter() - t0
                cpu += time.process_time() - c0
                n_eval += len(s)
                n_valid += int(np.count_nonzero(rep["valid"]))
        if best is None or wall < best[1]:
            best = (n_eval, wall, cpu, n_valid)
    n_eval, wall, cpu, n_valid = best
    print(f"{name:16s} [{cost_model}] {len(layers)} layers x {n_cand} candidates: "
          f"{n_eval} evaluations in "
          f"{wall:.2f} s = {n_eval / wall:,.0f}/s (CPU time {cpu:.2f} s = {n_eval / cpu:,.0f}/s; "
          f"{100 * n_valid / n_eval:.0f}% valid)")
    return n_eval, wall, cpu


def single_latency(layers, repeats: int) -> float:
    """Median seconds of one ``evaluate`` call (kcp_ws mapping of a 3x3 ResNet-50 layer)."""
    layer = next(x for x in layers if x.dims["R"] == 3)
    df = Dataflow([SpatialMap(1, 1, "K"), TemporalMap(64, 64, "C"), TemporalMap(3, 3, "R"),
                   TemporalMap(3, 3, "S"), TemporalMap(3, 1, "Y"), TemporalMap(3, 1, "X"),
                   Cluster(64), SpatialMap(1, 1, "C"), TemporalMap(3, 1, "Y"),
                   TemporalMap(3, 1, "X"), TemporalMap(3, 3, "R"), TemporalMap(3, 3, "S")])
    hw = STRUCTURES["kcp_ws 2-level"][1]
    evaluate(layer, hw, df)  # warm caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate(layer, hw, df)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def single_cpu(layers, repeats: int) -> float:
    """CPU seconds of one ``evaluate`` call (the mapping of :func:`single_latency`)."""
    single_latency(layers, 1)  # warm caches
    c0 = time.process_time()
    single_latency(layers, repeats)
    return (time.process_time() - c0) / (repeats + 1)


def ga_sized(layers, batch: int, per_layer: int, rng) -> tuple[int, float]:
    """Evaluations and CPU seconds of ``evaluate_batch`` on ``per_layer`` groups of ``batch``
    random mappings per (structure, layer): the calls a GA generation makes."""
    work = [(layer, structure, hw) + random_mappings(layer, structure, batch * per_layer,
                                                      hw.num_pes, rng)
            for structure, hw in STRUCTURES.values() for layer in layers]
    evaluate_batch(*work[0][:2], work[0][3][:batch], work[0][4][:batch], work[0][2])  # warm
    n, cpu = 0, 0.0
    for layer, structure, hw, sizes, offsets in work:
        for lo in range(0, len(sizes), batch):
            c0 = time.process_time()
            evaluate_batch(layer, structure, sizes[lo:lo + batch], offsets[lo:lo + batch], hw)
            cpu += time.process_time() - c0
            n += len(sizes[lo:lo + batch])
    return n, cpu


def ga_own(budget: int, names=("CONV2_1_2", "CONV3_1_1", "CONV4_2_1")) -> tuple[int, int, float]:
    """Candidates, calls and CPU seconds of ``evaluate_batch`` inside the mapper's GA (one
    island, one process, ``maestro``) on ResNet-50 layers of the zoo on ``edge168``: the
    batch sizes the search itself makes, not a fixed group size."""
    import mapper.search.evaluator as ev
    from mapper.tuning.settings import TuneSettings
    from mapper.tuning.tuner import tune_layer
    from mapper.workloads.presets import HARDWARE_PRESETS
    from mapper.workloads.zoo import load_model

    real, tally = ev.evaluate_batch, [0, 0, 0.0]

    def timed(layer, structure, sizes, *args, **kw):
        c0 = time.process_time()
        rep = real(layer, structure, sizes, *args, **kw)
        tally[2] += time.process_time() - c0
        tally[0] += len(sizes)
        tally[1] += 1
        return rep

    net, hw = load_model("resnet50"), HARDWARE_PRESETS["edge168"]
    settings = TuneSettings(budget=budget, jobs=1, islands=1, extra_islands=0,
                            cost_model="maestro")
    ev.evaluate_batch = timed
    try:
        for layer in (x for x in net.layers if x.name in names):
            tune_layer(layer, hw, settings)
    finally:
        ev.evaluate_batch = real
    return tally[0], tally[1], tally[2]


def sparse_regime(layers, n: int, rng) -> str:
    """CPU throughput of the physical model on the kcp_ws mappings, dense and with sparsity
    (random weight density 0.3 / input 0.5 with bitmask + skip; 2:4 weights with nm + skip on
    the layers whose C divides by 4), on the same mappings, cold cache of the expected max."""
    from costmodel.sparsity import stats, uniform

    structure, hw = STRUCTURES["kcp_ws 2-level"]
    cases = (("dense", {}, None),
             ("random", {"weight": 0.3, "input": 0.5}, uniform({"weight": "bitmask"}, "skip")),
             ("2:4", {"weight": "2:4"}, uniform({"weight": "nm"}, "skip")))
    work = [(layer,) + random_mappings(layer, structure, n, hw.num_pes, rng)
            for layer in layers if layer.dims["C"] % 4 == 0]
    rates = {}
    for name, dens, cfg in cases:
        stats.clear_caches()
        cpu = 0.0
        for layer, sizes, offsets in work:
            sp = Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides),
                       density=dens)
            c0 = time.process_time()
            evaluate_batch(sp, structure, sizes, offsets, hw, cost_model="physical",
                           sparsity=cfg)
            cpu += time.process_time() - c0
        rates[name] = len(work) * n / cpu
    return (f"regime sparse (physical, kcp_ws, batches of {n}): dense {rates['dense']:,.0f}/s, "
            f"random bitmask+skip {rates['random']:,.0f}/s "
            f"({rates['random'] / rates['dense']:.0%}), 2:4 nm+skip {rates['2:4']:,.0f}/s "
            f"({rates['2:4'] / rates['dense']:.0%}) (CPU time)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few seconds: smoke test")
    ap.add_argument("--candidates", type=int, default=None,
                    help="random mappings per (layer, dataflow structure) "
                         "(default 10000, quick 500)")
    ap.add_argument("--batch", type=int, default=20000, help="candidates per evaluate_batch call")
    ap.add_argument("--repeat", type=int, default=None,
                    help="passes per structure, the fastest counts (default 3, quick 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ga-batch", type=int, default=39,
                    help="candidates per call in the GA-sized regime (default 39)")
    ap.add_argument("--cost-model", choices=("maestro", "physical", "both"), default="both",
                    help="which model(s) to time (both: physical on the same mappings after "
                         "maestro, and the ratio of their CPU throughputs)")
    a = ap.parse_args(argv)
    n_cand = a.candidates or (500 if a.quick else 10000)
    repeat = a.repeat or (1 if a.quick else 3)
    rng = np.random.default_rng(a.seed)
    layers = resnet50_layers()
    total_n, total_s, total_cpu = 0, 0.0, 0.0
    phys_n, phys_cpu = 0, 0.0
    for name, (structure, hw) in STRUCTURES.items():
        state = rng.bit_generator.state
        if a.cost_model in ("maestro", "both"):
            n, s, c = bench_structure(name, structure, hw, layers, n_cand, a.batch, repeat, rng)
            total_n += n
            total_s += s
            total_cpu += c
        if a.cost_model in ("physical", "both"):
            rng.bit_generator.state = state  # the same mappings
            n, s, c = bench_structure(name, structure, hw, layers, n_cand, a.batch, repeat, rng,
                                  cost_model="physical")
            phys_n += n
            phys_cpu += c
            if a.cost_model == "physical":
                total_n, total_s, total_cpu = total_n + n, total_s + s, total_cpu + c
    if a.cost_model == "both":
        print(f"physical: {phys_n / phys_cpu:,.0f} evaluations/s (CPU time), "
              f"{(phys_n / phys_cpu) / (total_n / total_cpu):.0%} of maestro's")
    lat = single_latency(layers, 20 if a.quick else 200)
    print(f"single evaluate() latency (median): {lat * 1e3:.2f} ms")
    print(f"overall CPU time: {total_cpu:.2f} s = {total_n / total_cpu:,.0f} evaluations/s")
    print(f"evaluations/s: {total_n / total_s:.0f}")
    # measured in this order (the GA-sized mappings are drawn before the sparse ones), printed
    # with the three regimes last
    single = single_cpu(layers, 20 if a.quick else 200)
    ga_n, ga_cpu = ga_sized(layers, a.ga_batch, 2 if a.quick else 10, rng)
    own_n, own_calls, own_cpu = ga_own(2000 if a.quick else 12000)
    print(f"regime GA's own batches (maestro, {own_calls} calls, {own_n / own_calls:.0f} per "
          f"call on average): {own_n / own_cpu:,.0f} evaluations/s (CPU time)")
    print(sparse_regime(layers, min(n_cand, 2000), rng))
    print(f"regime single: {1 / single:,.0f} evaluations/s ({single * 1e3:.3f} ms CPU each)")
    print(f"regime GA-sized (batches of {a.ga_batch}): {ga_n / ga_cpu:,.0f} evaluations/s "
          f"(CPU time)")
    print(f"regime large (batches of {a.batch}): {total_n / total_cpu:,.0f} evaluations/s "
          f"(CPU time)")


if __name__ == "__main__":
    main()
