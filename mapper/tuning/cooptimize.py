"""Hardware-mapping co-optimisation under area/power budgets.

Outer loop over hardware configurations (a :class:`HardwareSpace`, budgets enforced on the
provisioned design), inner loop = whole-model mapping search on each candidate. One shared
configuration serves all layers; optionally (ConfuciuX-style) each distinct layer gets its own
configuration within the same budget. With a checkpoint folder every candidate's layers are
check-pointed like a plain tune (keyed by the hardware), so an interrupted run resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodel import Hardware, Layer, Network
from costmodel.analysis import evaluate
from costmodel.errors import MaestroInputError
from mapper.search.loop import SearchResult
from mapper.tuning.tuner import (
    LayerResult,
    ModelResult,
    TuneSettings,
    distinct_shapes,
    tune_layer,
    tune_model,
)
from search_spaces.hardware_space import HardwareSpace


@dataclass
class CoOptResult:
    best: ModelResult
    candidates: list[dict] = field(default_factory=list)  # every hardware tried, with score
    seconds: float = 0.0  # wall time of the whole co-optimisation, every candidate included


def _score(res: ModelResult, objective: str) -> float:
    t = res.totals()
    if t["layers_mapped"] < t["layers"]:
        return float("inf")
    if objective == "energy":
        return t["energy_nj"]
    if objective == "edp":
        return t["runtime_cycles"] * t["energy_nj"]
    return float(t["runtime_cycles"])


def feasible_configs(space: HardwareSpace, rng: np.random.Generator, n: int,
                     tries: int = 200) -> dict[str, np.ndarray]:
    """``n`` configurations within budget (rejection sampling); a clear error if none exist."""
    picked = []
    for _ in range(tries):
        cfg = space.sample(rng, 4 * n)
        ok = np.nonzero(space.feasible(cfg))[0]
        picked += [{k: v[i] for k, v in cfg.items()} for i in ok]
        if len(picked) >= n:
            break
    if not picked:
        cheapest = {k: space.values(k)[:1] for k in cfg}
        c = space.cost(cheapest)
        raise MaestroInputError(
            f"no hardware in the space meets the budget (area <= {space.area_budget}, power <= "
            f"{space.power_budget}); the smallest configuration needs area "
            f"{float(c['area'][0]):.4g} and power {float(c['power'][0]):.4g}", rule="budget")
    picked = picked[:n]
    return {k: np.array([p[k] for p in picked]) for k in picked[0]}


def co_optimize(network: Network, space: HardwareSpace, settings: TuneSettings, *,
                candidates: int = 8, rounds: int = 2,
                progress: Callable[[str], None] | None = None,
                checkpoint_dir: str | Path | None = None) -> CoOptResult:
    """Search hardware (within budget) and per-layer mappings jointly; lower objective wins.
    ``checkpoint_dir``: check-point every candidate's layers there, so a rerun resumes."""
    if candidates < 1 or rounds < 1:
        raise MaestroInputError(f"need at least 1 hardware candidate and 1 round, got "
                                f"{candidates} and {rounds}", rule="usage")
    t0 = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    tried: dict[tuple, tuple[float, ModelResult]] = {}
    cfg = feasible_configs(space, rng, candidates)
    for rnd in range(rounds):
        for i in range(len(cfg["num_pes"])):
            hw = space.hardware(cfg, i)
            key = tuple(hw.to_dict().values())
            if key in tried:
                continue
            res = tune_model(network, hw, settings, checkpoint_dir=checkpoint_dir)
            tried[key] = (_score(res, settings.objective), res)
            if progress:
                resumed = " (resumed)" if res.resumed_layers else ""
                progress(f"round {rnd + 1}/{rounds} hw {len(tried)}: {hw.num_pes} PEs, "
                         f"L1 {hw.l1_size}, L2 {hw.l2_size}, NoC {hw.noc_bw} -> "
                         f"{tried[key][0]:.6g}{resumed}, "
                         f"{time.perf_counter() - t0:.1f}s elapsed")
        ranked = sorted(tried.values(), key=lambda x: x[0])
        if rnd + 1 < rounds:
            best_hw = [r.hardware for _, r in ranked[: max(1, candidates // 4)]]
            base = HardwareSpace.from_hardware(best_hw)
            idx = rng.integers(0, len(best_hw), candidates * 4)
            mutated = space.mutate(rng, {k: v[idx] for k, v in base.items()})
            ok = np.nonzero(space.feasible(mutated))[0][:candidates]
            cfg = {k: v[ok] for k, v in mutated.items()}
            if not len(ok):
                break
    ranked = sorted(tried.values(), key=lambda x: x[0])
    cands = [{"hardware": r.hardware.to_dict(), "score": s,
              **{k: float(v[0]) for k, v in space.cost(HardwareSpace.from_hardware([r.hardware]))
                 .items()}} for s, r in ranked]
    return CoOptResult(ranked[0][1], cands, time.perf_counter() - t0)


def _best_per_shape(network: Network, space: HardwareSpace, settings: TuneSettings,
                    candidates: int, progress: Callable[[str], None] | None
                    ) -> dict[int, tuple[Hardware | None, SearchResult | None]]:
    """For each distinct layer shape (index of its first layer): the in-budget configuration
    with the best search result on it, and that result."""
    if candidates < 1:
        raise MaestroInputError(f"need at least 1 hardware candidate, got {candidates}",
                                rule="usage")
    rng = np.random.default_rng(settings.seed)
    cfg = feasible_configs(space, rng, candidates)
    first, _ = distinct_shapes(network)
    out: dict[int, tuple[Hardware | None, SearchResult | None]] = {}
    for n, li in enumerate(first, start=1):
        layer = network.layers[li]
        best: tuple[Hardware | None, SearchResult | None] = (None, None)
        for i in range(len(cfg["num_pes"])):
            hw = space.hardware(cfg, i)
            r = tune_layer(layer, hw, settings)
            if best[1] is None or r.best_fitness < best[1].best_fitness:
                best = (hw, r)
        out[li] = best
        if progress:
            hw = best[0]
            progress(f"[{n}/{len(first)} distinct layers] {layer.name}: "
                     + (f"{hw.num_pes} PEs, L1 {hw.l1_size}, L2 {hw.l2_size}, NoC {hw.noc_bw}"
                        if hw is not None and np.isfinite(best[1].best_fitness)
                        else "no feasible mapping"))
    return out


def per_layer_hardware(network: Network, space: HardwareSpace, settings: TuneSettings, *,
                       candidates: int = 8) -> dict[str, tuple[Hardware, float]]:
    """ConfuciuX-style: the best in-budget configuration for each distinct layer shape."""
    best = _best_per_shape(network, space, settings, candidates, None)
    return {network.layers[li].name: (hw, r.best_fitness if r is not None else float("inf"))
            for li, (hw, r) in best.items()}


def per_layer_result(network: Network, space: HardwareSpace, settings: TuneSettings, *,
                     candidates: int = 8, progress: Callable[[str], None] | None = None
                     ) -> tuple[ModelResult, dict[str, Hardware]]:
    """:func:`per_layer_hardware` as a whole-model result (every layer mapped and evaluated
    on its own configuration, identical shapes sharing one), and each layer's hardware."""
    t0 = time.perf_counter()
    best = _best_per_shape(network, space, settings, candidates, progress)
    first, of_layer = distinct_shapes(network)
    layers, hardware = [], {}
    for i, layer in enumerate(network.layers):
        li = first[of_layer[i]]
        hw, r = best[li]
        df = r.dataflow if r is not None and np.isfinite(r.best_fitness) else None
        tuned = Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides), df,
                      density=dict(layer.density))
        hardware[layer.name] = hw
        reused = li != i
        rep = (evaluate(tuned, hw, cost_model=settings.cost_model, sparsity=settings.sparsity)
               if df is not None else None)
        layers.append(LayerResult(tuned, rep,
                                  of_layer[i], reused, r.evaluations if r else 0,
                                  r.seconds if r else 0.0, list(r.history) if r else []))
    some_hw = next(h for h in hardware.values() if h is not None)
    result = ModelResult(network, some_hw, settings, layers, time.perf_counter() - t0)
    return result, hardware
