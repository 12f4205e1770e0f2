"""Build ``tests/data/maestro_golden.csv.gz``: a few hundred MAESTRO reference rows for the repo.

Usage: python benchmarks/make_golden.py [--out PATH]   (needs ../shared/reference/maestro)

The selection is deterministic and covers every case category, layer type, stride, cluster-level
count, batch dimension, MAESTRO check outcome and hardware variant. Within a multi-layer case it
keeps the first layer of each layer type (MAESTRO's per-type tensor table comes from it), and for
every distinct kind of layer the first such layer together with its predecessor (MAESTRO's CSV
energy of a multi-level layer uses the previous layer's L1 traffic). Only the columns that
``tests/reference.py`` reads are written, with the 17-digit values.
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import reference as ref  # noqa: E402

RANDOM_PER_KIND = 6  # d_random single-layer cases kept per kind of layer
HW_VARIANTS_PER_MAPPING = 2  # b_hw_variants cases kept per mapping file


def kind(r: dict) -> tuple:
    """What distinguishes a reference row for coverage purposes."""
    return (r["layer_type"], r["stride_X"], r["stride_Y"], r["num_cluster_levels"],
            r["dims_text"].startswith("N:"), r["chk_macs_eq_expected"],
            r["chk_runtime_ge_ideal_analytic"])


def pick_layers(rows: list[dict]) -> list[dict]:
    """Rows of one case (sorted by layer index) the golden set keeps."""
    keep, first_of = {0}, {}
    for i, r in enumerate(rows):
        first_of.setdefault("CONV" if r["layer_type"] == "TRCONV" else r["layer_type"], i)
        first_of.setdefault(kind(r), i)
    for i in first_of.values():
        keep.update((i, max(i - 1, 0)))
    return [rows[i] for i in sorted(keep)]


def select(all_rows: list[dict]) -> list[dict]:
    by_case = collections.defaultdict(list)
    for r in all_rows:
        by_case[r["case_id"]].append(r)
    for rs in by_case.values():
        rs.sort(key=lambda r: int(r["layer_index"]))
    cases = sorted(by_case)
    chosen = [c for c in cases if by_case[c][0]["category"] in ("a_bundled", "c_validation")]
    # b_hw_variants: every mapping file on two hardware variants, rotating through the variants
    mappings = sorted({c.split("__")[0] for c in cases
                       if by_case[c][0]["category"] == "b_hw_variants"})
    for m, name in enumerate(mappings):
        variants = sorted(c for c in cases if c.startswith(name + "__")
                          and by_case[c][0]["category"] == "b_hw_variants")
        for j in range(HW_VARIANTS_PER_MAPPING):
            chosen.append(variants[(m * HW_VARIANTS_PER_MAPPING + j) % len(variants)])
    # d_random: the first few single-layer cases of every kind
    per_kind = collections.Counter()
    for c in cases:
        r = by_case[c][0]
        if r["category"] == "d_random" and per_kind[kind(r)] < RANDOM_PER_KIND:
            per_kind[kind(r)] += 1
            chosen.append(c)
    out = []
    for c in sorted(chosen):
        out.extend(pick_layers(by_case[c]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ref.GOLDEN)
    a = ap.parse_args()
    if not ref.HAVE_REFERENCE:
        sys.exit(ref.SKIP_REASON)
    rows = select(ref.rows())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same rows give the same bytes
    with open(a.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, ref.GOLDEN_COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    n_cases = len({r["case_id"] for r in rows})
    print(f"{a.out}: {len(rows)} rows from {n_cases} cases, {a.out.stat().st_size} bytes")
    for col in ("category", "layer_type", "num_cluster_levels"):
        print(f"  {col}:", dict(sorted(collections.Counter(r[col] for r in rows).items())))


if __name__ == "__main__":
    main()
