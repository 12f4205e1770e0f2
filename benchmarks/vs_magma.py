"""Our default schedule search against MAGMA's GA at equal schedule evaluations, and beyond.

Reads MAGMA's results (``benchmarks/results/magma/magma_ga*.csv``: one row per instance,
core setting, off-chip bandwidth and seed, produced by running MAGMA's own GA outside this
project on job tables equal to its MAESTRO-built ones), runs our strategy with the same
budget and seed on the same instance (MAGMA's instance CSVs, ``--insts``), and writes
``vs_magma.csv`` (per run) and ``vs_magma.md`` (per instance group: makespan ratio ours /
MAGMA and Vargha-Delaney A12 = P(ours < MAGMA)).

    python benchmarks/vs_magma.py --insts PATH/TO/magma/traffic_insts
    python benchmarks/vs_magma.py --insts PATH/TO/magma/traffic_insts --beyond

``--beyond`` compares MAGMA's best run of a few cases with two things MAGMA cannot do, each
given MAGMA's wall time: tuned dataflows per (layer shape, core) instead of the fixed
templates (each job's template or tuned mapping chosen by the schedule, never longer than
our schedule on the templates), and PE splits (and styles) of the cores searched at the same
total PE count.
It writes ``beyond.csv`` and ``beyond.md``.
"""

from __future__ import annotations

import argparse
import csv
import glob
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from mapper.scheduling.cores import resolve_setting
from mapper.scheduling.job_table import build_job_table
from mapper.scheduling.problem import Problem, run_search
from mapper.scheduling.registry import DEFAULT_STRATEGY, make_strategy
from mapper.scheduling.sizing import size_cores
from mapper.scheduling.tuned import schedule_tuned, tune_job_table
from mapper.scheduling.workload import load_instance_csv

HERE = Path(__file__).parent / "results" / "magma"


def a12(ours: list[float], theirs: list[float]) -> float:
    """Probability that a run of ours is shorter than one of theirs (ties count half)."""
    o, t = np.asarray(ours)[:, None], np.asarray(theirs)[None, :]
    return float(((o < t) + 0.5 * (o == t)).mean())


def select(rows: list[dict], only: list[str] | None) -> list[dict]:
    """The runs whose ``instance:setting:dram_bw:seed`` matches one of ``only`` (each part
    a substring of the field or empty, e.g. ``batch_conv/insts0:magma10:1:1`` or
    ``:magma3:8``); all runs when ``only`` is empty."""
    if not only:
        return rows

    def hit(r: dict, pat: str) -> bool:
        parts = pat.split(":")
        vals = (r["instance"], r["setting"], f"{float(r['dram_bw']):g}", r["seed"])
        return all(not q or (q == v if i >= 1 else q in v)
                   for i, (q, v) in enumerate(zip(parts, vals)))

    return [r for r in rows if any(hit(r, q) for q in only)]


def run(insts: str, strategy: str, files: list[str], only: list[str] | None = None,
        seed_offset: int = 0) -> list[dict]:
    """Our strategy on every selected MAGMA run, same budget; seed = MAGMA's + ``seed_offset``
    (a nonzero offset pairs unrelated seeds: a robustness check)."""
    rows = select([r for f in files for r in csv.DictReader(open(f))], only)
    tables: dict = {}
    out = []
    for r in rows:
        k = (r["instance"], r["setting"])
        if k not in tables:
            jobs = load_instance_csv(Path(insts) / f"{r['instance']}.csv")
            tables[k] = build_job_table(jobs, resolve_setting(r["setting"]))
        p = Problem.from_table(tables[k], float(r["dram_bw"]))
        seed = int(r["seed"]) + seed_offset
        res = run_search(p, make_strategy(strategy, p, seed), int(r["evaluations"]))
        out.append({"instance": r["instance"], "setting": r["setting"], "dram_bw": r["dram_bw"],
                    "seed": r["seed"], **({"our_seed": seed} if seed_offset else {}),
                    "evaluations": r["evaluations"],
                    "magma_makespan": float(r["makespan"]), "ours_makespan": res.makespan,
                    "ratio": res.makespan / float(r["makespan"]),
                    "magma_seconds": r["seconds"], "ours_seconds": round(res.seconds, 2)})
        print(f"{r['instance']} {r['setting']} bw={r['dram_bw']} seed={r['seed']}: "
              f"ratio {out[-1]['ratio']:.4f}", flush=True)
    return out


