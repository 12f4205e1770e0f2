"""Validation of the sparse physical model (docs/sparsity.md); prints every figure.

Usage: python benchmarks/sparsity_validation.py [--quick] [--plot docs/img/sparsity_density.png]
       [--only SECTIONS] (digits of the sections below; ``d``: item 1d, the tuned mappings, alone)

1. Monte Carlo: real random / N:M masks walked through random one-level mappings of the shipped
   sparse workloads (bert_base_sparse24, resnet50_sparse); the model's sparse/dense compute
   ratio (expected max over units) and the mean-only model's against the Monte Carlo mean;
   then N:M (2:4, 1:4, 4:8) on GEMMs under mappings with any spatial dim and tile sizes that
   split groups and leave edges; then two-level mappings (random and N:M) against the walk
   of every level's tiles, the PEs in lockstep; then the mappings the mapper tunes for the
   shipped sparse workloads.
2. SCALE-Sim v3 2:4 ratio: 256^3 GEMM on a 32x32 weight-stationary mapping.
3. Sparseloop-style 128^3 SpMSpM: bitmask+gating vs coordinate list+skipping crossovers.
4. Search: best of random mappings of the 2:4 BERT FFN1 with skipping vs dense.
5. Best latency / energy against weight density per format (plot), and throughput.
6. Real masks with clustered zeros (pruned 8x8 blocks; thresholded smoothed noise) on shipped
   layers: the mask-based model and the random model against the walk of that same mask.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Hardware, Layer  # noqa: E402
from costmodel.analysis import evaluate_batch  # noqa: E402
from costmodel.energy import DEFAULT_ENERGY  # noqa: E402
from costmodel.layer import tensor_table  # noqa: E402
from costmodel.levels import build_levels  # noqa: E402
from costmodel.physical import compulsory  # noqa: E402
from costmodel.sparsity import stats, uniform  # noqa: E402
from costmodel.sparsity.montecarlo import monte_carlo  # noqa: E402
from costmodel.sparsity.report import compute_ratio  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402

GEMM_SHAPE = [("T", "M"), ("S", "N"), ("T", "K")]
CONV_SHAPE = [("T", "K"), ("S", "C"), ("T", "Y"), ("T", "X"), ("T", "R"), ("T", "S")]


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def random_mappings(layer: Layer, rng, B: int, pes: int):
    """Random one-level mappings: divisor tiles, whole filter windows, offsets = sizes."""
    sd = layer.full_dims()
    shape = GEMM_SHAPE if layer.type == "GEMM" else CONV_SHAPE
    sizes = np.empty((B, len(shape)), dtype=np.int64)
    offs = np.empty_like(sizes)
    for j, (_, d) in enumerate(shape):
        if d in ("R", "S"):
            sizes[:, j] = offs[:, j] = sd[d]
        elif d in ("Y", "X"):
            r = sd["R" if d == "Y" else "S"]
            out = rng.choice([v for v in _divisors(sd[d] - r + 1) if v <= 8], B)
            sizes[:, j], offs[:, j] = out + r - 1, out
        else:
            divs = [v for v in _divisors(sd[d]) if v <= 64]
            sizes[:, j] = offs[:, j] = rng.choice(divs, B)
    return shape, sizes, offs



def _mapped(layer, rng, n: int, pes: int):
    """Random mappings of ``layer`` with what the model's statistics need: tensor table,
    tensor sizes, the mappings, their levels and the active units per step."""
    table = tensor_table(layer.type, "N" in layer.dims)
    totals = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
    shape, sizes, offs = random_mappings(layer, rng, n, pes)
    rep = evaluate_batch(layer, shape, sizes, offs, Hardware(num_pes=pes), cost_model="physical")
    lv = build_levels(layer, table, shape, sizes, offs, np.full(len(sizes), pes))
    P = np.maximum(np.rint(rep["avg_utilized_pes"]), 1)
    return table, totals, shape, sizes, offs, lv, P

def monte_carlo_section(quick: bool) -> None:
    rng = np.random.default_rng(1)
    pes = 64
    cfg = uniform({"weight": "bitmask"}, "skip")
    rows = []
    nets = [load_model("bert_base_sparse24"), load_model("resnet50_sparse")]
    for net in nets:
        layers = [lay for lay in net.layers if "weight" in lay.density]
        layers = layers[:: 8 if quick else 3]
        for layer in layers:
            if layer.density["weight"].value >= 1:
                continue
            table, totals, shape, sizes, offs, lv, P = _mapped(layer, rng, 2 if quick else 4,
                                                               pes)
            model = compute_ratio(layer, table, lv, cfg, P, np.ones(len(sizes)), totals)
            mean = compute_ratio(layer, table, lv, cfg, P, np.ones(len(sizes)), totals, "mean")
            for b in range(len(sizes)):
                mc, sd = monte_carlo(layer, shape, sizes[b], offs[b], pes,
                                     layer.density["weight"], trials=4 if quick else 10,
                                     seed=b)
                rows.append((net.name, layer.name, str(layer.density["weight"]),
                             model[b], mean[b], mc, sd))
    print("\n== 1. Monte Carlo (skip on weight, 64 PEs): sparse/dense compute time ==")
    print(f"{'layer':28s} {'density':>7s} {'model':>7s} {'mean':>7s} {'MC':>7s} {'err%':>6s} "
          f"{'mean err%':>9s}")
    for net, name, d, m, mn, mc, _ in rows:
        print(f"{net[:10] + '/' + name:28s} {d:>7s} {m:7.4f} {mn:7.4f} {mc:7.4f} "
              f"{100 * (m / mc - 1):6.2f} {100 * (mn / mc - 1):9.2f}")
    rand = [r for r in rows if ":" not in r[2]]
    err = np.array([abs(m / mc - 1) for *_, m, _mn, mc, _sd in rand])
    err_mean = np.array([abs(mn / mc - 1) for *_, _m, mn, mc, _sd in rand])
    nm = np.array([abs(r[3] / r[5] - 1) for r in rows if ":" in r[2]])
    print(f"rows {len(rows)}; unstructured ({len(rand)} rows): expected-max model |err| max "
          f"{100 * err.max():.2f}% mean {100 * err.mean():.2f}%, mean-only model |err| max "
          f"{100 * err_mean.max():.2f}% mean {100 * err_mean.mean():.2f}%; N:M ({len(nm)} rows): "
          f"{(nm < 1e-9).sum()} exact, max |err| {100 * nm.max(initial=0):.2f}%")


def nm_monte_carlo_section(quick: bool) -> None:
    """N:M masks on GEMMs under random one-level mappings whose K windows may split groups:
    the model against the Monte Carlo mean (exact where units draw independent windows)."""
    rng = np.random.default_rng(3)
    pes, trials = 64, 100 if quick else 300
    cfg = uniform({"weight": "nm"}, "skip")
    table = tensor_table("GEMM", False)
    rows = []
    for nm in ("2:4", "1:4", "4:8"):
        for _ in range(4 if quick else 16):
            dims = {"M": int(rng.choice([16, 64])), "N": int(rng.choice([48, 64, 96])),
                    "K": int(rng.choice([96, 128, 192]))}
            layer = Layer("G", "GEMM", dims, density={"weight": nm})
            order = [("T", "M"), ("T", "N"), ("T", "K")]
            j = int(rng.integers(3))
            order[j] = ("S", order[j][1])
            shape = [order[i] for i in rng.permutation(3)]
            sizes = np.array([[int(rng.choice([1, 2, 3, 4, 5, 6, 8, 12, 16])) for _ in shape]])
            tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
            rep = evaluate_batch(layer, shape, sizes, sizes, Hardware(num_pes=pes),
                                 cost_model="physical")
            lv = build_levels(layer, table, shape, sizes, sizes, np.full(1, pes))
            P = np.maximum(np.rint(rep["avg_utilized_pes"]), 1)
            model = compute_ratio(layer, table, lv, cfg, P, np.ones(1), tot)[0]
            mc, sd = monte_carlo(layer, shape, sizes[0], sizes[0], pes, layer.density["weight"],
                                 trials=trials, seed=len(rows))
            k = [s for (kind, d), s in zip(shape, sizes[0]) if d == "K"][0]
            kind = ("aligned" if k % layer.density["weight"].m == 0 else
                    "split, K spatial" if ("S", "K") in shape else "split, K temporal")
            rows.append((nm, "; ".join(f"{a}({s}) {d}" for (a, d), s in zip(shape, sizes[0])),
                         kind, model, mc, sd / np.sqrt(trials)))
    print(f"\n== 1b. N:M Monte Carlo ({trials} masks per row, 64 PEs): sparse/dense compute ==")
    for nm, desc, kind, m, mc, se in rows:
        print(f"{nm} {desc:28s} {kind:18s} model {m:.4f} MC {mc:.4f} +- {se:.4f} "
              f"err {100 * (m / mc - 1):+.2f}%")
    for kind in ("aligned", "split, K temporal", "split, K spatial"):
        sel = [r for r in rows if r[2] == kind]
        if sel:
            err = np.array([abs(m / mc - 1) for *_, m, mc, _se in sel])
            within = sum(abs(m - mc) <= 3 * se + 1e-4 for *_, m, mc, se in sel)
            print(f"N:M {kind}: {len(sel)} rows, {within} within 3 standard errors (+1e-4) "
                  f"of the MC mean, max |err| {100 * err.max():.2f}%")


def multilevel_section(quick: bool) -> None:
    """Two-level mappings (a cluster level over the PEs) of small GEMMs and CONVs drawn from
    the mapper's space, one SpatialMap per level: the model against the lockstep Monte Carlo
    walk, random (0.3, 0.5) and N:M (2:4, 4:8) weights."""
    from search_spaces import MappingSpace
    pes, trials = 64, 60 if quick else 150
    table_of = {"GEMM": tensor_table("GEMM", False), "CONV": tensor_table("CONV", False)}
    print(f"\n== 1c. Two-level mappings, Monte Carlo ({trials} masks per row, {pes} PEs) ==")
    for dens in ("0.3", "0.5", "2:4", "4:8"):
        rng = np.random.default_rng(5)
        rows = []
        cfg = uniform({"weight": "nm" if ":" in dens else "bitmask"}, "skip")
        for it in range(4 if quick else 12):
            d = dens if ":" in dens else float(dens)
            if it % 2:
                dims = {"K": int(rng.choice([16, 24])), "C": int(rng.choice([16, 32])),
                        "R": 3, "S": 3, "Y": int(rng.choice([8, 10])), "X": 8}
                layer = Layer("C", "CONV", dims, density={"weight": d})
            else:
                dims = {"M": int(rng.choice([16, 32])), "N": int(rng.choice([48, 64])),
                        "K": int(rng.choice([64, 96]))}
                layer = Layer("G", "GEMM", dims, density={"weight": d})
            table = table_of[layer.type]
            hw = Hardware(num_pes=pes)
            space = MappingSpace(layer, hw, max_levels=2, min_levels=2, second_spatial=False)
            g = space.sample(rng, 40)
            tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
            taken = 0
            for i in range(len(g.tiles)):
                shape = space.structure_of(g, i)
                if taken == 3 or sum(k == "C" for k, _ in shape) != 1 or sum(
                        k == "S" for k, _ in shape) != 2:
                    continue
                sizes, offs = space.sizes_offsets(g, np.array([i]), shape)
                valid, model = _model_ratio(layer, table, shape, sizes, offs, hw, cfg, tot)
                if not valid:
                    continue
                taken += 1
                mc, sd = monte_carlo(layer, shape, sizes[0], offs[0], pes,
                                     layer.density["weight"], trials=trials, seed=len(rows))
                desc = "; ".join(f"{k}({v}) {dd}" if k != "C" else f"C({v})"
                                 for (k, dd), v in zip(shape, sizes[0]))
                rows.append((model, mc, sd / np.sqrt(trials), f"{layer.type} {desc}"))
        err = np.array([abs(m / mc - 1) for m, mc, _, _ in rows])
        within = sum(abs(m - mc) <= 3 * se + 1e-4 for m, mc, se, _ in rows)
        for m, mc, _, desc in rows:
            if abs(m / mc - 1) > 0.02:
                print(f"  {dens} {desc:64s} model {m:.4f} MC {mc:.4f} err "
                      f"{100 * (m / mc - 1):+.2f}%")
        print(f"weight {dens}: {len(rows)} mappings, {within} within 3 standard errors "
              f"(+1e-4) of the MC mean, |err| max {100 * err.max():.2f}% mean "
              f"{100 * err.mean():.2f}%, {(err <= 0.02).sum()} within 2%")


def tuned_section(quick: bool) -> None:
    """Mappings the mapper tunes for the shipped sparse workloads (two levels, edges, shared
    tiles as they come): the model against the lockstep walk, weights (ResNet-50's published
    densities, bitmask), input activations (its measured densities, bitmask) and BERT's 2:4
    weights, each conditioning a skipping compute."""
    from mapper.tuning.settings import TuneSettings
    from mapper.tuning.tuner import tune_model
    from mapper.workloads.presets import HARDWARE_PRESETS

    hw, trials = HARDWARE_PRESETS["edge168"], 4 if quick else 8
    budget = 1500 if quick else 4000
    print(f"\n== 1d. Tuned mappings of the shipped workloads ({budget} evaluations per layer, "
          f"{trials} masks per row, {hw.num_pes} PEs) ==")
    cases = (("resnet50_sparse", "weight", "bitmask"), ("resnet50_sparse", "input", "bitmask"),
             ("bert_base_sparse24", "weight", "nm"))
    for model, tensor, fmt in cases:
        net = load_model(model)
        cfg = dataclasses.replace(uniform({tensor: fmt}, "skip"), on=(tensor,))
        net = dataclasses.replace(net, layers=[
            dataclasses.replace(x, density={tensor: x.density[tensor]})
            for x in net.layers if tensor in x.density and x.density[tensor].value < 1])
        res = tune_model(net, hw, TuneSettings(budget=budget, islands=1, extra_islands=0,
                                               sparsity=cfg, cost_model="physical"))
        rows, skipped = [], 0
        for r in res.layers:
            layer, df = r.layer, r.layer.dataflow
            if r.reused or df is None:
                continue
            table = tensor_table(layer.type, "N" in layer.dims)
            sizes = np.array([[d.size for d in df.directives]], dtype=np.int64)
            offs = np.array([[d.size if d.kind == "C" else d.offset for d in df.directives]],
                            dtype=np.int64)
            tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
            _, m = _model_ratio(layer, table, df.structure, sizes, offs, hw, cfg, tot)
            try:
                mc, sd = monte_carlo(layer, df.structure, sizes[0], offs[0], hw.num_pes,
                                     layer.density[tensor], tensor=tensor, trials=trials)
            except ValueError:  # two SpatialMaps of a level split their dims over its units
                skipped += 1
                continue
            desc = "; ".join(f"{k}({v},{o}) {dd}" if k != "C" else f"C({v})"
                             for (k, dd), v, o in zip(df.structure, sizes[0], offs[0]))
            rows.append((m, mc, sd / np.sqrt(trials), f"{layer.name} [{desc}]"))
        err = np.array([abs(m / mc - 1) for m, mc, _, _ in rows])
        within = sum(abs(m - mc) <= 3 * se + 1e-4 for m, mc, se, _ in rows)
        worst = rows[int(err.argmax())]
        worst = worst[:3] + (worst[3].split(" [")[0],)
        for m, mc, se, name in rows:
            if abs(m - mc) > 3 * se + 1e-4:
                print(f"  outside 3 SE: {name} model {m:.4f} MC {mc:.4f} +- {se:.4f} err "
                      f"{100 * (m / mc - 1):+.2f}%")
        print(f"{model} {tensor} {fmt}: {len(rows)} tuned layers ({skipped} with two "
              f"SpatialMaps splitting a level's units, not walked), {within} within 3 standard "
              f"errors (+1e-4), |err| max {100 * err.max():.2f}% ({worst[3]}: model "
              f"{worst[0]:.4f}, MC {worst[1]:.4f}), mean {100 * err.mean():.2f}%")


def _model_ratio(layer, table, shape, sizes, offs, hw, cfg, totals) -> tuple[bool, float]:
    """Whether one mapping is valid, and the model's sparse/dense compute ratio for it."""
    rep = evaluate_batch(layer, shape, sizes, offs, hw, cost_model="physical")
    lv = build_levels(layer, table, shape, sizes, offs, np.full(1, hw.num_pes))
    P = np.maximum(np.rint(rep["avg_utilized_pes"]), 1)
    return bool(rep["valid"][0]), float(compute_ratio(layer, table, lv, cfg, P, np.ones(1),
                                                      totals)[0])


