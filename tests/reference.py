"""MAESTRO reference outputs: the golden rows kept in the repo, and the full set in ``../shared``.

``golden_rows()`` is always available (``tests/data/maestro_golden.csv.gz``, built by
``benchmarks/make_golden.py``); ``rows()`` reads every row of ``../shared/reference/maestro``
when that directory is present (``HAVE_REFERENCE``). Both give dicts with the same column names.
"""

from __future__ import annotations

import csv
import gzip
import re
from functools import lru_cache
from pathlib import Path

from costmodel import Cluster, Dataflow, Hardware, Layer, Network, SpatialMap, TemporalMap
from costmodel.analysis import evaluate, network_tables

REPO = Path(__file__).resolve().parents[1]
REF_DIR = REPO.parent / "shared" / "reference" / "maestro"
HAVE_REFERENCE = (REF_DIR / "reference_hp.csv.gz").exists()
SKIP_REASON = f"MAESTRO reference data not found at {REF_DIR}"
GOLDEN = REPO / "tests" / "data" / "maestro_golden.csv.gz"

# (our CostReport field, reference column); integer columns must match exactly
INT_COLUMNS = [
    ("runtime", "runtime_cycles"), ("num_macs", "num_macs"), ("noc_bw_req", "noc_bw_req"),
    ("offchip_bw_req", "offchip_bw_req"), ("l2_size", "l2_size_req"), ("l1_size", "l1_size_req"),
    ("num_input_elements", "num_input_elements"),
    ("num_weight_elements", "num_weight_elements"),
    *[(f"{t}_{c}", f"{t}_{c}") for t in ("input", "filter", "output")
      for c in ("l1_read", "l1_write", "l2_read", "l2_write")],
    *[(f"{t}_delay_{s}", f"{t}_delay_{s}") for t in ("ingress", "egress", "compute")
      for s in ("min", "max", "avg")],
    *[(f"{t}_{lv}_size", f"con_{t}_{lv}_size_req") for t in ("input", "filter", "output")
      for lv in ("l1", "l2")],
]
FLOAT_COLUMNS = [
    ("throughput", "throughput_macs_per_cycle"), ("avg_bw_req", "avg_bw_req"),
    ("avg_utilized_pes", "avg_utilized_pes"), ("arithmetic_intensity", "arithmetic_intensity"),
    *[(f"{t}_reuse_factor", f"{t}_reuse_factor") for t in ("input", "filter", "output")],
]
AREA_COLUMNS = [("area", "area"), ("power", "power"), ("pe_power", "pe_power"),
                ("l1_power", "l1_power"), ("l2_power", "l2_power"), ("noc_power", "noc_power")]

# the columns of MAESTRO's CSV after network and layer name, in its order
CSV_COLUMNS = [
    "num_pes_out", "runtime_cycles", "energy_nj", "throughput_macs_per_cycle",
    "throughput_per_energy", "area", "power", "noc_bw_req", "avg_bw_req", "peak_bw_req",
    "vector_width", "offchip_bw_req", "l2_size_req", "l1_size_req", "multicast_factor_weight",
    "multicast_factor_input", "num_input_elements", "num_weight_elements", "ops_per_joule",
    "num_macs", "pe_power", "l1_power", "l2_power", "noc_power",
    *[f"{t}_{c}" for t in ("input", "filter", "output")
      for c in ("l1_read", "l1_write", "l2_read", "l2_write", "reuse_factor")],
    *[f"{t}_delay_{s}" for t in ("ingress", "egress", "compute") for s in ("min", "max", "avg")],
    "avg_utilized_pes", "arithmetic_intensity",
]
# every column the loaders below and the reference tests read: the golden file keeps only these
GOLDEN_COLUMNS = list(dict.fromkeys([
    "case_id", "category", "layer_index", "layer_name", "layer_type", "dims_text", "stride_X",
    "stride_Y", "dataflow_resolved", "num_cluster_levels",
    "hw_num_pes", "hw_l1_size_cstr", "hw_l2_size_cstr", "hw_noc_bw", "hw_offchip_bw",
    "hw_noc_latency", "hw_simd_lanes",
    *[col for _, col in INT_COLUMNS + FLOAT_COLUMNS + AREA_COLUMNS], *CSV_COLUMNS,
    "con_total_energy_xmac", "chk_macs_eq_expected", "chk_runtime_ge_ideal_analytic",
]))

