"""``mapper evaluate``: run the cost model on a MAESTRO mapping file, like the MAESTRO binary."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from costmodel import Hardware
from costmodel.analysis import evaluate_network
from costmodel.engine import ERR_PES, ERR_UNIQUE_ZERO, ERR_ZERO_COMPUTE
from costmodel.errors import MaestroInputError, MappingError
from costmodel.hardware import INT_MAX
from costmodel.io.maestro_csv import format_csv
from costmodel.io.validate import validate_dataflow
from mapper.atomic import write_text

# Results the original binary cannot produce (it crashes or aborts): reported as errors here;
# the Python API returns them flagged invalid instead. (A layer with no valid top-level case
# is not fatal: MAESTRO prints a row for it, and so do we, marked invalid.)
FATAL = ERR_PES | ERR_UNIQUE_ZERO | ERR_ZERO_COMPUTE
FATAL_RULES = {ERR_PES: "cluster-exceeds-pes", ERR_UNIQUE_ZERO: "unique-zero",
               ERR_ZERO_COMPUTE: "empty-sub-cluster"}


#: MAESTRO options that the binary parses and ignores (or that only affect its console output)
MAESTRO_IGNORED = (
    "print_res", "print_res_csv_file", "print_log_file", "msg_print_lv", "noc_mc_support",
    "dataflow_file", "layer_file", "do_implicit_reduction", "do_fg_sync", "do_reduction_op",
    "full_buffer", "do_dse", "verbose", "print_design_space", "print_space", "min_num_PEs",
    "max_num_PEs", "pe_tick", "area_constraint", "power_constraint", "optimization_target",
    "bw_sweep", "top_bw_only", "min_noc_bw", "max_noc_bw", "bw_tick")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate the dataflows of a mapping file (.m or .yaml)",
        description="Evaluate every layer's dataflow of MAPPING on a hardware description. "
        "Without --hw, MAESTRO's command-line hardware options apply (with their defaults).")
    p.add_argument("mapping", nargs="?",
                   help="MAESTRO .m mapping file or YAML model with dataflows")
    p.add_argument("--Mapping_file", dest="mapping_opt", help=argparse.SUPPRESS)
    p.add_argument("--hw", "--HW_file", dest="hw", help="hardware file (.m or .yaml)")
    p.add_argument("--format", choices=("table", "json", "maestro-csv"), default="table")
    p.add_argument("--out", help="write the output to this file instead of standard output")
    p.add_argument("--digits", type=int, default=6,
                   help="significant digits of floats in maestro-csv (MAESTRO prints 6)")
    g = p.add_argument_group("MAESTRO command-line hardware (used when --hw is not given)")
    g.add_argument("--num_pes", type=int, default=7)
    g.add_argument("--l1_size_cstr", type=int, default=INT_MAX)
    g.add_argument("--l2_size_cstr", type=int, default=INT_MAX)
    g.add_argument("--noc_bw_cstr", type=int, default=INT_MAX)
    g.add_argument("--offchip_bw_cstr", type=int, default=70000)
    g.add_argument("--noc_hops", type=int, default=1)
    g.add_argument("--noc_hop_latency", type=int, default=0)
    g.add_argument("--num_simd_lanes", type=int, default=None,
                   help="MACs per PE per cycle (default 1; also applies with --hw)")
    for opt in MAESTRO_IGNORED:  # accepted so MAESTRO command lines run unchanged
        p.add_argument(f"--{opt}", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def hardware_from_args(args) -> Hardware:
    from costmodel.io import load_hardware_any

    if args.hw:
        hw = load_hardware_any(args.hw)
        if args.num_simd_lanes is not None:
            d = hw.to_dict()
            d["simd_lanes"] = args.num_simd_lanes
            hw = Hardware(**d)
        return hw
    return Hardware.from_cli(
        num_pes=args.num_pes, l1_size=args.l1_size_cstr, l2_size=args.l2_size_cstr,
        noc_bw=args.noc_bw_cstr, offchip_bw=args.offchip_bw_cstr, noc_hops=args.noc_hops,
        noc_hop_latency=args.noc_hop_latency, simd_lanes=args.num_simd_lanes or 1)


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def format_table(network, reports, hw: Hardware) -> str:
    cols = [("layer", "layer", "{}"), ("runtime", "cycles", "{:d}"), ("num_macs", "MACs", "{:d}"),
            ("throughput", "MACs/cyc", "{:.4g}"), ("energy_nj", "energy nJ", "{:.6g}"),
            ("l1_size", "L1 req", "{:d}"), ("l2_size", "L2 req", "{:d}"),
            ("noc_bw_req", "NoC BW", "{:d}"), ("offchip_bw_req", "offchip BW", "{:d}"),
            ("avg_utilized_pes", "avg PEs", "{:.4g}")]
    rows = [[h for _, h, _ in cols] + ["valid"]]
    for r in reports:
        rows.append([f.format(getattr(r, k)) for k, _, f in cols]
                    + ["yes" if r.valid else "NO: " + r.reason])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"network {network.name}: {len(reports)} layers on {hw.num_pes} PEs "
             f"(NoC bw {hw.noc_bw}, off-chip bw {hw.offchip_bw}, SIMD {hw.simd_lanes})"]
    for row in rows:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    tot_rt = sum(r.runtime for r in reports)
    tot_e = sum(r.energy_nj for r in reports)
    lines.append(f"total: {tot_rt} cycles, {tot_e:.6g} nJ, "
                 f"{sum(not r.valid for r in reports)} invalid layer(s)")
    warn = []
    l1, l2 = max(r.l1_size for r in reports), max(r.l2_size for r in reports)
    if l1 > hw.l1_size:
        warn.append(f"L1 requirement {l1} exceeds L1 size {hw.l1_size}")
    if l2 > hw.l2_size:
        warn.append(f"L2 requirement {l2} exceeds L2 size {hw.l2_size}")
    if max(r.offchip_bw_req for r in reports) > hw.offchip_bw:
        warn.append("off-chip bandwidth requirement exceeds the off-chip bandwidth")
    lines += [f"warning: {w}" for w in warn]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from costmodel.io import load_network

    path = args.mapping or args.mapping_opt
    if not path:
        raise MaestroInputError("no mapping file given (mapper evaluate MAPPING --hw HW)",
                                rule="usage")
    network = load_network(path)
    if not network.layers:
        raise MaestroInputError("the file defines no layers", source=path, rule="empty-model")
    missing = [layer.name for layer in network.layers if layer.dataflow is None]
    if missing:
        raise MaestroInputError(
            f"layer(s) {', '.join(missing)} have no Dataflow block; evaluate needs one per layer "
            "(use `mapper tune` to find dataflows)", source=path, rule="dataflow")
    hw = hardware_from_args(args)
    for layer in network.layers:  # checks that need the hardware (PE count)
        validate_dataflow(layer, str(path), layer.source_line, num_pes=hw.num_pes)
    reports = evaluate_network(network, hw)
    for layer, rep in zip(network.layers, reports):
        if rep.flags & FATAL:
            raise MappingError(f"layer {layer.name!r} cannot be analysed: {rep.reason}",
                               source=str(path), line=layer.source_line,
                               rule=FATAL_RULES[rep.flags & FATAL & -(rep.flags & FATAL)])
    if args.format == "maestro-csv":
        text = format_csv(network.name, reports, hw.noc_bw, digits=args.digits)
    elif args.format == "json":
        text = json.dumps({"network": network.name, "mapping": str(path),
                           "hardware": hw.to_dict(),
                           "layers": [{k: _json_safe(v) for k, v in r.to_dict().items()}
                                      for r in reports]}, indent=1) + "\n"
    else:
        text = format_table(network, reports, hw)
    if args.out:
        write_text(Path(args.out), text)
    else:
        sys.stdout.write(text)
    return 0