TIE = 1e-5  #: relative difference below which two makespans count as equal in the report
#: Makespans closer than this many units in the last place count as equal within
#: floating-point rounding: the evaluator advances its clock over J + C >= 100 events, each
#: rounded, and schedules with the same exact (rational) makespan come out of it up to 10
#: ulps apart.
ROUNDING_ULPS = 64


def within_rounding(ours: np.ndarray, magma: np.ndarray) -> np.ndarray:
    """Ours at or below MAGMA once a difference of ``ROUNDING_ULPS`` ulps counts as a tie."""
    magma = np.asarray(magma, dtype=float)
    return np.asarray(ours) <= magma + ROUNDING_ULPS * np.spacing(magma)


def _table(groups: dict, head: list[str], paired: bool = False, order=None) -> list[str]:
    """One row per group; A12 over all (ours, MAGMA) pairs, or per paired run when groups
    mix instances of different scale."""
    lines = ["| " + " | ".join(head) + " | runs | MAGMA mean | ours mean | ratio (mean) "
             "| worst ratio | A12 |", "|" + "---|" * (len(head) + 6)]
    for k in sorted(groups, key=order):
        rs = groups[k]
        m = [r["magma_makespan"] for r in rs]
        o = [r["ours_makespan"] for r in rs]
        q = np.array([r["ratio"] for r in rs])
        a = float(np.mean((q < 1) + 0.5 * (q == 1))) if paired else a12(o, m)
        lines.append("| " + " | ".join(map(str, k)) + f" | {len(rs)} | {np.mean(m):.4g} | "
                     f"{np.mean(o):.4g} | {np.mean(o) / np.mean(m):.4f} | "
                     f"{q.max():.6f} | {a:.2f} |")
    return lines


def summarise(out: list[dict]) -> str:
    """Markdown: per (instance, setting, bandwidth) group, per batch, and overall."""
    groups, batches, settings = defaultdict(list), defaultdict(list), defaultdict(list)
    for r in out:
        groups[(r["instance"], r["setting"], r["dram_bw"])].append(r)
        held = "insts0" if r["instance"].endswith("/insts0") else "held-out"
        batches[(r["instance"].split("/")[0], held)].append(r)
        settings[(r["setting"], float(r["dram_bw"]))].append(r)
    lines = ["## Per batch (A12 from paired runs: same instance, setting, bandwidth, seed)", ""]
    lines += _table(batches, ["batch", "instances"], paired=True)
    lines += ["", "## Per core setting and bandwidth (paired A12)", ""]
    lines += _table(settings, ["setting", "dram_bw"], paired=True,
                    order=lambda k: (int(k[0][5:]) if k[0][5:].isdigit() else 99, k))
    lines += ["", "## Per group", ""] + _table(groups, ["instance", "setting", "dram_bw"])
    ratios = np.array([r["ratio"] for r in out])
    held = np.array([not r["instance"].endswith("/insts0") for r in out])
    rounded = within_rounding([r["ours_makespan"] for r in out],
                              [r["magma_makespan"] for r in out])
    n = len(ratios)
    held_geo = float(np.exp(np.mean(np.log(ratios[held])))) if held.any() else 1.0
    lines.append(f"\n{n} runs; ratio ours/MAGMA: geometric mean "
                 f"{np.exp(np.mean(np.log(ratios))):.4f}, best {ratios.min():.4f}, worst "
                 f"{ratios.max():.7f}; runs at or below MAGMA: {(ratios <= 1).sum()}/{n} "
                 f"strictly, {rounded.sum()}/{n} within floating-point rounding "
                 f"({ROUNDING_ULPS} ulps), {(ratios <= 1 + TIE).sum()}/{n} within {TIE:g} "
                 f"relative; held-out runs at or below: {(ratios[held] <= 1).sum()}/{held.sum()} "
                 f"(geometric mean {held_geo:.4f})"
                 f"; A12 over all runs (paired) "
                 f"{np.mean((ratios < 1) + 0.5 * (ratios == 1)):.2f}")
    return "\n".join(lines) + "\n"


