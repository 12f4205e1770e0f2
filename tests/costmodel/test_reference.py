"""Fidelity against the original MAESTRO binary's outputs.

Always checks the golden rows kept in the repo (``tests/data/maestro_golden.csv.gz``, every case
category, layer type, cluster-level count and hardware variant), so a clean clone tests fidelity.
When ``../shared/reference/maestro`` is present it also checks a deterministic sample of the full
set; ``MAPPER_FULL_REFERENCE=1`` checks all of its rows (about a minute), as does
``python benchmarks/check_reference.py``.
"""

from __future__ import annotations

import os
import random

import pytest

from costmodel.analysis import evaluate, maestro_csv_energy
from tests import reference as ref

needs_shared = pytest.mark.skipif(not ref.HAVE_REFERENCE, reason=ref.SKIP_REASON)


def _shared_cases():
    if not ref.HAVE_REFERENCE:
        return []
    cases = ref.by_case(ref.rows())
    if os.environ.get("MAPPER_FULL_REFERENCE") == "1":
        return list(cases.items())
    rng = random.Random(1234)
    keep = [c for c in cases if not c.startswith(("r_", "p_"))]
    # all random single-layer cases, all validation cases, and a sample of the rest
    sample = set(rng.sample(keep, min(60, len(keep))))
    return [(c, rs) for c, rs in cases.items() if c in sample or c.startswith(("r_", "p_"))
            or rs[0]["category"] == "c_validation"]


def check_case(case: str, rows: list[dict]) -> None:
    """Evaluate a case's rows (layer order) and compare every column with MAESTRO's.

    ``rows`` may be a subset of the case's layers as long as it holds the first layer of each
    type (the tensor tables come from it); MAESTRO's CSV energy of a row is checked only when the
    previous layer is present too (it reads that layer's L1 traffic).
    """
    reps = ref.case_reports(rows)
    for r, rep in zip(rows, reps):
        bad = ref.compare(rep, r)
        assert not bad, f"{case} {r['layer_name']}: {bad[:5]}"
    multi = [int(r["num_cluster_levels"]) > 1 for r in rows]
    index = [int(r["layer_index"]) for r in rows]
    for i, (r, e, rep) in enumerate(zip(rows, maestro_csv_energy(reps, multi), reps)):
        follows_previous = index[i] == (index[i - 1] + 1 if i else 0)
        if follows_previous:
            assert ref.close(e, float(r["energy_nj"]), 1e-6), (case, r["layer_name"])
        if not multi[i]:  # single level: our energy is MAESTRO's CSV energy
            assert ref.close(rep.energy_nj, float(r["energy_nj"]), 1e-6)
        assert ref.close(rep.energy_total_nj, 0.00023 * float(r["con_total_energy_xmac"]), 1e-6)


def _ids(x):
    return x if isinstance(x, str) else ""


@pytest.mark.parametrize("case,rows", list(ref.by_case(ref.golden_rows()).items()), ids=_ids)
def test_golden_case_matches_maestro(case, rows):
    check_case(case, rows)


@needs_shared
@pytest.mark.parametrize("case,rows", _shared_cases(), ids=_ids)
def test_case_matches_maestro(case, rows):
    check_case(case, rows)


def test_golden_set_covers_the_reference():
    """Every category, layer type, 1-4 cluster levels, and many hardware files are in it."""
    g = ref.golden_rows()
    assert 300 <= len(g) <= 500
    assert {r["category"] for r in g} == {"a_bundled", "b_hw_variants", "c_validation",
                                           "d_random"}
    assert {r["layer_type"] for r in g} == {"CONV", "DSCONV", "GEMM", "NGCONV", "TRCONV"}
    assert {r["num_cluster_levels"] for r in g} == {"1", "2", "3", "4"}
    assert any(r["stride_X"] not in ("", "1") for r in g)
    assert len({tuple(r[c] for c in ref.GOLDEN_COLUMNS if c.startswith("hw_")) for r in g}) > 50
    assert {r["chk_macs_eq_expected"] for r in g} >= {"0", "1"}


@needs_shared
def test_golden_rows_are_reference_rows():
    """The golden file is an exact extract of the shared reference (rebuild it if not)."""
    full = {(r["case_id"], r["layer_index"]): r for r in ref.rows()}
    for r in ref.golden_rows():
        want = full[(r["case_id"], r["layer_index"])]
        assert r == {c: want[c] for c in ref.GOLDEN_COLUMNS}, (r["case_id"], r["layer_index"])


def _consistency_flags(rows) -> int:
    n = 0
    for r in rows:
        if r["chk_macs_eq_expected"] not in ("0", "1"):
            continue
        rep = evaluate(ref.layer_of(r), ref.hardware_of(r))
        wrong_macs = r["chk_macs_eq_expected"] == "0"
        assert bool(rep.flags & 16) == wrong_macs, r["case_id"]
        if r["chk_runtime_ge_ideal_analytic"] == "0":
            assert not rep.valid
        n += 1
    return n


def test_physical_consistency_flags_follow_golden_checks():
    """Our invalid flag is set exactly where MAESTRO's MAC count is wrong or runtime < bound."""
    assert _consistency_flags(ref.golden_rows()) > 300


@needs_shared
def test_physical_consistency_flags_follow_reference_checks():
    assert _consistency_flags(ref.rows()[::7]) > 1000
