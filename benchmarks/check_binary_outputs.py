"""Compare the cost model with MAESTRO binary outputs made elsewhere, case folder by case folder.

Usage: python benchmarks/check_binary_outputs.py FOLDER [--show K]

FOLDER holds one sub-folder per case, laid out like ``../shared/reference/maestro/cases/*/*``:
- the mapping file (the one ``--Mapping_file=`` names in ``meta.json``'s ``argv``, else the only
  ``.m`` file other than ``hw.m``);
- ``hw.m`` when the run used a hardware file, else the hardware comes from the command-line
  options in ``argv`` (``--num_pes``, ``--l1_size``, ``--l2_size``, ``--noc_bw``,
  ``--offchip_bw``, ``--noc_hops``, ``--noc_hop_latency``); ``--num_simd_lanes`` applies
  either way;
- the binary's CSV (``maestro_output_hp.csv``, else any other ``.csv``) when it completed;
- ``console.txt``, its standard output (``--print_res=true``), for the per-tensor L1/L2 size
  requirements, which the CSV does not have (those columns are skipped without it);
- optionally ``meta.json`` with ``argv`` (a list) and ``status`` (``ok`` when the binary
  completed; without it, a case with a CSV counts as completed).

Every column ``benchmarks/check_reference.py`` compares is compared, with its tolerances, plus
MAESTRO's CSV energy. A case the binary did not complete must be rejected by our parser or
flagged invalid by the model. This script never runs MAESTRO. It prints the counts per layer
type and examples of mismatches; exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Hardware  # noqa: E402
from costmodel.analysis import evaluate_network, maestro_csv_energy  # noqa: E402
from costmodel.errors import MaestroInputError, MappingError  # noqa: E402
from costmodel.io.maestro import load_hardware, load_mapping  # noqa: E402
from tests import reference as ref  # noqa: E402

CLI_HW = {"num_pes": "num_pes", "l1_size": "l1_size", "l2_size": "l2_size", "noc_bw": "noc_bw",
          "offchip_bw": "offchip_bw", "noc_hops": "noc_hops",
          "noc_hop_latency": "noc_hop_latency"}


def _options(argv: list[str]) -> dict[str, str]:
    out = {}
    for a in argv:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            out[k] = v
    return out


def _console_sizes(console: str) -> list[dict[str, str]]:
    """Per layer (in order), the per-tensor L1/L2 size requirements the console prints."""
    out = []
    for part in console.split("Num MACs:")[1:]:
        sizes = {}
        for t, block in re.findall(r"Tensor (\w+)\n(.*?)(?=Tensor |Overall)", part, re.S):
            l2 = re.search(r"L2 size requirement: (\S+)", block)
            l1 = re.search(r"L1 size requirement: (\S+)", block)
            if l2 and l1 and f"con_{t}_l2_size_req" not in sizes:
                sizes[f"con_{t}_l2_size_req"] = l2.group(1)
                sizes[f"con_{t}_l1_size_req"] = l1.group(1)
        out.append(sizes)
    return out


def _case_files(d: Path, opts: dict[str, str]):
    mapping = d / Path(opts["Mapping_file"]).name if "Mapping_file" in opts else None
    if mapping is None or not mapping.exists():
        ms = [p for p in d.glob("*.m") if p.name != "hw.m"]
        mapping = ms[0] if len(ms) == 1 else None
    csvs = [d / "maestro_output_hp.csv"] if (d / "maestro_output_hp.csv").exists() else sorted(
        d.glob("*.csv"))
    return mapping, (csvs[0] if csvs else None)


def _hardware(d: Path, opts: dict[str, str]) -> Hardware:
    if (d / "hw.m").exists():
        hw = load_hardware(d / "hw.m")
    else:
        hw = Hardware.from_cli(**{CLI_HW[k]: int(v) for k, v in opts.items() if k in CLI_HW})
    if "num_simd_lanes" in opts:
        hw = replace(hw, simd_lanes=int(opts["num_simd_lanes"]))
    return hw


def check_case(d: Path) -> tuple[str, str, list[str]]:
    """(layer type of the first layer, outcome, mismatching columns) of one case folder."""
    meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
    opts = _options(meta.get("argv", []))
    mapping, csv_path = _case_files(d, opts)
    if mapping is None:
        return "?", "no mapping file", []
    completed = meta.get("status", "ok" if csv_path else "error") == "ok" and csv_path is not None
    try:
        net = load_mapping(mapping)
        reps = evaluate_network(net, _hardware(d, opts))
    except (MaestroInputError, MappingError) as e:
        return "?", ("ours rejects, binary ran" if completed else "both reject"), [str(e)]
    kind = net.layers[0].type
    if not completed:
        ok = not all(r.valid for r in reps)
        return kind, ("binary fails, ours flagged" if ok else "binary fails, ours VALID"), []
    lines = [x for x in csv_path.read_text().splitlines()[1:] if x.strip()]
    console = (d / "console.txt").read_text() if (d / "console.txt").exists() else ""
    sizes = _console_sizes(console)
    bad = []
    if len(lines) != len(reps):
        bad.append(f"{len(lines)} CSV rows for {len(reps)} layers")
    multi = [any(x.kind == "C" for x in layer.dataflow.directives) for layer in net.layers]
    energies = maestro_csv_energy(reps, multi)
    for i, (line, rep) in enumerate(zip(lines, reps)):
        row = dict(zip(ref.CSV_COLUMNS, [v.strip() for v in line.split(",")][2:]))
        for _, col in ref.INT_COLUMNS:
            row.setdefault(col, "")
        if i < len(sizes):
            row.update(sizes[i])
        bad += [f"{net.layers[i].name}: {x}" for x in ref.compare(rep, row)]
        if not ref.close(energies[i], float(row["energy_nj"]), 1e-6):
            bad.append(f"{net.layers[i].name}: csv energy {energies[i]} != {row['energy_nj']}")
    if bad:
        return kind, "MISMATCH", bad
    return kind, ("match, flagged" if not all(r.valid for r in reps) else "match"), []


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--show", type=int, default=10)
    a = ap.parse_args()
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    fails = []
    for d in sorted(p for p in a.folder.iterdir() if p.is_dir()):
        kind, outcome, bad = check_case(d)
        counts[kind][outcome] += 1
        if outcome in ("MISMATCH", "binary fails, ours VALID", "no mapping file"):
            fails.append((d.name, outcome, bad[:5]))
    for kind in sorted(counts):
        print(kind, dict(sorted(counts[kind].items())))
    total = sum(sum(c.values()) for c in counts.values())
    print(f"cases: {total}, problems: {len(fails)}")
    for f in fails[: a.show]:
        print(*f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
