"""``mapper evaluate``: run the cost model on a MAESTRO mapping file, like the MAESTRO binary."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from costmodel import Hardware
from costmodel.analysis import COST_MODELS, evaluate_network, maestro_csv_energy
from costmodel.engine import ERR_PES, ERR_UNIQUE_ZERO, ERR_ZERO_COMPUTE
from costmodel.errors import MaestroInputError, MappingError
from costmodel.hardware import INT_MAX
from costmodel.io.maestro_csv import format_csv
from costmodel.io.validate import validate_dataflow
from mapper.atomic import write_text
from mapper.cli._options import int_at_least, non_empty
from mapper.workloads.presets import HARDWARE_PRESETS

#: exit status when the output was written but some layer is flagged invalid
EXIT_FLAGGED = 3

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


#: MAESTRO's command-line hardware options: (smallest value, default)
CLI_HARDWARE = {"num_pes": (1, 7), "l1_size_cstr": (1, INT_MAX), "l2_size_cstr": (1, INT_MAX),
                "noc_bw_cstr": (1, INT_MAX), "offchip_bw_cstr": (1, 70000), "noc_hops": (0, 1),
                "noc_hop_latency": (0, 0)}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate the dataflows of a mapping file (.m or .yaml)",
        description="Evaluate every layer's dataflow of MAPPING on a hardware description. "
        "Without --hw, MAESTRO's command-line hardware options apply (with their defaults).",
        epilog=f"Exit status: 0 every layer valid; {EXIT_FLAGGED} the output was written but "
        "the consistency check flags some layer (one warning line per layer on stderr; "
        "MAESTRO would print e.g. negative energies or NaN for it); 2 bad input or usage. "
        "Energy (and with it Ops/J and throughput per energy) differs from MAESTRO's CSV for "
        "multi-level mappings: ours counts each layer's own L1 accesses, MAESTRO takes the "
        "previous layer's.")
    p.add_argument("mapping", nargs="?",
                   help="MAESTRO .m mapping file or YAML model with dataflows")
    p.add_argument("--Mapping_file", dest="mapping_opt", help=argparse.SUPPRESS)
    p.add_argument("--hw", "--HW_file", dest="hw", type=non_empty,
                   help=f"hardware file (.m or .yaml) or preset ({', '.join(HARDWARE_PRESETS)})")
    p.add_argument("--cost-model", default="maestro", choices=COST_MODELS,
                   help="maestro (default): MAESTRO's numbers exactly; physical: DRAM as a level "
                   "with reuse, L2 residency (L2Resident), bandwidth-bound runtime, DRAM energy")
    p.add_argument("--sparsity", default=None, metavar="FILE",
                   help="the accelerator's sparsity features (physical model): a YAML file of "
                   "formats, compute (skip/gate/none) and on, or a hardware YAML with a "
                   "sparsity key (default: that key of a YAML --hw); densities come from "
                   "the mapping file")
    p.add_argument("--hw-set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change one field of the hardware, e.g. --hw-set simd_lanes=4 (as "
                   "mapper tune)")
    p.add_argument("--format", choices=("table", "json", "maestro-csv"), default="table",
                   help="maestro-csv: the binary's CSV, its energy column included (with "
                   "--cost-model maestro, MAESTRO's own rule: the previous layer's L1 counts "
                   "for multi-level mappings; table and json give each layer's own)")
    p.add_argument("--out", help="write the output to this file instead of standard output")
    p.add_argument("--digits", type=int_at_least(1, 17), default=6,
                   help="significant digits of floats in maestro-csv, 1 to 17 (MAESTRO "
                   "prints 6)")
    g = p.add_argument_group("MAESTRO command-line hardware (used when --hw is not given)")
    for opt, (minimum, default) in CLI_HARDWARE.items():
        g.add_argument(f"--{opt}", type=int_at_least(minimum, INT_MAX), default=None,
                       help=f"default {default}")
    g.add_argument("--num_simd_lanes", type=int_at_least(1, INT_MAX), default=None,
                   help="MACs per PE per cycle (default 1; also applies with --hw)")
    for opt in MAESTRO_IGNORED:  # accepted so MAESTRO command lines run unchanged
        p.add_argument(f"--{opt}", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def hardware_from_args(args) -> Hardware:
    """``--hw`` (a file or preset), or MAESTRO's command-line hardware options; then the
    ``--hw-set`` overrides."""
    from mapper.cli._inputs import with_fields

    return with_fields(_base_hardware(args), getattr(args, "hw_set", ()))


def _base_hardware(args) -> Hardware:
    from mapper.cli._inputs import load_hardware, warn

    given = {k: getattr(args, k) for k in CLI_HARDWARE if getattr(args, k) is not None}
    if args.hw:
        if given:
            warn("evaluate", f"{', '.join('--' + k for k in given)}: no effect with --hw "
                 "(only --num_simd_lanes applies to it)")
        hw = load_hardware(args.hw)
        if args.num_simd_lanes is not None:
            d = hw.to_dict()
            d["simd_lanes"] = args.num_simd_lanes
            hw = Hardware(**d)
        return hw
    v = {k: given.get(k, default) for k, (_, default) in CLI_HARDWARE.items()}
    return Hardware.from_cli(
        num_pes=v["num_pes"], l1_size=v["l1_size_cstr"], l2_size=v["l2_size_cstr"],
        noc_bw=v["noc_bw_cstr"], offchip_bw=v["offchip_bw_cstr"], noc_hops=v["noc_hops"],
        noc_hop_latency=v["noc_hop_latency"], simd_lanes=args.num_simd_lanes or 1)


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def format_table(network, reports, hw: Hardware, cost_model: str = "maestro",
                 sparse: bool = False) -> str:
    cols = [("layer", "layer", "{}"), ("runtime", "cycles", "{:d}"), ("num_macs", "MACs", "{:d}"),
            ("throughput", "MACs/cyc", "{:.4g}"), ("energy_nj", "energy nJ", "{:.6g}"),
            ("l1_size", "L1 req", "{:d}"), ("l2_size", "L2 req", "{:d}"),
            ("noc_bw_req", "NoC BW", "{:d}"), ("offchip_bw_req", "offchip BW", "{:d}"),
            ("avg_utilized_pes", "avg PEs", "{:.4g}"), ("bound", "bound", "{}")]
    if cost_model == "physical":
        cols += [("dram_read", "DRAM rd", "{:d}"), ("dram_write", "DRAM wr", "{:d}"),
                 ("l2_resident", "L2 res", "{:d}")]
    if sparse:
        cols.insert(3, ("effectual_macs", "eff. MACs", "{:d}"))
    rows = [[h for _, h, _ in cols] + ["valid"]]
    for r in reports:
        rows.append([f.format(getattr(r, k)) for k, _, f in cols]
                    + ["yes" if r.valid else "NO: " + r.reason])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"network {network.name}: {len(reports)} layers on {hw.num_pes} PEs "
             f"(NoC bw {hw.noc_bw}, off-chip bw {hw.offchip_bw}, SIMD {hw.simd_lanes}); "
             f"cost model {cost_model}"]
    for row in rows:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    tot_rt = sum(r.runtime for r in reports)
    tot_e = sum(r.energy_nj for r in reports)
    lines.append(f"total: {tot_rt} cycles, {tot_e:.6g} nJ, "
                 f"{sum(not r.valid for r in reports)} invalid layer(s)")
    from mapper.tuning.results import resource_warnings

    lines += [f"warning: {w}" for w in resource_warnings(reports, hw)]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from costmodel.io import load_network
    from mapper.cli._inputs import load_sparsity, network_warnings, warn
    from mapper.cli._output import check_out_file
    from mapper.tuning.results import resource_warnings

    path = args.mapping or args.mapping_opt
    if not path:
        raise MaestroInputError("no mapping file given (mapper evaluate MAPPING --hw HW)",
                                rule="usage")
    if args.out:
        check_out_file(args.out)
    network = load_network(path)
    if not network.layers:
        raise MaestroInputError("the file defines no layers", source=path, rule="empty-model")
    missing = [layer.name for layer in network.layers if layer.dataflow is None]
    if missing:
        raise MaestroInputError(
            f"layer(s) {', '.join(missing)} have no Dataflow block; evaluate needs one per layer "
            "(use `mapper tune` to find dataflows)", source=path, rule="dataflow")
    for w in network_warnings(network):
        warn("evaluate", w)
    hw = hardware_from_args(args)
    for layer in network.layers:  # checks that need the hardware (PE count)
        validate_dataflow(layer, str(path), layer.source_line, num_pes=hw.num_pes)
    if args.cost_model == "maestro":
        for layer in network.layers:
            df = layer.dataflow
            if df is not None and df.l2_resident is not None:
                raise MaestroInputError(
                    f"layer {layer.name!r}: L2Resident({df.l2_resident}) is a physical-model "
                    "extension (MAESTRO has no DRAM level); use --cost-model physical or "
                    "remove the line", source=str(path), line=df.l2_resident_line,
                    rule="l2-resident")
    sparsity = load_sparsity(args.sparsity, args.hw, args.cost_model, network, "evaluate")
    reports = evaluate_network(network, hw, cost_model=args.cost_model, sparsity=sparsity)
    for layer, rep in zip(network.layers, reports):
        if rep.flags & FATAL:
            raise MappingError(f"layer {layer.name!r} cannot be analysed: {rep.reason}",
                               source=str(path), line=layer.source_line,
                               rule=FATAL_RULES[rep.flags & FATAL & -(rep.flags & FATAL)])
    if args.format == "maestro-csv":
        # the binary's CSV energy (its previous-layer rule) where the numbers are MAESTRO's
        energies = (maestro_csv_energy(reports, [layer.dataflow.num_levels > 1
                                                 for layer in network.layers])
                    if args.cost_model == "maestro" else None)
        text = format_csv(network.name, reports, hw.noc_bw, digits=args.digits,
                          energies=energies)
    elif args.format == "json":
        text = json.dumps({"network": network.name, "mapping": str(path),
                           "cost_model": args.cost_model,
                           "hardware": hw.to_dict(),
                           "layers": [{k: _json_safe(v) for k, v in r.to_dict().items()}
                                      for r in reports]}, indent=1) + "\n"
    else:
        text = format_table(network, reports, hw, args.cost_model,
                            sparse=any(r.effectual_macs != r.num_macs for r in reports))
    if args.out:
        write_text(Path(args.out), text)
    else:
        sys.stdout.write(text)
    if args.format != "table":  # the table shows these itself
        for w in resource_warnings(reports, hw):
            warn("evaluate", w)
    flagged = [(layer, rep) for layer, rep in zip(network.layers, reports) if not rep.valid]
    for layer, rep in flagged:
        where = f"{path}:{layer.source_line}: " if layer.source_line else f"{path}: "
        warn("evaluate", f"{where}layer {layer.name} flagged invalid: {rep.reason}")
    return EXIT_FLAGGED if flagged else 0