#: (instance, setting, bandwidth) cases of the beyond-MAGMA study
TUNED_CASES = [("batch_conv/insts0", "magma8", 1.0), ("batch_lang/insts0", "magma3", 1.0),
               ("batch_mix/insts0", "magma3", 8.0), ("batch_recom/insts0", "magma8", 8.0)]
SIZED_CASES = [("batch_conv/insts0", "magma5", 1.0), ("batch_mix/insts0", "magma5", 1.0),
               ("batch_lang/insts0", "magma5", 8.0), ("batch_recom/insts0", "magma3", 1.0)]
SIZING_STEP = 32 * 64  #: PEs moved at a time (32 clusters of 64)


def magma_best(files: list[str]) -> dict:
    """Per (instance, setting, bandwidth): MAGMA's best makespan and its mean wall time."""
    best: dict = {}
    for r in (r for f in files for r in csv.DictReader(open(f))):
        k = (r["instance"], r["setting"], float(r["dram_bw"]))
        m, secs = best.get(k, (np.inf, []))
        best[k] = (min(m, float(r["makespan"])), secs + [float(r["seconds"])])
    return {k: (m, float(np.mean(s))) for k, (m, s) in best.items()}


def beyond(insts: str, files: list[str], budget: int = 6300) -> list[dict]:
    """Tuned dataflows and sized cores, each within MAGMA's wall time on its case.

    Tuned dataflows: the template table's schedule search first (it is one of the
    candidates of :func:`schedule_tuned`, and its time sets aside the two searches still to
    come), then the tuning in the time left, then :func:`schedule_tuned`."""
    ref, out = magma_best(files), []
    for kind, cases in (("tuned dataflows", TUNED_CASES), ("sized cores", SIZED_CASES)):
        for inst, setting, bw in cases:
            if (inst, setting, bw) not in ref:
                continue
            m, wall = ref[(inst, setting, bw)]
            t0 = time.perf_counter()
            jobs = load_instance_csv(Path(insts) / f"{inst}.csv")
            table = build_job_table(jobs, resolve_setting(setting))
            p0 = Problem.from_table(table, bw)
            if kind == "tuned dataflows":
                base = run_search(p0, make_strategy(DEFAULT_STRATEGY, p0, 0), budget)
                left = 0.85 * wall - (time.perf_counter() - t0) - 2.5 * base.seconds - 1.0
                tt, st = tune_job_table(table, budget=200, dram_bw=bw, time_limit=left)
                sch = schedule_tuned(table, tt, bw, budget, templates=base)
                res, tuned_table, kept = sch.result, sch.stages["tuned"], sch.kept
                detail = (f"{st['tuned_pairs']}/{st['pairs']} (shape, core) pairs tuned, "
                          f"{st['entries_replaced']}/{tt.latency.size} entries replaced; kept "
                          f"{kept}, {sch.tuned_jobs}/{len(jobs)} jobs on tuned mappings")
                ours_s = time.perf_counter() - t0
            else:
                left = 0.85 * wall - (time.perf_counter() - t0) - 6.0  # 6 s: the final search
                sz = size_cores(jobs, table.setting, bw, SIZING_STEP, time_limit=left)
                tt = build_job_table(jobs, sz.setting)
                detail = " ".join(f"{c.style}{c.num_pes // 64}" for c in sz.setting.cores)
                p = Problem.from_table(tt, bw)
                res = run_search(p, make_strategy(DEFAULT_STRATEGY, p, 0), budget)
                ours_s = time.perf_counter() - t0
                # reference, not timed: our default on the templates
                base = run_search(p0, make_strategy(DEFAULT_STRATEGY, p0, 0), budget)
                tuned_table, kept = "", ""
            out.append({"study": kind, "instance": inst, "setting": setting, "dram_bw": bw,
                        "magma_best": m, "magma_seconds": round(wall, 1),
                        "ours_templates": base.makespan, "ours": res.makespan,
                        "gain_vs_magma_best": m / res.makespan,
                        "ours_seconds": round(ours_s, 1), "tuned_table": tuned_table,
                        "kept": kept, "detail": detail})
            print(out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--insts", required=True, help="MAGMA's traffic_insts directory")
    ap.add_argument("--strategy", default=DEFAULT_STRATEGY)
    ap.add_argument("--magma", nargs="*", default=None, help="MAGMA result CSVs")
    ap.add_argument("--tag", default="", help="suffix of the output files")
    ap.add_argument("--beyond", action="store_true", help="the beyond-MAGMA study instead")
    ap.add_argument("--only", nargs="*", default=None, metavar="INST:SETTING:BW:SEED",
                    help="run only these runs (instance substring, exact setting, bandwidth "
                         "and seed; empty parts match all), e.g. batch_conv/insts0:magma10:1:1; "
                         "use with --tag to keep the stored results")
    ap.add_argument("--seed-offset", type=int, default=0,
                    help="our seed = MAGMA's + this (robustness check; use with --tag)")
    ap.add_argument("--plot", default=None, help="only draw the ratio chart of vs_magma.csv here")
    ap.add_argument("--from-csv", action="store_true",
                    help="only rewrite vs_magma.md from the runs in vs_magma.csv")
    a = ap.parse_args()
    if a.from_csv:
        out = [{**r, **{k: float(r[k]) for k in ("magma_makespan", "ours_makespan", "ratio")}}
               for r in csv.DictReader(open(HERE / f"vs_magma{a.tag}.csv"))]
        (HERE / f"vs_magma{a.tag}.md").write_text(summarise(out))
        return
    if a.plot:
        plot_ratios(HERE / f"vs_magma{a.tag}.csv", Path(a.plot))
        return
    files = a.magma or sorted(glob.glob(str(HERE / "magma_ga*.csv")))
    if a.beyond:
        out = beyond(a.insts, files)
        _write_csv(HERE / f"beyond{a.tag}.csv", out)
        text = summarise_beyond(out)
        (HERE / f"beyond{a.tag}.md").write_text(text)
    else:
        out = run(a.insts, a.strategy, files, a.only, a.seed_offset)
        _write_csv(HERE / f"vs_magma{a.tag}.csv", out)
        text = summarise(out)
        (HERE / f"vs_magma{a.tag}.md").write_text(text)
    print(text)


def plot_ratios(csv_path: Path, png: Path) -> None:
    """Bar chart: each run's makespan ratio ours / MAGMA, grouped by batch (1 = equal)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(csv.DictReader(open(csv_path)),
                  key=lambda r: (r["instance"], r["setting"], float(r["dram_bw"]), r["seed"]))
    q = np.array([float(r["ratio"]) for r in rows])
    colours = {"batch_conv": "C0", "batch_lang": "C1", "batch_recom": "C2", "batch_mix": "C3"}
    fig, ax = plt.subplots(figsize=(max(8, 0.22 * len(q)), 3.6))
    ax.bar(range(len(q)), q, color=[colours.get(r["instance"].split("/")[0], "C7") for r in rows])
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_ylim(min(0.7, q.min() - 0.02), 1.02)
    ax.set_xticks(range(len(q)))
    names = [f"{r['instance'].split('/')[1]} m{r['setting'][5:]} bw{float(r['dram_bw']):g} "
             f"s{r['seed']}" for r in rows]
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_ylabel("makespan ours / MAGMA")
    ax.set_title("Default strategy vs MAGMA's GA at equal schedule evaluations (one bar a run)")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()],
              labels=[b[6:] for b in colours], loc="lower left", fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def summarise_beyond(out: list[dict]) -> str:
    lines = ["| study | instance | setting | dram_bw | MAGMA best | ours, templates | ours "
             "| gain over MAGMA best | our s / MAGMA s | detail |", "|" + "---|" * 10]
    for r in out:
        lines.append(f"| {r['study']} | {r['instance']} | {r['setting']} | {r['dram_bw']} | "
                     f"{r['magma_best']:.4g} | {r['ours_templates']:.4g} | {r['ours']:.4g} | "
                     f"{r['gain_vs_magma_best']:.3f}x | {r['ours_seconds']} / "
                     f"{r['magma_seconds']} | {r['detail']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
