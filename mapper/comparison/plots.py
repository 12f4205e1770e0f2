"""A comparison's plots: convergence over evaluations and seconds, and the Pareto front."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mapper.atomic import write_text
from mapper.comparison.pareto_front import ParetoResult
from mapper.comparison.runs import RunRecord
from mapper.comparison.scoring import WITHIN
from mapper.search.strategies import STRATEGIES

GAP_CAP = 10.0  # plots clip the gap to best-known (and "nothing feasible yet") at +1000%


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curves(records: Sequence[RunRecord], grid: np.ndarray, axis: int) -> np.ndarray:
    """``[runs, len(grid)]`` gap to best-known of the best-so-far at each grid point
    (``axis`` 0: evaluations, 1: seconds), clipped to :data:`GAP_CAP`."""
    out = np.full((len(records), len(grid)), GAP_CAP)
    for k, r in enumerate(records):
        if not r.history or not math.isfinite(r.best_known):
            continue
        xs = np.array([h[axis] for h in r.history], dtype=float)
        bs = np.array([h[2] for h in r.history], dtype=float)
        idx = np.searchsorted(xs, grid, side="right") - 1
        vals = np.where(idx >= 0, bs[np.maximum(idx, 0)], np.inf)
        with np.errstate(invalid="ignore"):
            out[k] = np.minimum(vals / r.best_known - 1, GAP_CAP)
    return out


def plot_convergence(records: Sequence[RunRecord], out: Path) -> list[str]:
    """Best-so-far vs evaluations (mode ``budget``) and vs seconds (mode ``time``): median and
    inter-quartile range over seeds, layers and accelerators, as the gap to best-known."""
    plt = pyplot()
    made = []
    strategies = [s for s in STRATEGIES if any(r.strategy == s for r in records)]
    colors = dict(zip(STRATEGIES, plt.get_cmap("tab10").colors))
    for mode, axis, fname, xlabel in (("budget", 0, "convergence_evals.png", "evaluations"),
                                      ("time", 1, "convergence_seconds.png", "seconds")):
        rs = [r for r in records if r.mode == mode]
        if not rs:
            continue
        hi = max(r.budget or 0 for r in rs) if mode == "budget" else max(
            r.time_limit or 0.0 for r in rs)
        grid = (np.unique(np.geomspace(1, hi, 80).round()) if mode == "budget"
                else np.geomspace(min(0.01, hi / 10), hi, 80))
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for st in strategies:
            sub = [r for r in rs if r.strategy == st]
            if not sub:
                continue
            c = _curves(sub, grid, axis)
            q1, med, q3 = np.percentile(c, [25, 50, 75], axis=0)
            ax.plot(grid, 100 * med, color=colors[st], lw=1.5, label=st)
            ax.fill_between(grid, 100 * q1, 100 * q3, color=colors[st], alpha=0.12, lw=0)
        ax.axhline(100 * WITHIN, color="k", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(0, 100 * GAP_CAP * 1.05)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("best-so-far above best-known (%)")
        nl = len({(r.model, r.layer, r.accelerator) for r in rs})
        ax.set_title(f"equal {'budget' if mode == 'budget' else 'time'}: median and IQR over "
                     f"{nl} layer x accelerator pairs and seeds", fontsize=9)
        ax.legend(fontsize=7, ncol=3, loc="lower left")
        ax.grid(alpha=0.3, which="both", lw=0.4)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=90)
        plt.close(fig)
        made.append(fname)
    return made


def plot_pareto(p: ParetoResult, out: Path) -> list[str]:
    """``pareto.png`` (all feasible points and the front; and a zoom on the front) and
    ``pareto.csv`` (the front)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["runtime_cycles", "energy_nj"])
    w.writerows([[int(x), f"{y:.6g}"] for x, y in p.front])
    write_text(out / "pareto.csv", buf.getvalue())
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0))
    for ax, zoom in zip(axes, (False, True)):
        pts = p.points
        if zoom and len(p.front):  # the neighbourhood of the front, on linear axes
            (x0, y0), (x1, y1) = p.front.min(axis=0), p.front.max(axis=0)
            xs, ys = max(x1 - x0, 0.02 * x0), max(y1 - y0, 0.02 * y0)
            box = [x0 - 0.1 * xs, x1 + 0.5 * xs, y0 - 0.1 * ys, y1 + 0.5 * ys]
            pts = pts[(pts[:, 0] <= box[1]) & (pts[:, 1] <= box[3])]
            ax.set_xlim(box[0], box[1])
            ax.set_ylim(box[2], box[3])
        ax.scatter(pts[:, 0], pts[:, 1], s=4 if zoom else 3, alpha=0.3, color="tab:gray",
                   lw=0, label=f"feasible evaluations ({len(pts)})", rasterized=True)
        ax.step(p.front[:, 0], p.front[:, 1], where="post", color="tab:red", lw=1.2)
        ax.scatter(p.front[:, 0], p.front[:, 1], s=14, color="tab:red", zorder=3,
                   label=f"non-dominated front ({len(p.front)})")
        if not zoom:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("latency (cycles)")
        ax.set_ylabel("energy (nJ)")
        ax.set_title("near the front" if zoom else
                     f"NSGA-II, {p.evaluations} evaluations: {p.model} {p.layer} on "
                     f"{p.accelerator}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both", lw=0.4)
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=90)
    plt.close(fig)
    return ["pareto.csv", "pareto.png"]