def scalesim_section() -> None:
    """32x32 weight-stationary, K over the rows, N over the columns, M streamed. SCALE-Sim's
    sparse array holds only the kept weights (its rows compress K by M / N); the equivalent
    here gives each PE one 2:4 group of K (4 weights, 2 kept). With one weight per PE the
    array runs in lockstep and skipping saves nothing (some PE of every step keeps its
    weight: ratio 1, as the Monte Carlo walk agrees)."""
    shape = [("S", "K"), ("T", "N"), ("T", "M"), ("C", ""), ("S", "N"), ("T", "M"), ("T", "K")]
    sizes = np.array([[4, 32, 256, 32, 1, 256, 4]])
    dense = Layer("gemm256", "GEMM", {"M": 256, "N": 256, "K": 256})
    sparse = Layer("gemm256", "GEMM", {"M": 256, "N": 256, "K": 256}, density={"weight": "2:4"})
    hw = Hardware(num_pes=1024, noc_bw=1024)
    d = evaluate_batch(dense, shape, sizes, sizes, hw, cost_model="physical")
    s = evaluate_batch(sparse, shape, sizes, sizes, hw, cost_model="physical",
                       sparsity=uniform({"weight": "nm"}, "skip"))
    print("\n== 2. SCALE-Sim v3 2:4 (256^3 GEMM, 32x32 WS) ==")
    print(f"SCALE-Sim compute cycles 22,399 dense / 11,199 2:4 = {22399 / 11199:.4f}")
    print(f"ours: runtime {int(d['runtime'][0]):,} dense / {int(s['runtime'][0]):,} 2:4 = "
          f"{d['runtime'][0] / s['runtime'][0]:.4f} (bound {d['bound'][0]}/{s['bound'][0]})")


