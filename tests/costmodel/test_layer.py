"""Layers: derived dimensions, true MAC counts, tensor tables and validation."""

import collections

import pytest

from costmodel.errors import MaestroInputError
from costmodel.layer import Layer, TensorTable, tensor_table
from tests import reference as ref


def test_true_macs_equal_maestros_where_its_count_is_right():
    """Where MAESTRO's check says its MAC count is the true one ours equals it, else not; the
    reference has no check for NGCONV and TRCONV, whose MAESTRO counts are right."""
    seen = collections.Counter()
    for r in ref.golden_rows():
        same = ref.layer_of(r).macs == int(r["num_macs"])
        assert same == (r["chk_macs_eq_expected"] != "0"), (r["case_id"], r["layer_name"])
        seen[r["layer_type"], same] += 1
    assert {t for t, same in seen if same} == {"CONV", "DSCONV", "GEMM", "NGCONV", "TRCONV"}
    assert {t for t, same in seen if not same} == {"CONV", "DSCONV", "GEMM"}


def test_full_dims_derive_output_or_input_size_without_stride():
    conv = Layer("c", "CONV", {"K": 8, "C": 4, "R": 3, "S": 3, "Y": 10, "X": 12}, {"X": 2})
    assert conv.full_dims()["Y'"] == 8 and conv.full_dims()["X'"] == 10
    assert conv.output_size("X") == 5 and conv.output_size("Y") == 8
    assert conv.macs == 8 * 4 * 3 * 3 * 8 * 5
    out = Layer("o", "CONV", {"K": 8, "C": 4, "R": 3, "S": 3, "Y'": 8, "X'": 10})
    assert (out.full_dims()["Y"], out.full_dims()["X"]) == (10, 12)


def test_macs_per_layer_type():
    ds = Layer("d", "DSCONV", {"C": 16, "R": 3, "S": 3, "Y": 5, "X": 5})
    assert ds.macs == 16 * 9 * 3 * 3
    assert Layer("g", "GEMM", {"M": 4, "N": 5, "K": 6}).macs == 120
    ng = Layer("n", "NGCONV", {"N": 2, "G": 4, "K": 2, "C": 3, "R": 1, "S": 1, "Y": 2, "X": 2})
    assert ng.macs == 2 * 4 * 2 * 3 * 4


def test_tensor_tables():
    assert tensor_table("CONV", False) == TensorTable(("C", "Y", "X"), ("K", "C", "R", "S"),
                                                      ("K", "Y", "X"))
    assert tensor_table("TRCONV", True) == tensor_table("CONV", True)
    assert tensor_table("CONV", True).input[0] == "N"
    assert tensor_table("GEMM", True) == tensor_table("GEMM", False)
    assert tensor_table("DSCONV", False).input_vars == ("C", "R", "S", "X", "Y")
    with pytest.raises(MaestroInputError):
        tensor_table("POOL", False)


def test_tensor_elements_count_declared_dims_only():
    conv = Layer("c", "CONV", {"K": 8, "C": 4, "R": 3, "S": 3, "Y": 10, "X": 12})
    assert conv.tensor_elements(tensor_table("CONV", True)) == (4 * 10 * 12, 8 * 4 * 9)


def test_shape_key_ignores_name_dataflow_and_unit_strides():
    a = Layer("a", "CONV", {"K": 1, "C": 1, "R": 1, "S": 1, "Y": 4, "X": 4}, {"X": 1})
    b = Layer("b", "CONV", {"K": 1, "C": 1, "R": 1, "S": 1, "Y": 4, "X": 4})
    c = Layer("c", "CONV", {"K": 1, "C": 1, "R": 1, "S": 1, "Y": 4, "X": 4}, {"X": 2})
    assert a.shape_key() == b.shape_key() != c.shape_key()


@pytest.mark.parametrize("type_,dims,strides,rule", [
    ("POOL", {"K": 1}, {}, "layer-type"),
    ("GEMM", {"M": 1, "N": 1, "C": 1}, {}, "dimension"),
    ("GEMM", {"M": 0, "N": 1, "K": 1}, {}, "positive-size"),
    ("CONV", {"K": 1, "C": 1, "R": 1, "Y": 4, "X": 4}, {}, "dimension"),
    ("CONV", {"K": 1, "C": 1, "R": 1, "S": 1, "Y": 4, "Y'": 4, "X": 4}, {}, "dimension"),
    ("CONV", {"K": 1, "C": 1, "R": 5, "S": 1, "Y": 4, "X": 4}, {}, "filter-larger-than-input"),
    ("CONV", {"K": 1, "C": 1, "R": 1, "S": 1, "Y": 4, "X": 4}, {"X": 0}, "stride"),
])
def test_invalid_layers_are_rejected_with_the_rule(type_, dims, strides, rule):
    with pytest.raises(MaestroInputError) as e:
        Layer("bad", type_, dims, strides)
    assert e.value.rule == rule
