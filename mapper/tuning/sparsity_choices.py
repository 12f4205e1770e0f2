"""The accelerator's sparsity features as hardware choices: tune a model under each
:class:`~costmodel.sparsity.SparsityConfig` (formats per tensor, skip/gate/none) and rank them.

Each choice is a design point (the hardware has one set of features for all layers), so the
choices are compared on the model's totals, the objective of the settings. A choice that does
not apply to the model (an ``nm`` format on an unstructured sparse tensor) is left out, with
the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from costmodel import Hardware, Network
from costmodel.errors import MaestroInputError
from costmodel.sparsity import SparsityConfig
from costmodel.sparsity.density import layer_density
from costmodel.sparsity.report import check_formats
from mapper.tuning.settings import TuneSettings
from mapper.tuning.tuner import ModelResult, tune_model


@dataclass
class ChoiceResult:
    """One sparsity choice: its tuned model (None when it does not apply) and its score."""

    sparsity: SparsityConfig
    result: ModelResult | None
    score: float
    reason: str = ""


def model_score(result: ModelResult, objective: str) -> float:
    """The model total the objective ranks by (lower is better)."""
    t = result.totals()
    if objective == "latency":
        return float(t["runtime_cycles"])
    if objective == "energy":
        return float(t["energy_nj"])
    return float(t["runtime_cycles"]) * float(t["energy_nj"])


def tune_sparsity_choices(network: Network, hw: Hardware, settings: TuneSettings,
                          choices: Sequence[SparsityConfig]) -> list[ChoiceResult]:
    """Tune ``network`` under each choice (physical model); best first."""
    if settings.cost_model != "physical":
        raise MaestroInputError("sparsity choices need the physical cost model (maestro is "
                                "dense)", rule="settings")
    out = []
    for cfg in choices:
        try:
            for layer in network.layers:
                check_formats(layer, layer_density(layer), cfg)
        except MaestroInputError as exc:
            out.append(ChoiceResult(cfg, None, float("inf"), exc.message))
            continue
        res = tune_model(network, hw, dataclasses.replace(settings, sparsity=cfg))
        out.append(ChoiceResult(cfg, res, model_score(res, settings.objective)))
    return sorted(out, key=lambda c: c.score)


def describe(cfg: SparsityConfig) -> str:
    """``weight:nm input:dense skip on weight``: one line per choice."""
    d = cfg.to_dict()
    fm = " ".join(f"{t}:{'/'.join(sorted(set(lv.values())))}" for t, lv in d["formats"].items())
    return f"{fm or 'dense'} {d['compute']} on {'+'.join(d['on'])}"