def spmspm(densities, hw, tile_m=8, coord_bits=0, energy=DEFAULT_ENERGY):
    """128^3 SpMSpM, both operands of density d: (bitmask+gate, coordinate+skip) results;
    ``coord_bits`` fixes the coordinate width (0: log2 of the tile)."""
    shape = [("T", "M"), ("S", "N"), ("T", "K")]
    sizes = np.array([[tile_m, 1, 128]])
    out = {"bitmask": [], "coordinate": []}
    for d in densities:
        layer = Layer("spmspm", "GEMM", {"M": 128, "N": 128, "K": 128},
                      density={"weight": d, "input": d})
        for fmt, act in (("bitmask", "gate"), ("coordinate", "skip")):
            cfg = uniform({"weight": fmt, "input": fmt}, act, ("weight", "input"), coord_bits)
            r = evaluate_batch(layer, shape, sizes, sizes, hw, cost_model="physical",
                               sparsity=cfg, energy=energy)
            out[fmt].append((float(r["energy_total_nj"][0]), int(r["runtime"][0])))
    return out


def _crossing(xs, a, b):
    s = np.sign(np.asarray(a) - np.asarray(b))
    idx = np.nonzero(s[1:] != s[:-1])[0]
    return [(xs[i], xs[i + 1]) for i in idx]


