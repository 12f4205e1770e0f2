"""Write tuning results: MAESTRO ``.m``, YAML, per-layer CSV, JSON summary and plots."""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from pathlib import Path

from costmodel import Network
from costmodel.io import format_hardware, format_mapping, format_network_yaml
from mapper.atomic import write_text
from mapper.tuning.tuner import ModelResult

REPORT_COLUMNS = (
    "layer", "type", "dims", "strides", "count", "shape_index", "reused", "runtime", "num_macs",
    "energy_nj", "throughput", "avg_utilized_pes", "l1_size", "l2_size", "noc_bw_req",
    "offchip_bw_req", "area", "power", "valid", "evaluations", "seconds", "dataflow")


def _finite(v):
    return v if not isinstance(v, float) or math.isfinite(v) else None


def report_rows(result: ModelResult) -> list[dict]:
    rows = []
    for r in result.layers:
        lay, rep = r.layer, r.report
        row = {"layer": lay.name, "type": lay.type,
               "dims": " ".join(f"{k}:{v}" for k, v in lay.dims.items()),
               "strides": " ".join(f"{k}:{v}" for k, v in lay.strides.items()),
               "count": result.count(r), "shape_index": r.shape_index,
               "reused": int(r.reused),
               "evaluations": 0 if r.reused else r.evaluations,
               "seconds": 0.0 if r.reused else round(r.seconds, 3),
               "dataflow": str(lay.dataflow) if lay.dataflow else ""}
        for k in REPORT_COLUMNS:
            if k not in row:
                row[k] = getattr(rep, k) if rep is not None else ""
        rows.append(row)
    return rows


def write_results(result: ModelResult, out_dir: str | Path, *, plots: bool = True) -> dict:
    """Write every result file into ``out_dir`` (atomically); returns the summary dict."""
    out = Path(out_dir)
    mapped = Network(result.network.name, [r.layer for r in result.layers if r.found])
    write_text(out / "mappings.m", format_mapping(mapped))
    write_text(out / "mappings.yaml", format_network_yaml(mapped))
    write_text(out / "hardware.m", format_hardware(result.hardware))
    rows = report_rows(result)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REPORT_COLUMNS)
    w.writeheader()
    w.writerows(rows)
    write_text(out / "report.csv", buf.getvalue())
    s = result.settings
    summary = {
        "model": result.network.name,
        "totals": result.totals(),
        "hardware": result.hardware.to_dict(),
        "settings": {"strategy": s.strategy, "objective": s.objective, "budget": s.budget,
                     "time_limit": s.time_limit, "seed": s.seed, "islands": s.islands,
                     "extra_islands": s.extra_islands, "extend_gap": s.extend_gap,
                     "extend_max_gap": s.extend_max_gap, "prune": s.prune,
                     "jobs": s.jobs,
                     "max_levels": s.max_levels, "template": s.template,
                     "constraints": {k: v for k, v in vars(s.constraints).items()}},
        "timing": {"seconds": round(result.seconds, 3),
                   "resumed_layers": result.resumed_layers},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "unmapped_layers": [r.layer.name for r in result.layers if not r.found],
        "invalid_layers": [r.layer.name for r in result.layers if r.found and not r.report.valid],
        "files": ["mappings.m", "mappings.yaml", "hardware.m", "report.csv", "summary.json"],
    }
    fronts = [(r.layer.name, p) for r in result.layers if not r.reused for p in r.pareto]
    if fronts:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["layer", "runtime", "energy_nj", "area", "dataflow"])
        w.writerows([name, p["runtime"], p["energy_nj"], p["area"], p["dataflow"]]
                     for name, p in fronts)
        write_text(out / "pareto.csv", buf.getvalue())
        summary["files"].append("pareto.csv")
    if plots:
        made = plot_results(result, out)
        summary["files"] += made
    write_text(out / "summary.json", json.dumps(summary, indent=1, default=_finite) + "\n")
    return summary


def plot_results(result: ModelResult, out: Path) -> list[str]:
    """Per-layer runtime bars and best-so-far curves (PNG); skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    found = [r for r in result.layers if r.found]
    if not found:
        return []
    fig, ax = plt.subplots(figsize=(max(6, 0.18 * len(found)), 3.5))
    ax.bar(range(len(found)), [r.report.runtime for r in found], color="tab:blue")
    ax.set_xticks(range(len(found)), [r.layer.name for r in found], rotation=90, fontsize=6)
    ax.set_ylabel("runtime (cycles)")
    ax.set_title(f"{result.network.name}: best mapping per layer ({result.settings.strategy})")
    fig.tight_layout()
    fig.savefig(out / "layers.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in result.layers:
        if r.reused or not r.history:
            continue
        ev = [h[0] for h in r.history]
        best = [h[2] for h in r.history]
        final = best[-1]
        if final and math.isfinite(final):
            ax.plot(ev, [b / final for b in best], lw=0.8)
    ax.set_xscale("log")
    ax.set_ylim(0.95, 3)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best so far / final best")
    ax.set_title("convergence per distinct layer")
    fig.tight_layout()
    fig.savefig(out / "convergence.png", dpi=120)
    plt.close(fig)
    made = ["layers.png", "convergence.png"]
    tuned = [r for r in result.layers if not r.reused and r.pareto]
    if tuned:
        fig, ax = plt.subplots(figsize=(5, 4))
        for r in tuned[:8]:
            pts = sorted((p["runtime"], p["energy_nj"]) for p in r.pareto)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, lw=0.8,
                    label=r.layer.name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("runtime (cycles)")
        ax.set_ylabel("energy (nJ)")
        ax.set_title("Pareto fronts (latency vs energy; area also kept)")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out / "pareto.png", dpi=120)
        plt.close(fig)
        made.append("pareto.png")
    return made
