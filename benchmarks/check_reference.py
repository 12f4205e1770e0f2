"""Compare the cost model with every reference row of the original MAESTRO binary.

Usage: python benchmarks/check_reference.py [--limit N] [--category CAT] [--show K]
Prints the number of rows checked, the number that match on every column, and examples.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Network  # noqa: E402
from costmodel.analysis import evaluate, maestro_csv_energy, network_tables  # noqa: E402
from tests import reference as ref  # noqa: E402


def check(rows, show=5):
    by_case = collections.defaultdict(list)
    for r in rows:
        by_case[r["case_id"]].append(r)
    n_ok = n = 0
    fails = []
    t0 = time.perf_counter()
    for case, rs in by_case.items():
        rs.sort(key=lambda r: int(r["layer_index"]))
        layers = [ref.layer_of(r) for r in rs]
        tables = network_tables(Network("n", layers))
        reps = []
        for r, layer in zip(rs, layers):
            n += 1
            try:
                rep = evaluate(layer, ref.hardware_of(r),
                               table=tables["CONV" if layer.type == "TRCONV" else layer.type])
            except Exception as e:  # noqa: BLE001
                fails.append((case, r["layer_name"], [f"exception {e!r}"]))
                reps.append(None)
                continue
            reps.append(rep)
            bad = ref.compare(rep, r)
            if not bad:
                n_ok += 1
            else:
                fails.append((case, r["layer_name"], bad))
        if all(x is not None for x in reps):
            multi = [int(r["num_cluster_levels"]) > 1 for r in rs]
            for r, e in zip(rs, maestro_csv_energy(reps, multi)):
                if not ref.close(e, float(r["energy_nj"]), 1e-6):
                    fails.append((case, r["layer_name"], [f"csv energy {e} != {r['energy_nj']}"]))
    dt = time.perf_counter() - t0
    print(f"rows checked: {n}, all columns match: {n_ok}, time {dt:.1f}s")
    for f in fails[:show]:
        print(*f)
    return n, n_ok, fails


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--category", default="")
    ap.add_argument("--show", type=int, default=10)
    a = ap.parse_args()
    rows = [r for r in ref.rows() if not a.category or r["category"] == a.category]
    if a.limit:
        rows = rows[: a.limit]
    _, _, fails = check(rows, a.show)
    sys.exit(1 if fails else 0)
