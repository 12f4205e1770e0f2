"""The parsers against the MAESTRO reference cases: what MAESTRO ran parses identically, what
it rejected at parse time (or in its dataflow checks) is rejected with a file and line."""

from __future__ import annotations

import re

import pytest
from _maestro_io_ref import (
    HAVE_REF,
    REF,
    accepted_mappings,
    case_dir,
    cases,
    ids,
    mapping_path,
    needs_ref,
    reference_rows,
)

from costmodel.errors import MaestroInputError
from costmodel.hardware import INT_MAX
from costmodel.io import load_hardware, load_mapping, validate_dataflow

pytestmark = needs_ref

ACCEPTED = sorted(accepted_mappings()) if HAVE_REF else []


@pytest.mark.parametrize("path", ACCEPTED, ids=ids(ACCEPTED))
def test_accepted_mapping_matches_reference(path):
    net = load_mapping(path)
    for case_id in accepted_mappings()[path]:
        rows = reference_rows()[case_id]
        assert len(rows) == len(net.layers), case_id
        for layer, row in zip(net.layers, rows):
            assert net.name == row["network"]
            assert layer.name == row["layer_name"]
            assert layer.type == row["layer_type"]
            assert " ".join(f"{d}:{v}" for d, v in layer.dims.items()) == row["dims_text"]
            assert str(layer.dataflow) == row["dataflow_resolved"], (case_id, layer.name)
            if layer.type != "GEMM":
                assert layer.stride("X") == int(float(row["stride_X"]))
                assert layer.stride("Y") == int(float(row["stride_Y"]))


def _hw_cases() -> list[dict[str, str]]:
    return [c for c in cases() if (case_dir(c) / "hw.m").exists()]


def test_every_hw_file_matches_reference_columns():
    checked = 0
    for case in _hw_cases():
        hw = load_hardware(case_dir(case) / "hw.m")
        assert hw.num_pes == int(case["hw_num_pes"])
        assert hw.l1_size == int(case["hw_l1_size_cstr"])
        assert hw.l2_size == int(case["hw_l2_size_cstr"])
        assert hw.noc_bw == int(case["hw_noc_bw"])
        assert hw.offchip_bw == int(case["hw_offchip_bw"])
        assert hw.noc_latency == int(case["hw_noc_latency"])
        assert hw.simd_lanes == 1  # MAESTRO takes SIMD lanes from its command line only
        checked += 1
    assert checked > 600
    assert INT_MAX == 2**31 - 1


# MAESTRO's message -> our rule. MAESTRO checks the first four while parsing, the others
# during analysis; we reject all of them while parsing.
PARSE_TIME_ERRORS = [
    ("Invalid mapping", "rs-temporal-map"),
    ("Stride description must precede", "stride-after-dimensions"),
    ("Parse error", "positive-size"),
    ("Dimension Q not found", "unknown-dimension"),
    ("Dimension Y\u2019 not found", "unknown-dimension"),
    ("No spatial map", "no-spatial-map"),
    ("too many spatial maps", "spatial-map-count"),
    ("Dimension K not found", "inner-level-dimension"),
    ("exit(-1) without any error message", "offset-gt-size"),  # p_0039: SpatialMap(4,9) C
]


def _expected_rule(error: str) -> str | None:
    for text, rule in PARSE_TIME_ERRORS:
        if text in error:
            return rule
    return None


REJECTED = [c for c in cases() if c["status"] != "ok" and _expected_rule(c["error"])]


def _comment_lines_before(path, line: int) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()[: line - 1]
    return sum(ln.strip().startswith("//") for ln in lines)


@pytest.mark.parametrize("case", REJECTED, ids=[c["case_id"] for c in REJECTED])
def test_rejected_case_is_rejected_with_file_and_line(case):
    path = mapping_path(case)
    with pytest.raises(MaestroInputError) as info:
        load_mapping(path)
    err = info.value
    assert err.rule == _expected_rule(case["error"])
    assert err.line is not None and err.line >= 1
    assert f"{path.name}:{err.line}:" in str(err)
    reported = re.search(r"line number:? (\d+)", case["error"])
    if reported:
        # MAESTRO counts a comment line twice, so its line number is ours plus the number of
        # comment lines above (none in the bundled files: there the numbers are equal).
        assert int(reported.group(1)) == err.line + _comment_lines_before(path, err.line)
    else:  # analysis-time errors: we point at the layer's Dataflow block
        line_text = path.read_text(encoding="utf-8").splitlines()[err.line - 1]
        marks = ("Q", "\u2019") if err.rule == "unknown-dimension" else ("Dataflow",)
        assert any(m in line_text for m in marks), line_text


BUNDLED_RS = {"UNet_kcp_ws": 8, "googlenet_ykp_os": 32, "mnasnet_ykp_os": 15,
              "squeezenet1_0_ykp_os": 32}


@pytest.mark.parametrize("name,line", sorted(BUNDLED_RS.items()))
def test_bundled_rs_rule_same_line_as_maestro(name, line):
    path = REF / "cases" / "a_bundled" / f"{name}__accelerator_1" / f"{name}.m"
    with pytest.raises(MaestroInputError) as info:
        load_mapping(path)
    assert info.value.rule == "rs-temporal-map"
    assert info.value.line == line
    assert f"{name}.m:{line}:" in str(info.value)


# Rejected by MAESTRO only through its analysis or hardware: division by zero (SIGFPE) or a
# silent exit(-1). Their text is valid, so the parser accepts them (UNet_RS excepted: it also
# declares N twice, which we reject).
ANALYSIS_ONLY = ["p_0012", "p_0109", "ResNeXt50_rs__accelerator_1",
                 "Resnet50_rs__accelerator_1", "vgg16_rs__accelerator_1"]


@pytest.mark.parametrize("case_id", ANALYSIS_ONLY)
def test_analysis_time_failures_parse(case_id):
    case = next(c for c in cases() if c["case_id"] == case_id)
    assert case["status"] != "ok"
    assert load_mapping(mapping_path(case)).layers


def test_cluster_larger_than_pe_count_with_hardware():
    case = next(c for c in cases() if c["case_id"] == "p_0012")  # SIGFPE in MAESTRO
    layer = load_mapping(mapping_path(case)).layers[0]
    hw = load_hardware(case_dir(case) / "hw.m")
    with pytest.raises(MaestroInputError) as info:
        validate_dataflow(layer, "p_0012.m", 11, num_pes=hw.num_pes)
    assert info.value.rule == "cluster-exceeds-pes" and "only 64 PEs" in str(info.value)
    validate_dataflow(layer, num_pes=128)


def test_unet_rs_duplicate_dimension():
    case = next(c for c in cases() if c["case_id"] == "UNet_RS__accelerator_1")
    with pytest.raises(MaestroInputError) as info:
        load_mapping(mapping_path(case))
    assert info.value.rule == "duplicate-dimension"
