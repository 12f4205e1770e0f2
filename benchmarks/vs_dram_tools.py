"""Our physical model next to three tools that model DRAM (their numbers are data, produced by
running them outside this project: ``benchmarks/results/dram_tools/peers.json``).

1. ZigZag: ResNet-18's latency as the DRAM port narrows from 16 to 1 element/cycle on a
   1,024-MAC weight-stationary array with a 2 MiB SRAM (the slope of the sweep).
2. SCALE-Sim v3: output- against weight-stationary on ResNet-18 with DRAM stalls at 10
   elements/cycle, 32x32 PEs and 3 x 64 KiB SRAM (which dataflow wins).
3. GenZ: Llama-2-7B on an A100-class system (312 TFLOPS bf16, 2039 GiB/s): decode per token and
   prefill time, and which resource bounds each.

Each of our figures is the best mapping ``mapper tune`` finds under ``--cost-model physical``
(ResNet-18 with the kcp_ws / yxp_os templates where a peer fixes the dataflow).

    python benchmarks/vs_dram_tools.py [--budget 3000] [--jobs 2] [--only zigzag,scalesim,genz]

Writes ``benchmarks/results/dram_tools/summary.md`` (and prints it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Hardware  # noqa: E402
from mapper.tuning.settings import TuneSettings  # noqa: E402
from mapper.tuning.tuner import tune_model  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "dram_tools"
NOC = 81_920_000  # MAESTRO's unconstrained NoC: the peers model no NoC limit either


def _tune(model: str, hw: Hardware, args, template: str | None = None):
    net = load_model(model)
    s = TuneSettings(budget=args.budget, jobs=args.jobs, seed=0, cost_model="physical",
                     template=template)
    res = tune_model(net, hw, s)
    cycles = sum(res.count(r) * r.report.runtime for r in res.layers if r.report is not None)
    bounds = {}
    for r in res.layers:
        if r.report is not None:
            bounds[r.report.bound] = bounds.get(r.report.bound, 0) + res.count(r) * r.report.runtime
    return cycles, bounds


def zigzag(peers: dict, args) -> list[str]:
    z = peers["zigzag"]
    out = ["## ZigZag: ResNet-18 latency against DRAM bandwidth", "",
           "1,024 PEs (32x32), L1 128 elements, L2 2,097,152 elements, kcp_ws template "
           "(weight-stationary, K x C spatial), off-chip bandwidth swept; ZigZag's "
           f"`tpu_like` as in `peers.json` ({z['version']}).", "",
           "| elements/cycle | ZigZag cycles | ratio to 8 | ours (cycles) | ratio to 8 |",
           "|---:|---:|---:|---:|---:|"]
    ours = {}
    for bw in z["elements_per_cycle"]:
        hw = Hardware(num_pes=1024, l1_size=128, l2_size=2_097_152, noc_bw=NOC, offchip_bw=bw)
        ours[bw], _ = _tune("resnet18", hw, args, template="kcp_ws")
    ref_z = dict(zip(z["elements_per_cycle"], z["total_latency_cycles"]))
    for bw in z["elements_per_cycle"]:
        out.append(f"| {bw} | {ref_z[bw]:,} | {ref_z[bw] / ref_z[8]:.2f} | {ours[bw]:,} | "
                   f"{ours[bw] / ours[8]:.2f} |")
    out += ["", f"Slope 1 vs 8 elements/cycle: ZigZag {ref_z[1] / ref_z[8]:.2f}x, ours "
            f"{ours[1] / ours[8]:.2f}x.", ""]
    return out


def scalesim(peers: dict, args) -> list[str]:
    s = peers["scalesim"]
    hw = Hardware(num_pes=1024, l1_size=512, l2_size=3 * 65_536, noc_bw=NOC, offchip_bw=10)
    out = ["## SCALE-Sim v3: output- vs weight-stationary with DRAM stalls", "",
           "1,024 PEs, L2 196,608 elements (3 x 64 KiB), 10 elements/cycle off-chip; templates "
           "yxp_os (output-stationary) and kcp_ws (weight-stationary).", "",
           "| dataflow | SCALE-Sim, 16 layers (cycles) | ours, ResNet-18 (cycles) | "
           "ours, DRAM-unbounded (cycles) |", "|---|---:|---:|---:|"]
    ours, calm = {}, {}
    for df, tmpl in (("os", "yxp_os"), ("ws", "kcp_ws")):
        ours[df], _ = _tune("resnet18", hw, args, template=tmpl)
        calm[df], _ = _tune("resnet18", dataclasses.replace(hw, offchip_bw=NOC), args,
                            template=tmpl)
    ss = s["resnet18_16_layers_total_cycles_with_stalls"]
    for df in ("os", "ws"):
        out.append(f"| {df} | {ss[df]:,} | {ours[df]:,} | {calm[df]:,} |")
    win_ss = min(ss, key=ss.get)
    win = min(ours, key=ours.get)
    out += ["", f"Faster with stalls: SCALE-Sim {win_ss}, ours {win} "
            f"({'same' if win == win_ss else 'different'} ranking).", ""]
    return out


def genz(peers: dict, args) -> list[str]:
    g = peers["genz"]
    base = HARDWARE_PRESETS["a100-like"]
    # GenZ's 2039 "GB/s" is binary: 2039 x 2**30 B/s; bf16 = 2 bytes at 1.41 GHz
    bw = Hardware.elements_per_cycle(2039 * 2**30 / 1e9, base.clock_ghz, base.element_bytes)
    hw = dataclasses.replace(base, offchip_bw=bw, offchip_latency=0)
    ms = 1e3 / (base.clock_ghz * 1e9)
    out = ["## GenZ: Llama-2-7B on an A100-class system", "",
           f"`a100-like` ({base.num_pes} x {base.simd_lanes} MACs/cycle at {base.clock_ghz} "
           f"GHz = 312 TFLOPS bf16) with GenZ's bandwidth, {bw} elements/cycle, no DRAM latency.",
           "", "| phase | GenZ | bound (GenZ) | ours | bound (ours, share of cycles) | ratio |",
           "|---|---:|---|---:|---|---:|"]
    cases = [("decode, context 2560", "llama2_7b:decode:context=2560:batch=1",
              g["decode_ms_per_token"]["2560"], "memory"),
             ("decode, context 512", "llama2_7b:decode:context=512:batch=1",
              g["decode_ms_per_token"]["512"], "memory"),
             ("prefill, 512 tokens", "llama2_7b:prefill:prompt=512:batch=1",
              g["prefill_ms"]["512"], "compute")]
    for name, model, ref, ref_bound in cases:
        cycles, bounds = _tune(model, hw, args)
        total = sum(bounds.values())
        share = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(bounds.items(),
                                                                      key=lambda kv: -kv[1]))
        ours = cycles * ms
        out.append(f"| {name} | {ref:.3f} ms | {ref_bound} | {ours:.3f} ms | {share} | "
                   f"{ours / ref:.3f} |")
    return out + [""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=3000, help="evaluations per distinct layer")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="zigzag,scalesim,genz")
    ap.add_argument("--out", type=Path, default=RESULTS / "summary.md")
    args = ap.parse_args(argv)
    peers = json.loads((RESULTS / "peers.json").read_text())
    t0 = time.perf_counter()
    lines = ["# Physical model vs tools that model DRAM", "",
             f"`python benchmarks/vs_dram_tools.py --budget {args.budget}` (our side); peers' "
             "numbers: `benchmarks/results/dram_tools/peers.json`.", ""]
    for name in args.only.split(","):
        lines += {"zigzag": zigzag, "scalesim": scalesim, "genz": genz}[name](peers, args)
        print("\n".join(lines), flush=True)
    lines.append(f"({time.perf_counter() - t0:.0f} s)")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
