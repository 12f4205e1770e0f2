"""The physical model against MAESTRO on every reference row (../shared/reference/maestro).

For each row: with an unbounded off-chip port, ``physical`` must give MAESTRO's runtime; at the
row's own hardware, wherever the DRAM never stalls, ``physical`` gives MAESTRO's on-chip
runtime, and where MAESTRO's own off-chip term did not bind either, the binary's runtime.

    python benchmarks/check_physical.py [--limit N]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.analysis import evaluate  # noqa: E402
from costmodel.hardware import INT_MAX  # noqa: E402
from tests import reference as ref  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="check only the first N rows")
    args = ap.parse_args(argv)
    if not ref.HAVE_REFERENCE:
        print(ref.SKIP_REASON)
        return 2
    rows = ref.rows()[: args.limit]
    count = collections.Counter()
    bad = []
    t0 = time.perf_counter()
    for r in rows:
        try:
            layer, hw = ref.layer_of(r), ref.hardware_of(r)
            inf = dataclasses.replace(hw, offchip_bw=INT_MAX)
            m = evaluate(layer, inf)
        except Exception:  # rows MAESTRO rejects are not mappings
            count["not a mapping"] += 1
            continue
        if not m.valid:
            count["flagged invalid"] += 1
            continue
        count["checked"] += 1
        if evaluate(layer, inf, cost_model="physical").runtime != m.runtime:
            bad.append((r["case_id"], r["layer_name"], "unbounded port"))
        p = evaluate(layer, hw, cost_model="physical")
        count[f"bound {p.bound}"] += 1
        if p.dram_stall_cycles == 0:
            count["DRAM never stalls"] += 1
            if p.runtime != m.runtime:
                bad.append((r["case_id"], r["layer_name"], "no stall"))
            ref_rt = ref._int(r["runtime_cycles"])
            if ref_rt == m.runtime:
                count["... and MAESTRO's off-chip term did not bind"] += 1
                if p.runtime != ref_rt:
                    bad.append((r["case_id"], r["layer_name"], "binary"))
                else:
                    count["... equal to the binary's runtime"] += 1
    for k, v in count.items():
        print(f"{k}: {v}")
    print(f"mismatches: {len(bad)}  ({time.perf_counter() - t0:.0f} s)")
    for b in bad[:10]:
        print("  ", *b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
