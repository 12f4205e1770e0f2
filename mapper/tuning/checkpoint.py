"""Check-pointed layers: a finished layer's result as a JSON record, written atomically,
so an interrupted run resumes where it stopped; names tie a record to its settings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costmodel import Dataflow, Layer
from mapper.atomic import write_text
from mapper.search.loop import SearchResult
from search_spaces import MappingSpace

HISTORY_KEPT = 200  # last history entries kept per layer (convergence plots)


def shape_hash(layer: Layer) -> str:
    """A stable short name for a layer's shape."""
    return hashlib.sha256(repr(layer.shape_key()).encode()).hexdigest()[:16]


def layer_record(res: SearchResult, space: MappingSpace) -> dict:
    """A layer's result as a JSON-able record (``space`` decodes its Pareto front)."""
    front = []
    if res.pareto is not None and res.pareto.genomes is not None:
        for k, pt in enumerate(res.pareto.points):
            front.append({**dict(zip(res.pareto.objectives, map(float, pt))),
                          "dataflow": str(space.decode(res.pareto.genomes, k))})
    df = res.dataflow
    return {"dataflow": None if df is None else [str(d) for d in df.directives],
            "l2_resident": None if df is None else df.l2_resident,
            "evaluations": res.evaluations, "seconds": res.seconds,
            "best": None if not np.isfinite(res.best_fitness) else res.best_fitness,
            "history": res.history[-HISTORY_KEPT:], "pareto": front}


def record_dataflow(rec: dict) -> Dataflow | None:
    """The dataflow of a record (None when the layer had no feasible mapping)."""
    if not rec.get("dataflow"):
        return None
    from costmodel.io._dfsl import parse_directive

    return Dataflow([parse_directive(t) for t in rec["dataflow"]],
                    l2_resident=rec.get("l2_resident"))


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint folder of one run: a record per finished layer shape and the search
    states of unfinished islands, named by shape and by the settings' fingerprint."""

    folder: Path
    fingerprint: str

    def _name(self, layer: Layer, starts: tuple[Dataflow, ...] = ()) -> str:
        name = f"layer-{shape_hash(layer)}-{self.fingerprint}"
        if starts:  # a search started from other stated mappings is another search
            digest = hashlib.sha256(repr([str(d) for d in starts]).encode()).hexdigest()
            name += f"-s{digest[:8]}"
        return name

    def state_file(self, layer: Layer, starts: tuple[Dataflow, ...] = ()) -> Path:
        """Where the layer's first island saves its search state (others: ``.iN`` before)."""
        return self.folder / f"{self._name(layer, starts)}.state"

    def load(self, layer: Layer, starts: tuple[Dataflow, ...] = ()) -> dict | None:
        """The layer's record, or None (none yet, or a damaged one: recomputed)."""
        f = self.folder / f"{self._name(layer, starts)}.json"
        if not f.exists():
            return None
        try:
            return json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def save(self, layer: Layer, record: dict, states: list[Path],
             starts: tuple[Dataflow, ...] = ()) -> None:
        """Write the layer's record, then remove its islands' search ``states``."""
        write_text(self.folder / f"{self._name(layer, starts)}.json", json.dumps(record))
        for f in states:
            f.unlink(missing_ok=True)
