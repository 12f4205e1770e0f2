"""Fidelity against the original MAESTRO binary's outputs (../shared/reference/maestro).

CI checks a deterministic sample of rows (every case category, every layer type); set
MAPPER_FULL_REFERENCE=1 to check all rows (about a minute), or run
``python benchmarks/check_reference.py``.
"""

from __future__ import annotations

import collections
import os
import random

import pytest

from costmodel import Network
from costmodel.analysis import evaluate, maestro_csv_energy, network_tables
from tests import reference as ref

pytestmark = pytest.mark.skipif(not ref.HAVE_REFERENCE, reason=ref.SKIP_REASON)


def _cases():
    if not ref.HAVE_REFERENCE:
        return []
    by_case = collections.defaultdict(list)
    for r in ref.rows():
        by_case[r["case_id"]].append(r)
    cases = sorted(by_case)
    if os.environ.get("MAPPER_FULL_REFERENCE") != "1":
        rng = random.Random(1234)
        keep = [c for c in cases if not c.startswith(("r_", "p_"))]
        # all random single-layer cases, all validation cases, and a sample of the rest
        sample = set(rng.sample(keep, min(60, len(keep))))
        cases = [c for c in cases if c in sample or c.startswith(("r_", "p_"))
                 or by_case[c][0]["category"] == "c_validation"]
    return [(c, sorted(by_case[c], key=lambda r: int(r["layer_index"]))) for c in cases]


@pytest.mark.parametrize("case,rows", _cases(), ids=lambda x: x if isinstance(x, str) else "")
def test_case_matches_maestro(case, rows):
    layers = [ref.layer_of(r) for r in rows]
    tables = network_tables(Network("n", layers))
    reps = []
    for r, layer in zip(rows, layers):
        rep = evaluate(layer, ref.hardware_of(r),
                       table=tables["CONV" if layer.type == "TRCONV" else layer.type])
        bad = ref.compare(rep, r)
        assert not bad, f"{case} {r['layer_name']}: {bad[:5]}"
        reps.append(rep)
    multi = [int(r["num_cluster_levels"]) > 1 for r in rows]
    for r, e, rep in zip(rows, maestro_csv_energy(reps, multi), reps):
        assert ref.close(e, float(r["energy_nj"]), 1e-6), (case, r["layer_name"])
        if not multi[rows.index(r)]:  # single level: our energy is MAESTRO's CSV energy
            assert ref.close(rep.energy_nj, float(r["energy_nj"]), 1e-6)
        assert ref.close(rep.energy_total_nj, 0.00023 * float(r["con_total_energy_xmac"]), 1e-6)


def test_physical_consistency_flags_follow_reference_checks():
    """Our invalid flag is set exactly where MAESTRO's MAC count is wrong or runtime < bound."""
    n = 0
    for r in ref.rows()[::7]:
        if r["chk_macs_eq_expected"] not in ("0", "1"):
            continue
        rep = evaluate(ref.layer_of(r), ref.hardware_of(r))
        wrong_macs = r["chk_macs_eq_expected"] == "0"
        assert bool(rep.flags & 16) == wrong_macs, r["case_id"]
        if r["chk_runtime_ge_ideal_analytic"] == "0":
            assert not rep.valid
        n += 1
    assert n > 1000
