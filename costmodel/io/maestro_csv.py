"""MAESTRO's per-layer CSV format (header text and column order exactly as the binary writes).

Existing MAESTRO post-processing scripts read these files; keep them byte-compatible. The
energy column (and Ops/J and throughput per energy, derived from it) is
:attr:`CostReport.energy_nj`, computed from the layer's own counters, unless the caller passes
MAESTRO's own figures (``energies``, :func:`costmodel.analysis.maestro_csv_energy`: the
previous layer's L1 counts for multi-level mappings), as ``mapper evaluate --cost-model
maestro`` does so that its CSV is the binary's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..analysis import CostReport

HEADER = (
    'Neural Network Name, Layer Number, NumPEs, Runtime (Cycles), Activity count-based Energy'
    ' (nJ), Throughput (MACs/Cycle), Throughput Per Energy (GMACs/s*J), Area, Power, NoC BW R'
    'eq (Elements/cycle), Avg BW Req, Peak BW Req, Vector Width, Offchip BW Req (Elements/cyc'
    'le),  L2 SRAM Size Req (Bytes), L1 SRAM Size Req (Bytes), Multicasting Factor (Weight), '
    'Multicasting Factor (Input), Num Total Input Pixels, Num Total Weight Pixels, Ops/J, Num'
    ' MACs, PE power, L1 power, L2 power, NOC power, input l1 read, input l1 write, input l2 '
    'read, input l2 write, input reuse factor,filter l1 read, filter l1 write, filter l2 read'
    ', filter l2 write, filter reuse factor,output l1 read, output l1 write, output l2 read, '
    'output l2 write, output reuse factor,Ingress Delay (Min), Ingress Delay (Max), Ingress D'
    'elay (Avg), Egress Delay (Min), Egress Delay (Max),  Egress Delay (Avg),Compute Delay (M'
    'in), Compute Delay (Min), Compute Delay (Avg),Avg number of utilized PEs, Arithmetic Int'
    'ensity'
)
N_HEADER_COLUMNS = 52


def _g(x: float, digits: int) -> str:
    """C++ ostream formatting of a double (``%g`` with ``digits`` significant digits)."""
    x = float(x)
    if math.isnan(x):
        # MAESTRO's NaNs come from 0/0, whose x86 result has the sign bit set: glibc prints
        # "-nan" (every NaN in the binary's CSVs is "-nan")
        return "-nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 else math.inf
    return a / b


def row_values(network: str, rep: CostReport, noc_bw: int, digits: int = 6,
               energy: float | None = None) -> list[str]:
    """The 52 CSV fields of one layer, formatted as MAESTRO prints them; ``energy`` (nJ) for
    the energy column and the two fields derived from it, else the report's own."""
    g = lambda x: _g(x, digits)  # noqa: E731
    i = lambda x: str(int(x))  # noqa: E731
    e = rep.energy_nj if energy is None else energy
    vals = [
        network, rep.layer, i(rep.num_pes), i(rep.runtime), g(e), g(rep.throughput),
        g(_ratio(rep.throughput, e) * 1e9), g(rep.area), g(rep.power), i(rep.noc_bw_req),
        g(rep.avg_bw_req), i(rep.noc_bw_req), i(rep.simd_lanes), i(rep.offchip_bw_req),
        i(rep.l2_size), i(rep.l1_size), g(_ratio(rep.filter_l1_write, rep.filter_l2_read)),
        g(_ratio(rep.input_l1_write, rep.input_l2_read)), i(rep.num_input_elements),
        i(rep.num_weight_elements), g(_ratio(rep.num_macs, e) * 1e9), i(rep.num_macs),
        g(rep.pe_power), g(rep.l1_power), g(rep.l2_power), g(rep.noc_power),
    ]
    for t in ("input", "filter", "output"):
        vals += [i(getattr(rep, f"{t}_l1_read")), i(getattr(rep, f"{t}_l1_write")),
                 i(getattr(rep, f"{t}_l2_read")), i(getattr(rep, f"{t}_l2_write")),
                 g(getattr(rep, f"{t}_reuse_factor"))]
    for t in ("ingress", "egress", "compute"):
        vals += [i(getattr(rep, f"{t}_delay_{s}")) for s in ("min", "max", "avg")]
    vals += [g(rep.avg_utilized_pes), g(rep.arithmetic_intensity)]
    return vals


def format_row(values: list[str]) -> str:
    """MAESTRO joins fields 1-26 with ',' and the rest with ', '."""
    return ",".join(values[:26]) + "," + ", ".join(values[26:])


def format_csv(network: str, reports: Iterable[CostReport], noc_bw: int = 0, *,
               header: bool = True, digits: int = 6,
               energies: Sequence[float] | None = None) -> str:
    """A whole MAESTRO CSV file for one network's layer reports (``energies``: one per
    report, in nJ, for the energy column; see :func:`row_values`)."""
    reports = list(reports)
    if energies is not None and len(energies) != len(reports):
        raise ValueError(f"{len(energies)} energies for {len(reports)} reports")
    each = [None] * len(reports) if energies is None else list(energies)
    lines = [HEADER] if header else []
    lines += [format_row(row_values(network, r, noc_bw, digits, e))
              for r, e in zip(reports, each)]
    return "\n".join(lines) + "\n"
