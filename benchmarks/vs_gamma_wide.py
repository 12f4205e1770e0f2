"""One table of GAMMA's runs against ours on many layers, at several budgets.

Each ``--budget LABEL GAMMA_CSV OURS_CSV`` is one budget: GAMMA's runs (``vs_gamma.py``'s input
format) and our equal-evaluation runs on the same layers (``vs_gamma.py``'s ``--out``). GAMMA's
mappings are re-checked here as in ``vs_gamma.py`` (through its ``read_gamma``): a mapping whose
runtime differs from MAESTRO's, or that our consistency check flags, counts as no result.

Per layer and budget: GAMMA's median, our median, their ratio and A12 (the probability that a
run of ours is faster than a run of GAMMA's; ties count half). Per budget: on how many layers
our median is at or below GAMMA's, mean A12 and the worst ratios.

    python benchmarks/vs_gamma_wide.py \\
        --budget 1200 benchmarks/results/gamma_wide/gamma_1200.csv \\
                      benchmarks/results/gamma_wide/ours_1200.csv \\
        --summary benchmarks/results/gamma_wide/summary.md
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vs_gamma import a12, read_gamma  # noqa: E402

from costmodel.analysis import compute_bound, evaluate  # noqa: E402
from costmodel.io import parse_dataflow  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from search_spaces import MappingSpace  # noqa: E402


def below_busiest_pe(csv_path: Path, layers: dict, hw, column: str) -> tuple[int, int, int]:
    """``(checked, below, valid)`` over the valid best mappings of a run file: how many have
    one SpatialMap per level (checked: their busiest PE is PE 0, whose MACs
    :meth:`MappingSpace.compute_estimate` counts exactly) and how many of those report a
    runtime below that PE's MAC count, which no execution of the mapping can reach."""
    checked = below = valid = 0
    spaces: dict[str, MappingSpace] = {}
    with open(csv_path, newline="") as f:
        for r in csv.DictReader(f):
            text = r.get(column, "")
            if not text or text == "None" or r["layer"] not in layers:
                continue
            lay = layers[r["layer"]]
            df = parse_dataflow(text)
            rep = evaluate(lay, hw, df)
            if not rep.valid:
                continue
            valid += 1
            sp = spaces.setdefault(r["layer"], MappingSpace(lay, hw))
            g = sp.encode(df)
            if g is None or (g.par2[0, : g.levels[0]] >= 0).any():
                continue
            checked += 1
            below += bool(rep.runtime * hw.simd_lanes < sp.compute_estimate(g)[0])
    return checked, below, valid


