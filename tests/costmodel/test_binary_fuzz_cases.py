"""Cases found by running fresh random mappings through the original MAESTRO binary.

Each case holds a mapping and a hardware file and the numbers the MAESTRO binary (commit
4eb08d1, its CSV printed at 17 significant digits, the per-tensor sizes from its console)
reported for them; our model must give the same on every column
``benchmarks/check_reference.py`` compares. docs/fidelity.md, "Fresh random cases against
the binary", says how the cases were generated.
"""

from __future__ import annotations

from costmodel.analysis import evaluate, maestro_csv_energy
from costmodel.engine import ERR_OCC_WRAP
from costmodel.io.maestro import parse_hardware, parse_mapping
from costmodel.validity import ERR_MACS
from tests import reference as ref

GEMM_HW = """num_pes: 2
l1_size_cstr: 512
l2_size_cstr: 65536
noc_bw_cstr: 64
offchip_bw_cstr: 50
"""


def _gemm(m: int, n: int, k: int) -> str:
    return f"""Network N {{
    Layer L0 {{
        Type: GEMM
        Dimensions {{ M: {m}, N: {n}, K: {k} }}
        Dataflow {{
            TemporalMap(1,1) M;
            TemporalMap(1,1) N;
            SpatialMap(1,1) K;
        }}
    }}
}}
"""


# 2047 x 2047 x 1100 steady-state occurrences: MAESTRO's 32-bit product wraps to a positive
# count, so it reports 645,922,816 MACs instead of 9,235,857,408 (and every count with them)
WRAPPED_GEMM = (_gemm(2048, 2048, 2202), GEMM_HW, {
    "runtime_cycles": "322961409", "num_macs": "645922816", "noc_bw_req": "4",
    "offchip_bw_req": "4", "l2_size_req": "10", "l1_size_req": "6",
    "num_input_elements": "4509696", "num_weight_elements": "4509696",
    "input_l1_read": "645922816", "input_l1_write": "637538304", "input_l2_read": "637538304",
    "input_l2_write": "4509696", "filter_l1_read": "645922816", "filter_l1_write": "645918722",
    "filter_l2_read": "645918722", "filter_l2_write": "4509696", "output_l1_read": "645922816",
    "output_l1_write": "645922816", "output_l2_read": "4194304", "output_l2_write": "322961408",
    "ingress_delay_min": "1", "ingress_delay_max": "1", "ingress_delay_avg": "1",
    "egress_delay_min": "1", "egress_delay_max": "1", "egress_delay_avg": "1",
    "compute_delay_min": "1", "compute_delay_max": "1", "compute_delay_avg": "1",
    "con_input_l1_size_req": "2", "con_input_l2_size_req": "4", "con_filter_l1_size_req": "2",
    "con_filter_l2_size_req": "4", "con_output_l1_size_req": "2",
    "con_output_l2_size_req": "2", "throughput_macs_per_cycle": "1.9999999938073096",
    "avg_bw_req": "3.9740259802186646", "avg_utilized_pes": "2",
    "arithmetic_intensity": "0.5", "input_reuse_factor": "1.0131513854891454",
    "filter_reuse_factor": "1.0000063382587632", "output_reuse_factor": "1",
    "area": "380249.08850080002", "power": "5.8413127999999999",
    "pe_power": "2.4445999999999999", "l1_power": "0.041399999999999999",
    "l2_power": "0.034500000000000003", "noc_power": "3.3208128000000001",
    "energy_nj": "8408824.625883799"})

