"""Hardware-mapping co-optimisation under area/power budgets.

Outer loop over hardware configurations (a :class:`HardwareSpace`, budgets enforced on the
provisioned design), inner loop = whole-model mapping search on each candidate. One shared
configuration serves all layers; optionally (ConfuciuX-style) each distinct layer gets its own
configuration within the same budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from costmodel import Hardware, Network
from costmodel.errors import MaestroInputError
from mapper.tuning.tuner import ModelResult, TuneSettings, distinct_shapes, tune_layer, tune_model
from search_spaces.hardware_space import HardwareSpace


@dataclass
class CoOptResult:
    best: ModelResult
    candidates: list[dict] = field(default_factory=list)  # every hardware tried, with score
    seconds: float = 0.0
    per_layer_hardware: dict[str, Hardware] | None = None


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
                progress: Callable[[str], None] | None = None) -> CoOptResult:
    """Search hardware (within budget) and per-layer mappings jointly; lower objective wins."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    inner = replace(settings, jobs=settings.jobs)
    tried: dict[tuple, tuple[float, ModelResult]] = {}
    cfg = feasible_configs(space, rng, candidates)
    for rnd in range(rounds):
        for i in range(len(cfg["num_pes"])):
            hw = space.hardware(cfg, i)
            key = tuple(hw.to_dict().values())
            if key in tried:
                continue
            res = tune_model(network, hw, inner)
            tried[key] = (_score(res, settings.objective), res)
            if progress:
                progress(f"round {rnd + 1}/{rounds} hw {len(tried)}: {hw.num_pes} PEs, "
                         f"L1 {hw.l1_size}, L2 {hw.l2_size}, NoC {hw.noc_bw} -> "
                         f"{tried[key][0]:.6g}")
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


def per_layer_hardware(network: Network, space: HardwareSpace, settings: TuneSettings, *,
                       candidates: int = 8) -> dict[str, tuple[Hardware, float]]:
    """ConfuciuX-style: the best in-budget configuration for each distinct layer shape."""
    rng = np.random.default_rng(settings.seed)
    cfg = feasible_configs(space, rng, candidates)
    first, _ = distinct_shapes(network)
    out = {}
    for li in first:
        layer = network.layers[li]
        best = (None, float("inf"))
        for i in range(len(cfg["num_pes"])):
            hw = space.hardware(cfg, i)
            r = tune_layer(layer, hw, settings)
            if r.best_fitness < best[1]:
                best = (hw, r.best_fitness)
        out[layer.name] = best
    return out