def sparseloop_section() -> None:
    xs = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6,
          0.7, 0.8, 0.9, 1.0]
    hw = Hardware(num_pes=128, offchip_bw=4, noc_bw=128)
    big = spmspm(xs, hw, tile_m=128)
    print("with whole 128x128 input tiles per PE (14-bit coordinates): energy crossover "
          f"{_crossing(xs, [e for e, _ in big['bitmask']], [e for e, _ in big['coordinate']])}")
    # Sparseloop's fig. 1 setup (micro22-sparseloop-artifact, fig1_format_comparison_setup):
    # 8-bit data, bitmask 1 bit per element, coordinate list CP with metadata-word-bits 14
    # (log2 of 128 x 128: whole-matrix coordinates) at every level
    sl = spmspm(xs, hw, coord_bits=14)
    print("M8xK128 tiles, 14-bit coordinates as Sparseloop's: energy crossover "
          f"{_crossing(xs, [e for e, _ in sl['bitmask']], [e for e, _ in sl['coordinate']])}, "
          "formats alone break even at 1/14 = 0.071")
    fine = [0.05, 0.06, 0.07, 0.075, 0.08, 0.085, 0.09, 0.1]
    for name, gated in (("free gating", 0.0), ("Sparseloop's gated/MAC energy 0.036/0.56",
                                                 0.036 / 0.56), ("ours 0.1", 0.1)):
        e = spmspm(fine, hw, coord_bits=14,
                   energy=dataclasses.replace(DEFAULT_ENERGY, mac_gated=gated))
        print(f"  14-bit coordinates, {name}: energy crossover "
              f"{_crossing(fine, [v for v, _ in e['bitmask']], [v for v, _ in e['coordinate']])}")
    res = spmspm(xs, hw)
    eb = [e for e, _ in res["bitmask"]]
    ec = [e for e, _ in res["coordinate"]]
    cb = [c for _, c in res["bitmask"]]
    cc = [c for _, c in res["coordinate"]]
    print("\n== 3. Sparseloop-style 128^3 SpMSpM (128 PEs, 4 words/cycle DRAM) ==")
    print(f"{'d':>5s} {'E bitmask':>10s} {'E coord':>10s} {'cyc bitmask':>11s} {'cyc coord':>9s}")
    for x, a, b, c, e in zip(xs, eb, ec, cb, cc):
        print(f"{x:5.2f} {a:10.1f} {b:10.1f} {c:11d} {e:9d}")
    print(f"energy crossover between densities {_crossing(xs, eb, ec)} (Sparseloop: 0.04-0.08)")
    print(f"cycle crossover between densities {_crossing(xs, cb, cc)} (Sparseloop: 0.4-0.8)")
    same = []
    for x in xs:  # the same bitmask storage with no compute action: gating changes no cycle
        layer = Layer("spmspm", "GEMM", {"M": 128, "N": 128, "K": 128},
                      density={"weight": x, "input": x})
        cfg = uniform({"weight": "bitmask", "input": "bitmask"}, "none")
        r = evaluate_batch(layer, [("T", "M"), ("S", "N"), ("T", "K")],
                           np.array([[8, 1, 128]]), np.array([[8, 1, 128]]), hw,
                           cost_model="physical", sparsity=cfg)
        same.append(int(r["runtime"][0]))
    print(f"gating never saves cycles: bitmask+gate cycles == bitmask+none at every density: "
          f"{same == cb}")


