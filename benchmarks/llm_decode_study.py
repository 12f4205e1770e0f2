"""Which L2 size and off-chip bandwidth let an edge NPU decode Llama-3-8B at batch B within a
latency target? A sweep under the physical model, each point a ``mapper tune`` of every layer.

    python benchmarks/llm_decode_study.py [--batch 8] [--context 2048] [--target-ms 100]
                                          [--budget 800] [--plot docs/img/llm_decode_study.png]
    python benchmarks/llm_decode_study.py --phase prefill --prompt 512 --target-ms 10000 \
        --out benchmarks/results/llm_prefill_study.csv --plot docs/img/llm_prefill_study.png

Compute is the ``edge-npu`` preset's (1,024 int8 MACs per cycle at 1 GHz); the L2 and the
off-chip bandwidth are swept. Writes ``benchmarks/results/llm_decode_study.csv`` and the plot.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mapper.tuning.settings import TuneSettings  # noqa: E402
from mapper.tuning.tuner import tune_model  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BANDWIDTHS = (8, 16, 32, 64, 128, 256)            # elements (bytes) per cycle
L2_SIZES = (256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024)  # elements (bytes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--phase", choices=("decode", "prefill"), default="decode")
    ap.add_argument("--prompt", type=int, default=512, help="prompt tokens (prefill)")
    ap.add_argument("--target-ms", type=float, default=100.0, help="latency target per token")
    ap.add_argument("--budget", type=int, default=800, help="evaluations per distinct layer")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS / "llm_decode_study.csv")
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args(argv)
    model = (f"llama3_8b:decode:context={args.context}:batch={args.batch}"
             if args.phase == "decode" else
             f"llama3_8b:prefill:prompt={args.prompt}:batch={args.batch}")
    net = load_model(model)
    base = HARDWARE_PRESETS["edge-npu"]
    settings = TuneSettings(budget=args.budget, jobs=args.jobs, cost_model="physical")
    rows = []
    t0 = time.perf_counter()
    for l2 in L2_SIZES:
        for bw in BANDWIDTHS:
            hw = dataclasses.replace(base, l2_size=l2, offchip_bw=bw)
            res = tune_model(net, hw, settings)
            cycles = sum(res.count(r) * r.report.runtime for r in res.layers)
            dram = sum(res.count(r) * (r.report.dram_read + r.report.dram_write)
                       for r in res.layers)
            ms = cycles / (base.clock_ghz * 1e6)
            rows.append({"l2_bytes": l2, "offchip_elements_per_cycle": bw,
                         "gb_per_s": bw * base.clock_ghz * base.element_bytes,
                         "ms": round(ms, 3), "dram_elements": dram,
                         "meets_target": ms <= args.target_ms})
            print(f"L2 {l2 // 1024} KiB, {bw} B/cycle: {ms:.1f} ms "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    if args.plot:
        _plot(rows, args, model)
    return 0


def _plot(rows, args, model: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for l2 in L2_SIZES:
        pts = [r for r in rows if r["l2_bytes"] == l2]
        ax.plot([r["gb_per_s"] for r in pts], [r["ms"] for r in pts], marker="o",
                label=f"L2 {l2 // 1024:,} KiB")
    ax.axhline(args.target_ms, color="grey", ls="--", label=f"target {args.target_ms:g} ms")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("off-chip bandwidth (GB/s at 1 GHz, int8)")
    ax.set_ylabel("latency per token (ms)" if args.phase == "decode" else "prefill latency (ms)")
    ax.set_title(f"{model} on edge-npu compute (physical model)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
