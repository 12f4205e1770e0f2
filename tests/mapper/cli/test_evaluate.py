"""``mapper evaluate``: MAESTRO-compatible output, and clean errors for every bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest

from mapper.cli import main
from tests import reference as ref

CASES = ref.REF_DIR / "cases"
needs_ref = pytest.mark.skipif(not ref.HAVE_REFERENCE, reason=ref.SKIP_REASON)


def _case(cat, name):
    d = CASES / cat / name
    m = next(p for p in d.glob("*.m") if p.name != "hw.m")
    return d, m


# one-layer and multi-layer networks of multi-level mappings: the energy column follows
# MAESTRO's rule (the previous layer's L1 counts), so every field is the binary's
CSV_CASES = ["GEMM_Example__accelerator_1", "MobileNetV2_kcp_ws__accelerator_1",
             "vgg16_yxp_os__accelerator_1", "ncf_nmk__accelerator_1"]


@needs_ref
@pytest.mark.parametrize("name", CSV_CASES)
def test_maestro_csv_matches_reference_file(tmp_path, capsys, name):
    d, m = _case("a_bundled", name)
    out = tmp_path / "o.csv"
    assert main(["evaluate", str(m), "--hw", str(d / "hw.m"), "--format", "maestro-csv",
                 "--digits", "17", "--out", str(out)]) == 0
    ours = out.read_text().splitlines()
    theirs = (d / "maestro_output_hp.csv").read_text().splitlines()
    assert ours[0] == theirs[0]  # header text and column order exactly
    for a, b in zip(ours[1:], theirs[1:], strict=True):
        fa, fb = a.split(","), b.split(",")
        assert len(fa) == len(fb) == 52
        for x, y in zip(fa, fb):
            x, y = x.strip(), y.strip()
            try:
                assert ref.close(float(x), float(y), 1e-9), (x, y)
            except ValueError:
                assert x == y


@needs_ref
def test_table_and_json(capsys):
    d, m = _case("a_bundled", "Resnet50_kcp_ws__accelerator_1")
    assert main(["evaluate", str(m), "--hw", str(d / "hw.m")]) == 0
    assert "CONV2_1_2" in capsys.readouterr().out
    assert main(["evaluate", str(m), "--hw", str(d / "hw.m"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    row = next(x for x in data["layers"] if x["layer"] == "CONV2_1_2")
    assert row["runtime"] == 2659392


@needs_ref
def test_cli_hardware_options(capsys):
    d, m = _case("c_validation", "eyeriss_alexnet_rs")
    args = json.loads((d / "meta.json").read_text())["argv"][1:]
    args = [a for a in args if not a.startswith(("--print", "--Mapping_file"))]
    assert main(["evaluate", str(m), "--format", "maestro-csv", *args]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    want = [r for r in ref.rows() if r["case_id"] == "eyeriss_alexnet_rs"]
    got = {r[1].strip(): int(r[3]) for r in rows[1:]}
    assert all(got[w["layer_name"]] == int(w["runtime_cycles"]) for w in want)


REJECTED = sorted((CASES / "d_random_rejected").glob("p_*")) if ref.HAVE_REFERENCE else []


@needs_ref
@pytest.mark.parametrize("d", REJECTED, ids=[p.name for p in REJECTED])
def test_every_rejected_example_gets_a_clear_error(d, capsys):
    m = d / f"{d.name}.m"
    assert main(["evaluate", str(m), "--hw", str(d / "hw.m")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{m}:" in err and "[" in err and "]" in err  # file:line: message [rule]


def test_missing_file_and_bad_hardware(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.m")]) == 2
    assert "nope.m" in capsys.readouterr().err
    m = tmp_path / "x.m"
    m.write_text("Network N { Layer L { Type: GEMM Dimensions { M: 4, N: 4, K: 4 } "
                 "Dataflow { SpatialMap(1,1) M; } } }\n")
    hw = tmp_path / "hw.m"
    hw.write_text("num_pes: 4\nnoc_bw_cstr: 0\n")
    assert main(["evaluate", str(m), "--hw", str(hw)]) == 2
    err = capsys.readouterr().err
    assert "hw.m:2" in err and "Traceback" not in err
    assert main(["evaluate", str(m), "--num_pes", "4"]) == 0


def test_hw_set_changes_a_field_of_the_hardware(tmp_path, capsys):
    m = tmp_path / "m.m"
    m.write_text("Network n {\nLayer L {\nType: CONV\nDimensions { K: 64, C: 64, R: 3, S: 3, "
                 "Y: 30, X: 30 }\nDataflow {\nSpatialMap(1,1) K;\nTemporalMap(64,64) C;\n"
                 "TemporalMap(3,3) R;\nTemporalMap(3,3) S;\nTemporalMap(3,1) Y;\n"
                 "TemporalMap(3,1) X;\n}\n}\n}\n")
    runs = {}
    for extra in ([], ["--hw-set", "simd_lanes=4"]):
        assert main(["evaluate", str(m), "--hw", "edge168", "--format", "json", *extra]) == 0
        data = json.loads(capsys.readouterr().out)
        runs[tuple(extra)] = (data["hardware"]["simd_lanes"], data["layers"][0]["runtime"])
    (lanes1, rt1), (lanes4, rt4) = runs.values()
    assert (lanes1, lanes4) == (1, 4) and rt4 < rt1
    assert main(["evaluate", str(m), "--hw-set", "lanes=4"]) == 2
    assert "FIELD one of num_pes" in capsys.readouterr().err