def best(layer, shape, sizes, offs, hw, cfg):
    r = evaluate_batch(layer, shape, sizes, offs, hw, cost_model="physical", sparsity=cfg)
    ok = r["valid"]
    return (int(r["runtime"][ok].min()) if ok.any() else None,
            float(r["energy_total_nj"][ok].min()) if ok.any() else None)


def search_section(quick: bool) -> None:
    rng = np.random.default_rng(2)
    base = load_model("bert_base_sparse24")
    layer = next(lay for lay in base.layers if lay.name == "FFN1")
    dense = Layer(layer.name, layer.type, dict(layer.dims))
    hw = Hardware(num_pes=256, l2_size=1 << 20, offchip_bw=64, noc_bw=256)
    shape, sizes, offs = random_mappings(dense, rng, 500 if quick else 3000, 256)
    t_d, _ = best(dense, shape, sizes, offs, hw, None)
    t_s, _ = best(layer, shape, sizes, offs, hw, uniform({"weight": "nm"}, "skip"))
    print("\n== 4. Search: BERT FFN1 (512x3072x768), 2:4 weights, skipping, 256 PEs ==")
    print(f"best of {len(sizes)} random mappings: dense {t_d:,} cycles, 2:4+skip {t_s:,} "
          f"cycles, speed-up {t_d / t_s:.3f}x")


