"""Non-dominated (Pareto) archive of evaluated mappings over several objectives."""

from __future__ import annotations

import numpy as np

from search_spaces import Genomes

PARETO_OBJECTIVES = ("runtime", "energy_nj", "area")


def non_dominated(points: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Boolean mask of the rows of ``points`` (minimised) that no other row dominates."""
    n = len(points)
    dominated = np.zeros(n, dtype=bool)
    for a in range(0, n, chunk):
        p = points[a:a + chunk, None, :]  # [c, 1, D]
        le = np.all(points[None, :, :] <= p, axis=2) & np.any(points[None, :, :] < p, axis=2)
        dominated[a:a + chunk] = le.any(axis=1)
    return ~dominated


class ParetoArchive:
    """Keeps the feasible mappings that are not dominated on ``objectives``."""

    def __init__(self, objectives=PARETO_OBJECTIVES):
        self.objectives = tuple(objectives)
        self.points = np.zeros((0, len(self.objectives)))
        self.genomes: Genomes | None = None

    def add(self, g: Genomes, metrics: dict[str, np.ndarray], feasible: np.ndarray) -> None:
        idx = np.nonzero(feasible)[0]
        if len(idx) == 0:
            return
        pts = np.stack([np.asarray(metrics[k], dtype=float)[idx] for k in self.objectives], 1)
        pts, first = np.unique(pts, axis=0, return_index=True)
        new = g.take(idx[first])
        allp = np.concatenate([self.points, pts])
        allg = new if self.genomes is None else Genomes.concat([self.genomes, new])
        keep = non_dominated(allp)
        self.points, self.genomes = allp[keep], allg.take(np.nonzero(keep)[0])

    def merge(self, other: ParetoArchive) -> None:
        """Add the points of another archive over the same objectives (e.g. another run's)."""
        if other.genomes is not None:
            self.add(other.genomes, dict(zip(self.objectives, other.points.T)),
                     np.ones(len(other), dtype=bool))

    def __len__(self) -> int:
        return len(self.points)
