"""Write tuning results: MAESTRO ``.m``, YAML, per-layer CSV, JSON summary and plots.

Units: runtime in cycles, energy in nJ, area in um^2 and power in mW (MAESTRO's nominal
area/power table, :class:`costmodel.energy.AreaPowerModel`), sizes in elements.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from pathlib import Path

from costmodel import Hardware, Network
from costmodel.io import (
    format_hardware,
    format_hardware_yaml,
    format_mapping,
    format_network_yaml,
)
from mapper.atomic import write_text
from mapper.tuning.given import beats
from mapper.tuning.tuner import ModelResult

#: report.csv columns: (header, CostReport field or None for a layer/search field)
REPORT_FIELDS = (
    ("layer", None), ("type", None), ("dims", None), ("strides", None), ("count", None),
    ("shape_index", None), ("reused", None), ("runtime", "runtime"), ("num_macs", "num_macs"),
    ("effectual_macs", "effectual_macs"),
    ("energy_nj", "energy_nj"), ("throughput", "throughput"),
    ("avg_utilized_pes", "avg_utilized_pes"), ("l1_size", "l1_size"), ("l2_size", "l2_size"),
    ("noc_bw_req", "noc_bw_req"), ("offchip_bw_req", "offchip_bw_req"), ("area_um2", "area"),
    ("power_mw", "power"), ("valid", "valid"), ("cost_model", "cost_model"), ("bound", "bound"),
    ("dram_read", "dram_read"), ("dram_write", "dram_write"),
    ("dram_read_input", "dram_read_input"), ("dram_read_weight", "dram_read_weight"),
    ("dram_read_output", "dram_read_output"), ("dram_energy_nj", "dram_energy_nj"),
    ("l2_resident", "l2_resident"), ("evaluations", None), ("seconds", None),
    ("dataflow", None), ("given_runtime", None), ("given_energy_nj", None),
    ("given_feasible", None))
REPORT_COLUMNS = tuple(h for h, _ in REPORT_FIELDS)
#: a NoC bandwidth at or above this is MAESTRO's "unconstrained" value: the area/power
#: model's bus term grows linearly with it, so area and power would be meaningless
UNCONSTRAINED_NOC_BW = 1_000_000
#: files a run may write; those a run does not write are removed, so none is stale
ARTEFACTS = ("mappings.m", "mappings.yaml", "hardware.m", "hardware.yaml", "per_layer_hw.json",
             "report.csv", "pareto.csv", "layers.png", "convergence.png", "pareto.png",
             "summary.json")
COUNT_NOTE = ("a layer with count n stands for n identical instances (e.g. one per attention "
              "head): the totals add its runtime and energy n times; mappings.m holds it once")


def _finite(v):
    return v if not isinstance(v, float) or math.isfinite(v) else None


def report_rows(result: ModelResult,
                hardware_per_layer: dict[str, Hardware] | None = None) -> list[dict]:
    """One report.csv row per layer; area and power stay empty on an unconstrained NoC."""
    rows = []
    given_of = result.given or [None] * len(result.layers)
    for r, given in zip(result.layers, given_of):
        lay, rep = r.layer, r.report
        hw = (hardware_per_layer or {}).get(lay.name, result.hardware)
        row = {"layer": lay.name, "type": lay.type,
               "dims": " ".join(f"{k}:{v}" for k, v in lay.dims.items()),
               "strides": " ".join(f"{k}:{v}" for k, v in lay.strides.items()),
               "count": result.count(r), "shape_index": r.shape_index,
               "reused": int(r.reused),
               "evaluations": 0 if r.reused else r.evaluations,
               "seconds": 0.0 if r.reused else round(r.seconds, 3),
               "dataflow": str(lay.dataflow) if lay.dataflow else ""}
        scored = given is not None and given.runtime is not None
        row["given_runtime"] = given.runtime if scored else ""
        row["given_energy_nj"] = given.energy_nj if scored else ""
        row["given_feasible"] = "" if given is None else given.feasible
        blank_area = hw.noc_bw >= UNCONSTRAINED_NOC_BW
        for header, key in REPORT_FIELDS:
            if key is not None:
                blank = rep is None or (blank_area and key in ("area", "power"))
                row[header] = "" if blank else getattr(rep, key)
        rows.append(row)
    return rows


def resource_warnings(reports: list, hw: Hardware) -> list[str]:
    """Where the mappings need more than the hardware provides (the same checks as
    ``mapper evaluate``): L1, L2 and off-chip bandwidth."""
    reports = [r for r in reports if r is not None]
    if not reports:
        return []
    warn = []
    l1, l2 = max(r.l1_size for r in reports), max(r.l2_size for r in reports)
    if l1 > hw.l1_size:
        warn.append(f"L1 requirement {l1} exceeds L1 size {hw.l1_size}")
    if l2 > hw.l2_size:
        warn.append(f"L2 requirement {l2} exceeds L2 size {hw.l2_size}")
    off = max(r.offchip_bw_req for r in reports)
    if off > hw.offchip_bw:
        warn.append(f"off-chip bandwidth requirement {off} exceeds the off-chip bandwidth "
                    f"{hw.offchip_bw} (elements/cycle)")
    return warn


def _csv(header: list[str] | tuple[str, ...], rows: list) -> str:
    buf = io.StringIO()
    if rows and isinstance(rows[0], dict):
        w = csv.DictWriter(buf, fieldnames=header)
        w.writeheader()
    else:
        w = csv.writer(buf)
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _mapping_text(result: ModelResult, mapped: Network) -> str:
    """mappings.m with a comment per layer that stands for several instances."""
    counts = iter([result.count(r) for r in result.layers if r.found])  # mapped's order
    out = []
    if any(result.count(r) != 1 for r in result.layers):
        out.append(f"// {COUNT_NOTE}")
    # every L2Resident of a search result is the physical model's own choice: as a comment
    # the file runs in the MAESTRO binary (format_mapping)
    for line in format_mapping(mapped, residency_as_comment=True).splitlines():
        if line.strip().startswith("Layer "):
            n = next(counts)
            if n != 1:
                out.append(f"\t// count: {n} identical instances")
        out.append(line)
    return "\n".join(out) + "\n"


def _settings(result: ModelResult) -> dict:
    s = result.settings
    return {"cost_model": s.cost_model, "strategy": s.strategy, "objective": s.objective,
            "budget": s.budget,
            "time_limit": s.time_limit, "seed": s.seed, "islands": s.islands,
            "extra_islands": s.extra_islands, "extend_gap": s.extend_gap,
            "extend_max_gap": s.extend_max_gap, "prune": s.prune, "jobs": s.jobs,
            "max_levels": s.max_levels, "template": s.template,
            "sparsity": None if s.sparsity is None else s.sparsity.to_dict(),
            "constraints": {k: v for k, v in vars(s.constraints).items()}}


def write_results(result: ModelResult, out_dir: str | Path, *, plots: bool = True,
                  extra: dict | None = None,
                  hardware_per_layer: dict[str, Hardware] | None = None) -> dict:
    """Write every result file into ``out_dir`` (atomically) and remove the artefacts of an
    earlier run that this one does not write; returns the summary dict.

    ``extra`` is merged into summary.json; with ``hardware_per_layer`` (layer name ->
    hardware) per_layer_hw.json replaces hardware.m."""
    out = Path(out_dir)
    mapped = Network(result.network.name, [r.layer for r in result.layers if r.found])
    write_text(out / "mappings.m", _mapping_text(result, mapped))
    write_text(out / "mappings.yaml", format_network_yaml(mapped))
    files = ["mappings.m", "mappings.yaml"]
    if hardware_per_layer is None:
        write_text(out / "hardware.m", format_hardware(result.hardware))
        # every field (SIMD lanes, DRAM latency, clock, bytes per element): the file that
        # reproduces report.csv with `mapper evaluate --hw`
        write_text(out / "hardware.yaml", format_hardware_yaml(result.hardware))
        files += ["hardware.m", "hardware.yaml"]
        warnings = resource_warnings([r.report for r in result.layers], result.hardware)
    else:
        rows = {name: h.to_dict() for name, h in hardware_per_layer.items()}
        write_text(out / "per_layer_hw.json", json.dumps(rows, indent=1) + "\n")
        files.append("per_layer_hw.json")
        warnings = [f"layer {r.layer.name}: {w}" for r in result.layers if r.found
                    for w in resource_warnings([r.report], hardware_per_layer[r.layer.name])]
    write_text(out / "report.csv", _csv(REPORT_COLUMNS, report_rows(result, hardware_per_layer)))
    files.append("report.csv")
    fronts = [(r.layer.name, p) for r in result.layers if not r.reused for p in r.pareto]
    if fronts:
        write_text(out / "pareto.csv", _csv(
            ["layer", "runtime", "energy_nj", "area_um2", "dataflow"],
            [[name, p["runtime"], p["energy_nj"], p["area"], p["dataflow"]]
             for name, p in fronts]))
        files.append("pareto.csv")
    if plots:
        files += plot_results(result, out)
    files.append("summary.json")
    summary = _summary(result, files, warnings, hardware_per_layer)
    summary.update(extra or {})
    write_text(out / "summary.json", json.dumps(summary, indent=1, default=_finite) + "\n")
    for name in ARTEFACTS:
        if name not in files:
            (out / name).unlink(missing_ok=True)
    return summary


def _summary(result: ModelResult, files: list[str], warnings: list[str],
             hardware_per_layer: dict[str, Hardware] | None) -> dict:
    totals = result.totals()
    totals["instances"] = sum(result.count(r) for r in result.layers)
    notes = {"totals": COUNT_NOTE, "units": "runtime in cycles, energy in nJ, area in um^2, "
             "power in mW, sizes in elements, bandwidths in elements/cycle, throughput in "
             "MACs/cycle"}
    hw = result.hardware
    if hardware_per_layer is None and hw.noc_bw >= UNCONSTRAINED_NOC_BW:
        notes["area_power"] = (f"area_um2 and power_mw are left empty in report.csv: the NoC "
                               f"bandwidth {hw.noc_bw} is MAESTRO's unconstrained value, and "
                               "the area/power model's bus term grows linearly with it")
    given = (given_summary(result) if any(g is not None for g in result.given) else None)
    if given:
        warnings = warnings + [
            f"layer {name}: the mapping the model file states scores better "
            f"({result.settings.objective}) than the tuned one; report.csv's given_* columns "
            "have its figures" for name in given["better_than_tuned"]]
    summary = {
        "model": result.network.name,
        "totals": totals,
        "notes": notes,
        "hardware": None if hardware_per_layer is not None else hw.to_dict(),
        "settings": _settings(result),
        "timing": {"seconds": round(result.seconds, 3),
                   "resumed_layers": result.resumed_layers},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "unmapped_layers": [r.layer.name for r in result.layers if not r.found],
        "invalid_layers": [r.layer.name for r in result.layers if r.found and not r.report.valid],
        "warnings": warnings,
        "files": files,
    }
    if given:
        summary["given"] = given
        notes["given"] = ("given: the mappings the model file states, scored with the run's "
                          "cost model, hardware and constraints; totals over the layers where "
                          "both the given and the tuned mapping are feasible (with counts)")
    return summary


def given_summary(result: ModelResult) -> dict:
    """The stated mappings against the tuned ones, over the layers where both are feasible."""
    pairs = [(r, g) for r, g in zip(result.layers, result.given) if g is not None]
    both = [(r, g) for r, g in pairs if g.feasible and r.found and r.report.valid]
    rt = sum(g.runtime * result.count(r) for r, g in both)
    rt_t = sum(int(r.report.runtime) * result.count(r) for r, g in both)
    return {
        "layers_stated": len(pairs), "layers_compared": len(both),
        "runtime_cycles": int(rt), "tuned_runtime_cycles": int(rt_t),
        "speedup": rt / rt_t if rt_t else None,
        "energy_nj": float(sum(g.energy_nj * result.count(r) for r, g in both)),
        "tuned_energy_nj": float(sum(r.report.energy_nj * result.count(r) for r, g in both)),
        "not_compared": {r.layer.name: g.reason for r, g in pairs if not g.feasible},
        "better_than_tuned": [r.layer.name for r, g in pairs
                              if r.found and beats(g, r.report, result.settings.objective)],
    }


#: what layers.png shows for each objective: (label, value of a CostReport)
_OBJECTIVE_VALUE = {
    "latency": ("runtime (cycles)", lambda rep: rep.runtime),
    "energy": ("energy (nJ)", lambda rep: rep.energy_nj),
    "edp": ("energy-delay product (cycles x nJ)", lambda rep: rep.runtime * rep.energy_nj),
}


def plot_results(result: ModelResult, out: Path) -> list[str]:
    """layers.png (the objective per layer), convergence.png (best so far per distinct
    layer) and, with Pareto fronts, pareto.png; skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    found = [r for r in result.layers if r.found]
    if not found:
        return []
    made = [_plot_layers(plt, result, found, out), _plot_convergence(plt, result, out)]
    tuned = [r for r in result.layers if not r.reused and r.pareto]
    if tuned:
        made.append(_plot_pareto(plt, tuned, out))
    return made