def density_sweep(quick: bool, plot: str | None) -> None:
    rng = np.random.default_rng(3)
    base = Layer("FFN1", "GEMM", {"M": 512, "N": 3072, "K": 768})
    hw = Hardware(num_pes=256, l2_size=1 << 20, offchip_bw=16, noc_bw=256)
    shape, sizes, offs = random_mappings(base, rng, 300 if quick else 1500, 256)
    xs = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    curves = {}
    for fmt in ("dense", "bitmask", "coordinate", "rle"):
        curves[fmt] = [best(Layer("FFN1", "GEMM", dict(base.dims), density={"weight": x}),
                            shape, sizes, offs, hw, uniform({"weight": fmt}, "skip"))
                       for x in xs]
    nm = {x: best(Layer("FFN1", "GEMM", dict(base.dims), density={"weight": s}), shape, sizes,
                  offs, hw, uniform({"weight": "nm"}, "skip"))
          for x, s in ((0.25, "1:4"), (0.5, "2:4"), (0.75, "3:4"))}
    print("\n== 5. Best latency / energy vs weight density (FFN1, skip, 16 words/cycle) ==")
    for fmt, vals in curves.items():
        print(fmt, [(x, t, round(e, 1)) for x, (t, e) in zip(xs, vals)])
    print("nm", [(x, t, round(e, 1)) for x, (t, e) in nm.items()])
    dens = Layer("FFN1", "GEMM", dict(base.dims), density={"weight": 0.5})
    nm_layer = Layer("FFN1", "GEMM", dict(base.dims), density={"weight": "2:4"})
    bitmask, nm_skip = uniform({"weight": "bitmask"}, "skip"), uniform({"weight": "nm"}, "skip")
    for name, layer, c in (("dense", base, None), ("random 0.5 bitmask+skip", dens, bitmask),
                           ("2:4 nm+skip", nm_layer, nm_skip)):
        evaluate_batch(base, shape, sizes[:64], offs[:64], hw, cost_model="physical")
        for cache in ("cold", "warm"):   # cold: the expected-max cache emptied before the call
            fastest = np.inf
            for _ in range(3):
                if cache == "cold":
                    stats.clear_caches()
                t0 = time.process_time()
                evaluate_batch(layer, shape, sizes, offs, hw, cost_model="physical", sparsity=c)
                fastest = min(fastest, time.process_time() - t0)
            print(f"throughput {name}, {cache} cache: {len(sizes) / fastest:,.0f} evaluations/s "
                  f"(batch {len(sizes)}, CPU time)")
    search_rates((("dense", base, None), ("random 0.5", dens, bitmask),
                  ("2:4", nm_layer, nm_skip)), hw, 1500 if quick else 6000)
    if plot:
        _plot(xs, curves, nm, plot)


