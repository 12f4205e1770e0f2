"""MAESTRO's CSV format: header, field order and layout, and values equal to the binary's."""

import math
from dataclasses import replace

import pytest

from costmodel.io.maestro_csv import HEADER, N_HEADER_COLUMNS, format_csv, row_values
from tests import reference as ref


@pytest.fixture(scope="module")
def golden():
    """(row, report) for every golden row."""
    out = []
    for rows in ref.by_case(ref.golden_rows()).values():
        out += zip(rows, ref.case_reports(rows))
    return out


def test_header_has_one_name_per_field():
    assert len(HEADER.split(",")) == N_HEADER_COLUMNS == 2 + len(ref.CSV_COLUMNS)


def test_fields_equal_maestros_csv_columns_on_golden_rows(golden):
    """Field k is MAESTRO's column k; energy is MAESTRO's for single-level mappings only (for
    multi-level ones MAESTRO reads the previous layer's L1 counts, we the layer's own)."""
    n_multi = 0
    for r, rep in golden:
        vals = row_values("net", rep, int(r["hw_noc_bw"]), digits=17)
        assert len(vals) == N_HEADER_COLUMNS and vals[:2] == ["net", rep.layer]
        for col, got in zip(ref.CSV_COLUMNS, vals[2:]):
            want = float(r[col])
            if col in ("energy_nj", "throughput_per_energy", "ops_per_joule") and (
                    int(r["num_cluster_levels"]) > 1):
                n_multi += 1
                if col == "energy_nj":
                    assert float(got) == pytest.approx(rep.energy_nj, rel=1e-15)
                continue
            assert ref.close(float(got), want, 1e-6), (r["case_id"], r["layer_name"], col)
    assert n_multi > 0 and len(golden) > 300


def test_layout_joins_the_first_26_fields_with_commas_and_the_rest_with_comma_space(golden):
    reps = [rep for _, rep in golden[:3]]
    text = format_csv("net", reps)
    lines = text.splitlines()
    assert text.endswith("\n") and lines[0] == HEADER and len(lines) == 4
    head, tail = lines[1].split(", ", 1)[0], lines[1].split(", ")
    assert len(head.split(",")) == 27 and len(tail) == N_HEADER_COLUMNS - 26
    assert format_csv("net", reps, header=False) == "\n".join(lines[1:]) + "\n"


def test_floats_print_like_cpp_ostream(golden):
    rep = golden[0][1]
    six = row_values("n", rep, 0)
    assert six[7] == f"{rep.area:.6g}" and six[3] == str(int(rep.runtime))
    zero = replace(rep, energy_nj=0.0, num_macs=0, throughput=0.0)
    vals = row_values("n", zero, 0)
    assert vals[6] == "-nan" and vals[20] == "-nan"  # 0/0, as MAESTRO prints it
    inf = replace(rep, energy_nj=0.0)
    assert row_values("n", inf, 0)[20] == "inf" and not math.isinf(rep.energy_nj)


def test_given_energies_fill_the_energy_column_and_the_two_fields_derived_from_it(golden):
    reps = [rep for _, rep in golden[:2]]
    own = [row.split(",") for row in format_csv("net", reps, header=False).splitlines()]
    given = [row.split(",") for row in
             format_csv("net", reps, header=False, energies=[2.0, 4.0]).splitlines()]
    for rep, a, b, e in zip(reps, own, given, (2.0, 4.0)):
        assert float(b[4]) == e and float(a[4]) == pytest.approx(rep.energy_nj, rel=1e-5)
        assert float(b[20]) == pytest.approx(rep.num_macs / e * 1e9, rel=1e-5)
        assert float(b[6]) == pytest.approx(rep.throughput / e * 1e9, rel=1e-5)
        assert [x for k, x in enumerate(a) if k not in (4, 6, 20)] == \
            [x for k, x in enumerate(b) if k not in (4, 6, 20)]
    with pytest.raises(ValueError, match="1 energies for 2 reports"):
        format_csv("net", reps, energies=[1.0])