_DIR = re.compile(r"(SpatialMap|TemporalMap|Cluster)\((\d+),\s*(\w+)\)\s*(\S*)")


def _int(x: str) -> int | None:
    return None if x in ("", "nan") else int(float(x))


@lru_cache(maxsize=1)
def rows() -> list[dict]:
    """Reference rows (17-digit values), joined with the layer description columns."""
    with gzip.open(REF_DIR / "reference.csv.gz", "rt") as f:
        desc = {(r["case_id"], r["layer_index"]): r for r in csv.DictReader(f)}
    with gzip.open(REF_DIR / "reference_hp.csv.gz", "rt") as f:
        out = []
        for r in csv.DictReader(f):
            d = dict(desc[(r["case_id"], r["layer_index"])])
            d.update(r)
            out.append(d)
    return out


@lru_cache(maxsize=1)
def golden_rows() -> list[dict]:
    """The golden rows kept in the repository (a deterministic subset of :func:`rows`)."""
    with gzip.open(GOLDEN, "rt", newline="") as f:
        return list(csv.DictReader(f))


def by_case(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by case, each case's rows in layer order."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["case_id"], []).append(r)
    return {c: sorted(rs, key=lambda r: int(r["layer_index"])) for c, rs in sorted(out.items())}


def parse_dataflow(text: str) -> Dataflow:
    ds = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        m = _DIR.fullmatch(part)
        if not m:
            raise ValueError(part)
        kind, a, b, dim = m.groups()
        if kind == "Cluster":
            ds.append(Cluster(int(a), b))
        else:
            ds.append((SpatialMap if kind == "SpatialMap" else TemporalMap)(int(a), int(b), dim))
    return Dataflow(ds)


def layer_of(r: dict) -> Layer:
    dims = {}
    for tok in r["dims_text"].split():
        k, v = tok.rsplit(":", 1)
        dims[k] = int(v)
    strides = {}
    if r["layer_type"] != "GEMM":
        for d in ("X", "Y"):
            s = _int(r[f"stride_{d}"])
            if s and s != 1:
                strides[d] = s
    return Layer(r["layer_name"], r["layer_type"], dims, strides, parse_dataflow(
        r["dataflow_resolved"]))


def hardware_of(r: dict) -> Hardware:
    return Hardware(num_pes=int(r["hw_num_pes"]), l1_size=int(r["hw_l1_size_cstr"]),
                    l2_size=int(r["hw_l2_size_cstr"]), noc_bw=int(r["hw_noc_bw"]),
                    offchip_bw=int(r["hw_offchip_bw"]), noc_latency=int(r["hw_noc_latency"]),
                    simd_lanes=int(r["hw_simd_lanes"]))


def case_reports(rows: list[dict]) -> list:
    """Our reports for one case's rows (layer order), with MAESTRO's per-type tensor tables.

    ``rows`` may be a subset of the case's layers if it holds the first layer of each type.
    """
    layers = [layer_of(r) for r in rows]
    tables = network_tables(Network("n", layers))
    return [evaluate(layer, hardware_of(r),
                     table=tables["CONV" if layer.type == "TRCONV" else layer.type])
            for r, layer in zip(rows, layers)]


def close(a: float, b: float, rtol: float) -> bool:
    if a != a and b != b:  # both NaN
        return True
    if a in (float("inf"), float("-inf")) or b in (float("inf"), float("-inf")):
        return a == b
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300)


def compare(rep, r: dict) -> list[str]:
    """Mismatching columns of our report against one reference row."""
    bad = []
    for ours, col in INT_COLUMNS:
        want = _int(r[col])
        if want is not None and int(getattr(rep, ours)) != want:
            bad.append(f"{ours}: {getattr(rep, ours)} != {want}")
    for ours, col in FLOAT_COLUMNS:
        if r[col] == "":
            continue
        if not close(float(getattr(rep, ours)), float(r[col]), 1e-6):
            bad.append(f"{ours}: {getattr(rep, ours)} != {r[col]}")
    for ours, col in AREA_COLUMNS:
        if r[col] != "" and not close(float(getattr(rep, ours)), float(r[col]), 1e-9):
            bad.append(f"{ours}: {getattr(rep, ours)} != {r[col]}")
    return bad
