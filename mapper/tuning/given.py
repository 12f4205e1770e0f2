"""The mappings a model file already states, scored as a baseline for the tuned ones.

A MAESTRO ``.m`` file (or a YAML model) usually comes with a dataflow per layer: the one its
user runs today. ``mapper tune`` searches afresh, and reports those given mappings beside its
own, under the same cost model, hardware, sparsity and constraints (a given mapping that
needs more L1 than the hardware has is not a fair baseline), so the gain is one number away,
and a layer whose given mapping beats the search is named rather than hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodel import Hardware, Network
from costmodel.analysis import evaluate
from costmodel.errors import MaestroInputError
from mapper.search.evaluator import METRICS, objective_values
from mapper.tuning.settings import TuneSettings


@dataclass(frozen=True)
class GivenMapping:
    """One layer's stated mapping, scored. ``feasible``: valid under the cost model and
    within the run's constraints (what the search asks of its own mappings); ``reason`` says
    why not, or why it could not be scored at all (then the figures are None)."""

    runtime: int | None = None
    energy_nj: float | None = None
    feasible: bool = False
    reason: str = ""


def score_given(network: Network, hw: Hardware,
                settings: TuneSettings) -> list[GivenMapping | None]:
    """Per layer of ``network``: its stated mapping scored, or None where it states none."""
    out: list[GivenMapping | None] = []
    for layer in network.layers:
        if layer.dataflow is None:
            out.append(None)
            continue
        try:
            rep = evaluate(layer, hw, cost_model=settings.cost_model, sparsity=settings.sparsity)
        except MaestroInputError as e:  # e.g. L2Resident under `maestro`
            out.append(GivenMapping(reason=str(e)))
            continue
        metrics = {k: np.array([getattr(rep, k)]) for k in METRICS if k not in ("valid", "flags")}
        over = settings.constraints.breaches(metrics, hw)
        if not rep.valid:
            reason = rep.reason or "flagged by the cost model"
        elif over:
            reason = "needs " + ", ".join(over)
        else:
            reason = ""
        out.append(GivenMapping(int(rep.runtime), float(rep.energy_nj), not reason, reason))
    return out


def beats(given: GivenMapping | None, report, objective: str) -> bool:
    """Whether a feasible given mapping scores strictly lower than ``report`` on
    ``objective``."""
    if given is None or not given.feasible or report is None:
        return False
    vals = objective_values({"runtime": np.array([given.runtime, report.runtime]),
                             "energy_nj": np.array([given.energy_nj, report.energy_nj])},
                            objective)
    return bool(vals[0] < vals[1])