def _plot(xs, curves, nm, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for fmt, vals in curves.items():
        ax[0].plot(xs, [t for t, _ in vals], marker="o", label=fmt)
        ax[1].plot(xs, [e for _, e in vals], marker="o", label=fmt)
    ax[0].plot(list(nm), [t for t, _ in nm.values()], "k*", ms=10, label="nm (N:4)")
    ax[1].plot(list(nm), [e for _, e in nm.values()], "k*", ms=10, label="nm (N:4)")
    ax[0].set(xlabel="weight density", ylabel="best latency (cycles)", title="latency")
    ax[1].set(xlabel="weight density", ylabel="best energy (nJ)", title="energy")
    ax[0].legend()
    fig.suptitle("BERT FFN1 512x3072x768, 256 PEs, skip on weights: best mapping per format")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


def _clustered_masks(shape, rng):
    """Weight masks with clustered zeros over the first two axes (repeated over the rest)."""
    from scipy.ndimage import gaussian_filter
    k, c = shape[:2]
    rest = (1,) * (len(shape) - 2)
    keep = rng.random((-(-k // 8), -(-c // 8))) < 0.5
    block = np.kron(keep, np.ones((8, 8), bool))[:k, :c] & (rng.random((k, c)) < 0.9)
    f = gaussian_filter(rng.standard_normal((k, c)), 4)
    blur = f > np.quantile(f, 0.7)
    return {"block8": np.broadcast_to(block.reshape(k, c, *rest), shape),
            "blur4": np.broadcast_to(blur.reshape(k, c, *rest), shape)}


def mask_section(quick: bool) -> None:
    """Section 6 (module docstring)."""
    from costmodel.sparsity.density import tensor_shapes
    from costmodel.sparsity.montecarlo import walk
    rng = np.random.default_rng(6)
    pes, cfg = 64, uniform({"weight": "bitmask"}, "skip")
    bert, resnet = load_model("bert_base_sparse24"), load_model("resnet50_sparse")
    picks = [next(lay for lay in bert.layers if lay.name.startswith("FFN1")),
             next(lay for lay in resnet.layers if lay.name.startswith("CONV3"))]
    print("\n== 6. Real clustered masks (skip on weight, 64 PEs): sparse/dense compute time ==")
    print(f"{'layer':14s} {'mask':6s} {'d':>5s} {'rows':>4s} {'mask |err| max/mean':>20s} "
          f"{'random |err| max/mean':>22s}")
    for base in picks:
        base = dataclasses.replace(base, density={})
        shp = tensor_shapes(base)["weight"]
        for name, mask in _clustered_masks(shp, rng).items():
            layer = dataclasses.replace(base, density={"weight": np.ascontiguousarray(mask)})
            table, totals, shape, sizes, offs, lv, P = _mapped(layer, rng, 6 if quick else 20,
                                                               pes)
            one = np.ones(len(sizes))
            model = compute_ratio(layer, table, lv, cfg, P, one, totals)
            rand = compute_ratio(layer, table, lv, cfg, P, one, totals, "random")
            dense = np.ones(shp, dtype=bool)
            mc = np.array([walk(layer, shape, sizes[b], offs[b], pes, mask, "weight")
                           / walk(layer, shape, sizes[b], offs[b], pes, dense, "weight")
                           for b in range(len(sizes))])
            em, er = np.abs(model / mc - 1), np.abs(rand / mc - 1)
            print(f"{layer.name[:14]:14s} {name:6s} {mask.mean():5.3f} {len(mc):4d} "
                  f"{100 * em.max():9.2f}%/{100 * em.mean():.2f}% "
                  f"{100 * er.max():11.2f}%/{100 * er.mean():.2f}%")


def mask_speed(quick: bool) -> None:
    """Evaluations per second (CPU time, best of 3, one batch) of the physical model on BERT
    FFN1 with a clustered (block8) weight mask, against dense and the random law at the mask's
    density; "cold" empties the expected-max cache and the mask distributions before each
    call (a search's first batch), "warm" keeps them."""
    from costmodel.sparsity.density import tensor_shapes
    rng = np.random.default_rng(3)
    base = Layer("FFN1", "GEMM", {"M": 512, "N": 3072, "K": 768})
    hw = Hardware(num_pes=256, l2_size=1 << 20, offchip_bw=16, noc_bw=256)
    shape, sizes, offs = random_mappings(base, rng, 300 if quick else 1500, 256)
    mask = np.ascontiguousarray(_clustered_masks(tensor_shapes(base)["weight"],
                                                 np.random.default_rng(6))["block8"])
    cfg = uniform({"weight": "bitmask"}, "skip")
    cases = (("dense", base, None),
             (f"random {mask.mean():.3f}", dataclasses.replace(
                 base, density={"weight": float(mask.mean())}), cfg),
             ("block8 mask", dataclasses.replace(base, density={"weight": mask}), cfg))
    evaluate_batch(base, shape, sizes[:64], offs[:64], hw, cost_model="physical")
    print(f"\n== 6b. Mask speed (FFN1, batch {len(sizes)}, 256 PEs, CPU time, best of 3) ==")
    rate = {}
    for cache in ("cold", "warm"):
        for name, layer, c in cases:
            fastest = np.inf
            evaluate_batch(layer, shape, sizes, offs, hw, cost_model="physical", sparsity=c)
            for _ in range(3):
                if cache == "cold":
                    _empty_caches()
                t0 = time.process_time()
                evaluate_batch(layer, shape, sizes, offs, hw, cost_model="physical", sparsity=c)
                fastest = min(fastest, time.process_time() - t0)
            rate[name] = len(sizes) / fastest
            print(f"{cache} {name:14s} {rate[name]:10,.0f}/s "
                  f"({100 * rate[name] / rate['dense']:.0f}% of dense)")
    search_rates(cases, hw, 1500 if quick else 6000)


def search_rates(cases, hw, budget: int) -> None:
    """Evaluations per second (CPU time) of the mapper's GA on each ``(name, layer,
    sparsity)`` case, one island, from empty caches; the first case is the reference."""
    from costmodel import Network
    from mapper.tuning.settings import TuneSettings
    from mapper.tuning.tuner import tune_model
    print(f"search: mapper's GA on FFN1, budget {budget}, one island, from empty caches")
    rate = {}
    for name, layer, c in cases:
        _empty_caches()
        settings = TuneSettings(budget=budget, jobs=1, islands=1, extra_islands=0,
                                cost_model="physical", sparsity=c, seed=1)
        t0 = time.process_time()
        res = tune_model(Network("FFN1", [layer]), hw, settings).layers[0]
        rate[name] = res.evaluations / (time.process_time() - t0)
        print(f"search {name:12s} {res.evaluations:6d} evaluations {rate[name]:8,.0f}/s "
              f"({100 * rate[name] / rate[cases[0][0]]:.0f}% of dense), best "
              f"{res.report.runtime:,} cycles")


def _empty_caches() -> None:
    stats.clear_caches()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--plot", default=None)
    ap.add_argument("--only", default="123456")
    a = ap.parse_args()
    if "1" in a.only:
        monte_carlo_section(a.quick)
        nm_monte_carlo_section(a.quick)
        multilevel_section(a.quick)
    if "1" in a.only or "d" in a.only:   # d: the tuned mappings (item 1d) alone
        tuned_section(a.quick)
    if "2" in a.only:
        scalesim_section()
    if "3" in a.only:
        sparseloop_section()
    if "4" in a.only:
        search_section(a.quick)
    if "5" in a.only:
        density_sweep(a.quick, a.plot)
    if "6" in a.only:
        mask_section(a.quick)
        mask_speed(a.quick)


if __name__ == "__main__":
    main()