# Row-stationary mapping with stride 4 on Y: the top level's edge step has egress traffic -1,
# which MAESTRO's NoC model sends in one transfer (C division truncates -1/256 to 0, and the
# remainder adds a send), so the egress delay is 1, not 0
NEGATIVE_EGRESS_RS = ("""Network FuzzNet {
    Layer L0 {
        Type: CONV
        Stride { X: 1, Y: 4 }
        Dimensions { K: 1, C: 1, R: 5, S: 1, Y: 70, X: 1 }
        Dataflow {
            SpatialMap(1,1) Y';
            TemporalMap(1,1) X';
            TemporalMap(3,3) C;
            TemporalMap(1,1) K;
            TemporalMap(Sz(R),Sz(R)) R;
            TemporalMap(Sz(S),Sz(S)) S;
            Cluster(Sz(R),P);
            TemporalMap(1,1) K;
            SpatialMap(1,1) Y;
            SpatialMap(1,1) R;
            TemporalMap(Sz(S),Sz(S)) S;
        }
    }
}
""", """num_pes: 16
l1_size_cstr: 512
l2_size_cstr: 65536
noc_bw_cstr: 256
offchip_bw_cstr: 1000
""", {
    "runtime_cycles": "13", "num_macs": "70", "noc_bw_req": "10", "offchip_bw_req": "10",
    "l2_size_req": "58", "l1_size_req": "14", "num_input_elements": "70",
    "num_weight_elements": "5", "input_l1_read": "70", "input_l1_write": "73",
    "input_l2_read": "73", "input_l2_write": "70", "filter_l1_read": "70",
    "filter_l1_write": "5", "filter_l2_read": "5", "filter_l2_write": "5",
    "output_l1_read": "70", "output_l1_write": "70", "output_l2_read": "66",
    "output_l2_write": "44", "ingress_delay_min": "1", "ingress_delay_max": "1",
    "ingress_delay_avg": "1", "egress_delay_min": "1", "egress_delay_max": "1",
    "egress_delay_avg": "1", "compute_delay_min": "2", "compute_delay_max": "2",
    "compute_delay_avg": "2", "con_input_l1_size_req": "6", "con_input_l2_size_req": "30",
    "con_filter_l1_size_req": "6", "con_filter_l2_size_req": "10",
    "con_output_l1_size_req": "2", "con_output_l2_size_req": "18",
    "throughput_macs_per_cycle": "5.384615384615385", "avg_bw_req": "6.5",
    "avg_utilized_pes": "14.166666666666666", "arithmetic_intensity": "-0.83333333333333337",
    "input_reuse_factor": "0.9589041095890411", "filter_reuse_factor": "14",
    "output_reuse_factor": "1", "area": "7027220.0247626007", "power": "74.831837600000028",
    "pe_power": "19.556800000000003", "l1_power": "0.77280000000000004",
    "l2_power": "0.2001", "noc_power": "54.302137600000016", "energy_nj": "0.8432191"})


def _report(mapping: str, hw: str):
    net = parse_mapping(mapping)
    return evaluate(net.layers[0], parse_hardware(hw)), net


def _check(case):
    mapping, hw, row = case
    rep, net = _report(mapping, hw)
    assert ref.compare(rep, row) == []
    multi = sum(d.kind == "C" for d in net.layers[0].dataflow.directives) > 0
    assert ref.close(maestro_csv_energy([rep], [multi])[0], float(row["energy_nj"]), 1e-6)
    return rep


def test_wrapped_occurrence_count_matches_maestro_and_is_flagged():
    rep = _check(WRAPPED_GEMM)
    assert not rep.valid
    assert rep.flags & ERR_OCC_WRAP and rep.flags & ERR_MACS


def test_occurrence_count_wrapping_to_negative_is_flagged():
    # 2047 x 2047 x 1023 wraps to -8,383,489: the binary fails its assertion
    # num_case_occurrences > 0 (SIGABRT) and prints no numbers
    rep, _ = _report(_gemm(2048, 2048, 2048), GEMM_HW)
    assert not rep.valid and rep.flags & ERR_OCC_WRAP
    assert "32-bit" in rep.reason


def test_counts_below_int_max_do_not_wrap():
    rep, _ = _report(_gemm(2048, 2048, 1024), GEMM_HW)  # 2047 x 2047 x 511 < 2^31
    assert not rep.flags & ERR_OCC_WRAP
    assert rep.num_macs == 2048 * 2048 * 1024


def test_negative_egress_traffic_costs_one_noc_send():
    rep = _check(NEGATIVE_EGRESS_RS)
    assert rep.egress_delay_min == 1