def budget_stats(gamma_csv: Path, ours_csv: Path, layers: dict, hw) -> dict[str, dict]:
    gamma = read_gamma(gamma_csv, layers, hw)
    ours: dict[str, list[float]] = {}
    evals: dict[str, list[int]] = {}
    with open(ours_csv, newline="") as f:
        for r in csv.DictReader(f):
            if r["setting"] == "equal":
                ours.setdefault(r["layer"], []).append(float(r["runtime"]))
                evals.setdefault(r["layer"], []).append(int(r["evaluations"]))
    out = {}
    for name, gruns in gamma.items():
        theirs = [g["runtime"] for g in gruns if g["valid"]]
        mine = ours.get(name, [])
        out[name] = {
            "gamma": theirs, "ours": mine, "runs": len(gruns),
            "flagged": len(gruns) - len(theirs),
            "gamma_evals": statistics.mean(g["evals"] for g in gruns),
            "our_evals": statistics.mean(evals[name]) if name in evals else None,
            "ratio": (statistics.median(mine) / statistics.median(theirs)
                      if mine and theirs else None),
            "a12": a12(mine, theirs)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", nargs=3, action="append", required=True,
                    metavar=("LABEL", "GAMMA_CSV", "OURS_CSV"))
    ap.add_argument("--hw", default="edge168")
    ap.add_argument("--summary", required=True)
    args = ap.parse_args(argv)

    hw = HARDWARE_PRESETS[args.hw]
    layers: dict = {}
    stats = {label: budget_stats(Path(g), Path(o), layers, hw) for label, g, o in args.budget}
    names = list(dict.fromkeys(n for s in stats.values() for n in s))
    head = "| layer | compute bound |"
    rule = "|---|---:|"
    for label in stats:
        head += (f" {label}: GAMMA evals | GAMMA median (runs) | our evals | ours median (runs)"
                 " | ours / GAMMA | A12 |")
        rule += "---:|---:|---:|---:|---:|---:|"
    lines = [head, rule]
    for name in names:
        row = f"| {name} | {compute_bound(layers[name], hw):,} |"
        for s in stats.values():
            st = s.get(name)
            if st is None:
                row += " - | - | - | - | - | - |"
                continue
            flag = f", {st['flagged']} flagged" if st["flagged"] else ""
            gm = (f"{statistics.median(st['gamma']):,.0f} ({len(st['gamma'])}"
                  f"{flag})"
                  if st["gamma"] else f"no result ({st['flagged']} flagged)")
            om = (f"{statistics.median(st['ours']):,.0f} ({len(st['ours'])})"
                  if st["ours"] else "-")
            ratio = f"{st['ratio']:.4f}" if st["ratio"] is not None else "-"
            oe = f"{st['our_evals']:,.0f}" if st["our_evals"] is not None else "-"
            row += f" {st['gamma_evals']:,.0f} | {gm} | {oe} | {om} | {ratio} | {st['a12']} |"
        lines.append(row)
    tail = []
    for label, s in stats.items():
        done = [(n, st) for n, st in s.items() if st["ratio"] is not None]
        if not done:
            continue
        at_or_below = sum(st["ratio"] <= 1 for _, st in done)
        worst = sorted(done, key=lambda x: -x[1]["ratio"])[:5]
        tail.append(
            f"- **{label}:** our median at or below GAMMA's on **{at_or_below} of {len(done)}** "
            f"layers; mean A12 {statistics.mean(float(st['a12']) for _, st in done):.2f}; "
            f"median ratio ours / GAMMA {statistics.median(st['ratio'] for _, st in done):.4f}; "
            "worst: " + ", ".join(f"{n} {st['ratio']:.3f} (A12 {st['a12']})"
                                  for n, st in worst if st["ratio"] > 1) + ".")
    busiest = []
    for label, g_csv, o_csv in args.budget:
        parts = []
        for who, path, col in (("GAMMA", g_csv, "best_dataflow"), ("ours", o_csv, "dataflow")):
            checked, below, valid = below_busiest_pe(Path(path), layers, hw, col)
            parts.append(f"{who} {below} of {checked} ({valid} valid)")
        busiest.append(f"- {label}: " + "; ".join(parts) + ".")
    tail.append(
        "\nBest mappings whose MAESTRO runtime is below the MAC count of their busiest PE "
        "(PE 0; mappings with one SpatialMap per level), a runtime no execution of the "
        "mapping reaches: undercounts of MAESTRO's multi-level analysis, which both searches "
        "find (docs/fidelity.md, \"Runtimes below the busiest PE's work\"):\n"
        + "\n".join(busiest))
    preamble = (
        f"GAMMA against our search at equal evaluations on `{args.hw}` "
        f"({', '.join(label for label, *_ in args.budget)} evaluations). Runtimes in cycles; "
        "medians over each side's runs; ours / GAMMA < 1: ours faster; A12 = P(a run of ours "
        "is faster than a run of GAMMA's), ties half. \"evals\": mean cost-model calls per run "
        "(GAMMA: distinct MAESTRO calls; ours: pruned candidates not counted).\n\n")
    text = preamble + "\n".join(tail) + "\n\n" + "\n".join(lines) + "\n"
    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    Path(args.summary).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
