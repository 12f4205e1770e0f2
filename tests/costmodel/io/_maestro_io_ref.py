"""Access to the MAESTRO reference cases (``../shared/reference/maestro``) for the io tests."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
REF = REPO.parent / "shared" / "reference" / "maestro"
HAVE_REF = (REF / "cases_index.csv").exists() and (REF / "reference.csv.gz").exists()
needs_ref = pytest.mark.skipif(not HAVE_REF, reason=f"MAESTRO reference data not found at {REF}")
ACCEPTED_CATEGORIES = ("a_bundled", "b_hw_variants", "c_validation", "d_random")


@lru_cache(maxsize=1)
def cases() -> list[dict[str, str]]:
    """Rows of ``cases_index.csv``."""
    if not HAVE_REF:
        return []
    with open(REF / "cases_index.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def case_dir(case: dict[str, str]) -> Path:
    return REF / "cases" / case["category"] / case["case_id"]


def mapping_path(case: dict[str, str]) -> Path:
    """The mapping file of a case (b_hw_variants use the a_bundled copy)."""
    path = case_dir(case) / case["mapping_file"]
    if not path.exists() and case["category"] == "b_hw_variants":
        stem = case["mapping_file"].removesuffix(".m")
        path = REF / "cases" / "a_bundled" / f"{stem}__accelerator_1" / case["mapping_file"]
    return path


@lru_cache(maxsize=1)
def reference_rows() -> dict[str, list[dict[str, str]]]:
    """Per case id, the reference rows (layer order) with the columns the io tests need."""
    keep = ("layer_index", "layer_name", "layer_type", "network", "dims_text",
            "dataflow_resolved", "stride_X", "stride_Y")
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    with gzip.open(REF / "reference.csv.gz", "rt", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["case_id"]].append({k: row[k] for k in keep})
    for rows in out.values():
        rows.sort(key=lambda r: int(r["layer_index"]))
    return dict(out)


@lru_cache(maxsize=1)
def accepted_mappings() -> dict[Path, list[str]]:
    """Mapping files MAESTRO ran successfully -> ids of the cases that used them."""
    out: dict[Path, list[str]] = defaultdict(list)
    for case in cases():
        if case["status"] == "ok" and case["category"] in ACCEPTED_CATEGORIES:
            out[mapping_path(case)].append(case["case_id"])
    return dict(out)


def ids(paths: list[Path]) -> list[str]:
    return [p.parent.name for p in paths]