def _plot_layers(plt, result: ModelResult, found: list, out: Path) -> str:
    label, value = _OBJECTIVE_VALUE.get(result.settings.objective, _OBJECTIVE_VALUE["latency"])
    fig, ax = plt.subplots(figsize=(max(6, 0.18 * len(found)), 3.8))
    ax.bar(range(len(found)), [value(r.report) for r in found], color="tab:blue",
           label=f"best mapping ({result.settings.objective})")
    ax.set_xticks(range(len(found)), [r.layer.name for r in found], rotation=90,
                  fontsize=6 if len(found) > 20 else 8)
    ax.set_ylabel(label)
    ax.set_title(f"{result.network.name}: {result.settings.objective} per layer "
                 f"({result.settings.strategy})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "layers.png", dpi=120)
    plt.close(fig)
    return "layers.png"


def _plot_convergence(plt, result: ModelResult, out: Path) -> str:
    from matplotlib.ticker import LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(7, 4))
    runs = [r for r in result.layers if not r.reused and r.history]
    for i, r in enumerate(runs):
        ev = [h[0] for h in r.history]
        best = [h[2] for h in r.history]
        final = best[-1]
        if final and math.isfinite(final):
            ax.plot(ev, [b / final for b in best], lw=0.8,
                    label=r.layer.name if i < 12 else None)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
    ax.xaxis.set_minor_formatter(NullFormatter())  # no overlapping minor labels
    ax.set_ylim(0.95, 3)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best so far / final best")
    more = f" (legend: first 12 of {len(runs)})" if len(runs) > 12 else ""
    ax.set_title(f"convergence per distinct layer{more}", fontsize=9)
    if runs:
        ax.legend(fontsize=6, loc="upper right", ncol=2)
    fig.tight_layout()
    fig.savefig(out / "convergence.png", dpi=120)
    plt.close(fig)
    return "convergence.png"


def _plot_pareto(plt, tuned: list, out: Path) -> str:
    """Every front point as a marker, joined only along its 2-D latency/energy front."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in tuned:
        pts = sorted((p["runtime"], p["energy_nj"]) for p in r.pareto)
        (line,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", ms=3,
                          label=r.layer.name)
        front, best = [], math.inf
        for x, y in pts:
            if y < best:
                front.append((x, y))
                best = y
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", lw=0.8,
                color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("runtime (cycles)")
    ax.set_ylabel("energy (nJ)")
    ax.set_title(f"Pareto fronts of {len(tuned)} layers (lines: latency/energy front; "
                 "markers: area also kept)", fontsize=8)
    ax.legend(fontsize=6, ncol=2 if len(tuned) > 8 else 1)
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=120)
    plt.close(fig)
    return "pareto.png"
