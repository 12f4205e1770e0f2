"""MAESTRO mapping files: grammar, conveniences, rule violations and round trips."""

from __future__ import annotations

import dataclasses
import re

import pytest
from _maestro_io_ref import HAVE_REF, accepted_mappings, ids, needs_ref

from costmodel.dataflow import Cluster, Dataflow, SpatialMap, TemporalMap
from costmodel.errors import MaestroInputError, MappingError
from costmodel.io import (
    format_mapping,
    load_mapping,
    load_network,
    parse_mapping,
    save_mapping,
    save_network,
    validate_dataflow,
)
from costmodel.io.maestro import parse_dataflow, parse_directive
from costmodel.layer import Layer, Network

BASIC = """\
// a comment line
Constant KT 16
Network Net {
  Layer L0 {
    Type: CONV
    Stride { X: 2, Y: 2 }
    Dimensions { K: 64, C: 3, R: 7, S: 7, Y: 224, X: 224 }
    Dataflow {
      TemporalMap(KT,KT) K;          // constant
      SpatialMap(Sz(R),1) Y;
      TemporalMap(Sz(S),1) X;
      TemporalMap(1,1) C;
      TemporalMap(Sz(R),Sz(R)) R;
      TemporalMap(Sz(S),Sz(S)) S;
      Cluster(16, P);
      SpatialMap(1,1) K;
    }
  }
  Layer L1 {
    Type: GEMM
    Dimensions { M: 8, N: 4, K: 2 }
    Dataflow {
      SpatialMap(1,1) M;
      TemporalMap(Sz(N),Sz(N)) N;
      TemporalMap(2,2) K;
    }
  }
}
"""


def layer_text(body: str, dims: str = "K: 4, C: 4, R: 3, S: 3, Y: 8, X: 8",
               ltype: str = "CONV", dataflow: str | None = "SpatialMap(1,1) K;") -> str:
    df = f"    Dataflow {{\n      {dataflow}\n    }}\n" if dataflow is not None else ""
    return (f"Network N {{\n  Layer L {{\n    Type: {ltype}\n{body}"
            f"    Dimensions {{ {dims} }}\n{df}  }}\n}}\n")


# -- grammar --------------------------------------------------------------------------------
def test_basic_file_resolves_constants_and_sz():
    net = parse_mapping(BASIC, "basic.m")
    assert net.name == "Net"
    l0, l1 = net.layers
    assert (l0.name, l0.type, l0.strides) == ("L0", "CONV", {"X": 2, "Y": 2})
    assert list(l0.dims) == ["K", "C", "R", "S", "Y", "X"]
    assert l0.dataflow.directives[:2] == (TemporalMap(16, 16, "K"), SpatialMap(7, 1, "Y"))
    assert l0.dataflow.directives[6] == Cluster(16, "P")
    assert l1.type == "GEMM" and l1.dataflow.directives[1] == TemporalMap(4, 4, "N")


def test_token_separators_and_layer_name_is_last_token():
    text = ("Network  a-b {\nLayer Conv2d-1 {\nType CONV\nDimensions { K 2,C:2;R(1)S>1 Y:3 X:3 }\n"
            "Dataflow {\nSpatialMap 1 1 K\n}\n}\n}")
    net = parse_mapping(text)
    assert net.name == "b" and net.layers[0].name == "1"  # as MAESTRO names them
    assert net.layers[0].dims == {"K": 2, "C": 2, "R": 1, "S": 1, "Y": 3, "X": 3}


def test_crlf_and_lone_cr_line_endings_are_accepted():
    ref = parse_mapping(BASIC)
    assert parse_mapping(BASIC.replace("\n", "\r\n")) == ref
    assert parse_mapping(BASIC.replace("\n", "\r")) == ref


def test_missing_dataflow_inherits_a_copy():
    text = BASIC.replace("  Layer L1 {", """  Layer L0b {
    Type: CONV
    Dimensions { K: 32, C: 3, R: 7, S: 7, Y: 112, X: 112 }
  }
  Layer L0c {
    Type: CONV
    Dimensions { K: 32, C: 3, R: 7, S: 7, Y: 56, X: 56 }
    Dataflow { }
  }
  Layer L1 {""")
    net = parse_mapping(text)
    l0, l0b, l0c = net.layers[:3]
    assert l0b.dataflow == l0.dataflow and l0c.dataflow == l0.dataflow
    assert l0b.dataflow is not l0.dataflow and l0c.dataflow is not l0b.dataflow


def test_inherited_dataflow_is_validated_for_the_new_layer():
    text = BASIC.replace("    Dataflow {\n      SpatialMap(1,1) M;", "    Dataflow {\n      ") \
        .replace("      TemporalMap(Sz(N),Sz(N)) N;\n      TemporalMap(2,2) K;\n", "")
    with pytest.raises(MaestroInputError, match="inherited from layer 'L0'") as info:
        parse_mapping(text, "x.m")
    assert info.value.rule == "undeclared-dimension"


def test_workload_layers_without_dataflow():
    net = parse_mapping(layer_text("", dataflow=None))
    assert net.layers[0].dataflow is None


def test_bare_layers_without_network():
    text = layer_text("").split("\n", 1)[1].rsplit("}", 1)[0]  # drop the Network wrapper
    net = parse_mapping(text + "\nLayer M {\nType: GEMM\nDimensions { M: 2, N: 2, K: 2 }\n}\n")
    assert net.name == "Network" and [lay.name for lay in net.layers] == ["L", "M"]
    assert net.layers[1].dataflow == net.layers[0].dataflow  # inherited... then validated
    assert net.layers[1].type == "GEMM"


def test_fc_becomes_conv_with_unit_window():
    net = parse_mapping(layer_text("", dims="N: 2, K: 10, C: 20", ltype="FC",
                                   dataflow="SpatialMap(1,1) K; TemporalMap(Sz(R),Sz(R)) R;"))
    layer = net.layers[0]
    assert layer.type == "CONV"
    assert layer.dims == {"N": 2, "K": 10, "C": 20, "R": 1, "S": 1, "Y": 1, "X": 1}
    assert layer.macs == 2 * 10 * 20


def test_trconv_stays_trconv_and_strides_of_one_are_dropped():
    net = parse_mapping(layer_text("    Stride { X: 1, Y: 1 }\n", ltype="TRCONV"))
    assert net.layers[0].type == "TRCONV" and net.layers[0].strides == {}


def test_hardware_keys_at_top_level_are_ignored():
    net = parse_mapping("num_pes: 168\nNoC_NumHops: 2\n" + layer_text(""))
    assert len(net.layers) == 1


def test_type_after_dimensions_keeps_layer_name():
    text = "Network N {\nLayer L {\nDimensions { M: 2, N: 2, K: 2 }\nType: GEMM\n" \
           "Dataflow { SpatialMap(1,1) M; }\n}\n}\n"
    assert parse_mapping(text).layers[0].name == "L"


def test_prime_dims_may_be_mapped_as_plain_and_vice_versa():
    df = "SpatialMap(1,1) Y; TemporalMap(1,1) X'; TemporalMap(3,3) S;"
    net = parse_mapping(layer_text("", dims="K: 4, C: 4, R: 3, S: 3, Y': 6, X: 8", dataflow=df))
    assert [d.dim for d in net.layers[0].dataflow.directives] == ["Y", "X'", "S"]


def test_offset_larger_than_size_only_on_strided_xy():
    # MAESTRO recomputes offsets of strided X/Y maps (several d_random cases rely on it) ...
    net = parse_mapping(layer_text("Stride { X: 2, Y: 2 }",
                                   dataflow="SpatialMap(1,1) K; TemporalMap(3,4) Y;"))
    assert net.layers[0].dataflow.directives[1] == TemporalMap(3, 4, "Y")
    # ... elsewhere a gap between tiles skips data: rejected
    with pytest.raises(MaestroInputError, match="offset-gt-size"):
        parse_mapping(layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(3,4) Y;"))


def test_parse_directive():
    assert parse_directive("TemporalMap(Sz(R),1) Y;", {"R": 3}) == TemporalMap(3, 1, "Y")
    assert parse_directive("Cluster(8, L)") == Cluster(8, "L")
    with pytest.raises(MaestroInputError):
        parse_directive("SpatialMap(1,1) K K")


def test_parse_dataflow_reads_what_str_writes():
    df = Dataflow([SpatialMap(1, 1, "K"), TemporalMap(3, 3, "C"), Cluster(4, "P"),
                   SpatialMap(3, 1, "Y'")])
    assert parse_dataflow(str(df)) == df
    assert parse_dataflow(str(df) + ";") == df  # a trailing separator is fine
    for bad in ("", " ; ", "SpatialMap(1,1) K; TemporalMap(3) C"):
        with pytest.raises(MaestroInputError):
            parse_dataflow(bad)


# -- rule violations: (text, rule, line) -------------------------------------------------
CONV_BODY = "    Dimensions { K: 4, C: 4, R: 3, S: 3, Y: 8, X: 8 }\n"
OPEN = "Network N {\n  Layer L {\n    Type: CONV\n"
BAD = [
    ("", "no-layers", 1),
    ("num_pes: 4\n", "no-layers", 1),
    ("Netwrok N {\n}", "unexpected-token", 1),
    ("}", "unbalanced-braces", 1),
    ("Network N {\n  Layer L {\n    Type: CONV\n", "unbalanced-braces", 2),
    (OPEN + CONV_BODY + "    Dataflow {\n", "unbalanced-braces", 5),
    (OPEN + CONV_BODY + "    Dataflow{\n", "glued-brace", 5),
    ("Network N {\n  Layer L\n    Type: CONV\n", "missing-brace", 3),
    ("Network N {\n  Foo L {\n", "unexpected-token", 2),
    ("Accelerator {\n PE { NumPEs: 4 }\n}\n", "accelerator-block", 1),
    ("Constant 12 4\n", "constant", 1),
    ("Constant X abc\n", "constant", 1),
    (layer_text("", ltype="POOL"), "unsupported-layer-type", 3),
    (layer_text("", ltype="LSTM"), "unsupported-layer-type", 3),
    (layer_text("", ltype="RESIDUAL_IDENTITY"), "unsupported-layer-type", 3),
    (layer_text("", ltype="CONV2D"), "layer-type", 3),
    (layer_text("    Bogus: 1\n"), "unexpected-token", 4),
    (layer_text("    Type: CONV\n"), "duplicate-block", 4),
    (layer_text("", dims="K: 4, C: 4, R: 3, S: 3, Y: 8, X: 8, Q: 2"), "unknown-dimension", 4),
    (layer_text("", dims="K: 4, C: 4, R: 3, S: 3, Y\u2019: 8, X: 8"), "unknown-dimension", 4),
    (layer_text("", dims="K: 4, C: 4, G: 2, R: 3, S: 3, Y: 8, X: 8"), "unknown-dimension", 4),
    (layer_text("", dims="K: 4, C: 4, R: 3, S: 3, Y: 8, Y': 6, X: 8"), "dimension-conflict", 4),
    (layer_text("", dims="K: 4, C: 4, S: 3, Y: 8, X: 8"), "missing-rs", 4),
    (layer_text("", dims="K: 4, K: 4, R: 3, S: 3, Y: 8, X: 8"), "duplicate-dimension", 4),
    (layer_text("", dims="K: 0, C: 4, R: 3, S: 3, Y: 8, X: 8"), "positive-size", 4),
    (layer_text("", dims="K: KK, C: 4, R: 3, S: 3, Y: 8, X: 8"), "unknown-constant", 4),
    (layer_text("", dims="K: 4x, C: 4, R: 3, S: 3, Y: 8, X: 8"), "integer", 4),
    (layer_text("", dims="K: 9999999999, C: 4, R: 3, S: 3, Y: 8, X: 8"), "int-range", 4),
    (layer_text("", dims="K: Sz(C), C: 4, R: 3, S: 3, Y: 8, X: 8"), "unexpected-token", 4),
    ("Network N {\n Layer L {\n  Type: CONV\n" + CONV_BODY + "  Stride { X: 2 }\n }\n}\n",
     "stride-after-dimensions", 5),
    (layer_text("    Stride { X: 0 }\n"), "stride", 4),
    (layer_text("    Stride { K: 2 }\n"), "stride-dimension", 4),
    (layer_text("    Stride { X: 2, X: 2 }\n"), "duplicate-dimension", 4),
    (layer_text("    Stride { X: 2 }\n", dims="M: 2, N: 2, K: 2", ltype="GEMM"),
     "stride-dimension", 4),
    (layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(1,1) Q;"), "unknown-dimension", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(1,1) N;"), "undeclared-dimension", 6),
    (layer_text("", dataflow="SpatialMap(0,1) K;"), "positive-size", 6),
    (layer_text("", dataflow="SpatialMap(1,0) K;"), "positive-size", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; Cluster(0,P);"), "positive-size", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; Cluster(2,X);"), "cluster-type", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; Cluster(2) SpatialMap(1,1) C;"),
     "cluster-type", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K;\n" + "Cluster(2,P); SpatialMap(1,1) C;\n" * 4),
     "cluster-count", 10),
    (layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(Sz(Q),1) Y;"), "sz-undeclared", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(UNDEF,1) Y;"), "unknown-constant", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(3,1) R;"), "rs-temporal-map", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(2,2) S;"), "rs-temporal-map", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; Tempral(2,2) S;"), "unexpected-token", 6),
    (layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(1,1) }"), "unexpected-token", 6),
    (layer_text("", dataflow="TemporalMap(1,1) K;"), "no-spatial-map", 5),
    (layer_text("", dataflow="SpatialMap(1,1) K; SpatialMap(1,1) C; SpatialMap(1,1) Y;"),
     "spatial-map-count", 5),
    (layer_text("", dataflow="SpatialMap(1,1) K; Cluster(2,P);"), "no-spatial-map", 5),
    (layer_text("", ltype="DSCONV", dims="K: 1, C: 4, R: 3, S: 3, Y: 8, X: 8",
                dataflow="SpatialMap(1,1) C; Cluster(2,P); SpatialMap(1,1) K;"),
     "inner-level-dimension", 5),
    (layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(1,1) Y';"),
     "prime-without-filter-map", 5),
    ("Network N {\n  Layer L {\n    Type: CONV\n  }\n}\n", "missing-dimensions", 2),
    ("Network N {\n  Layer L {\n" + CONV_BODY + "  }\n}\n", "missing-type", 2),
]


@pytest.mark.parametrize("text,rule,line", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_rule_violation(text, rule, line):
    with pytest.raises(MaestroInputError) as info:
        parse_mapping(text, "bad.m")
    err = info.value
    assert (err.rule, err.line, err.source) == (rule, line, "bad.m"), str(err)
    assert str(err).startswith(f"bad.m:{line}: ")


def test_messages_say_what_was_found_and_expected():
    with pytest.raises(MaestroInputError, match=r"tile size \(7\) equal to the dimension size "
                       r"of R \(3\)"):
        parse_mapping(layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(7,7) R;"))
    with pytest.raises(MaestroInputError, match=r"tile size \(1\) equal to its tile offset \(3\)"):
        parse_mapping(layer_text("", dataflow="SpatialMap(1,1) K; TemporalMap(1,3) R;"))
    with pytest.raises(MaestroInputError, match="separated .* 'Dataflow{'"):
        parse_mapping(layer_text("").replace("Dataflow {", "Dataflow{"))
    with pytest.raises(MaestroInputError, match="separate hardware file"):
        parse_mapping("Accelerator {\n}\n")


# -- validate_dataflow on programmatic layers ------------------------------------------------
def conv(df: list) -> Layer:
    return Layer("L", "CONV", {"K": 4, "C": 4, "R": 3, "S": 3, "Y": 8, "X": 8},
                 dataflow=Dataflow(tuple(df)))


def test_validate_dataflow_accepts_and_rejects():
    validate_dataflow(conv([SpatialMap(1, 1, "K"), Cluster(2), SpatialMap(1, 1, "C")]))
    with pytest.raises(MappingError, match="layer 'L'.*level 1") as info:
        validate_dataflow(conv([SpatialMap(1, 1, "K"), Cluster(2)]), source="f.m", line=7)
    assert (info.value.source, info.value.line, info.value.rule) == ("f.m", 7, "no-spatial-map")
    with pytest.raises(MappingError) as info:
        validate_dataflow(conv([SpatialMap(1, 1, "G")]))
    assert info.value.rule == "undeclared-dimension"
    validate_dataflow(Layer("W", "GEMM", {"M": 2, "N": 2, "K": 2}))  # no dataflow: nothing


def test_prime_then_plain_at_the_same_level_is_not_found_below():
    # Y' is not renamed when the level also maps Y, and inner levels have no Y'.
    df = [SpatialMap(1, 1, "K"), TemporalMap(1, 1, "Y'"), TemporalMap(3, 1, "Y"),
          TemporalMap(3, 3, "R"), Cluster(2), SpatialMap(1, 1, "C")]
    with pytest.raises(MappingError) as info:
        validate_dataflow(conv(df))
    assert info.value.rule == "inner-level-dimension" and "Y'" in str(info.value)


# -- writing and round trips -----------------------------------------------------------------
def test_format_is_maestro_shaped():
    text = format_mapping(parse_mapping(BASIC))
    lines = [ln.strip() for ln in text.splitlines()]
    assert lines[:4] == ["Network Net {", "Layer L0 {", "Type: CONV", "Stride { X: 2, Y: 2 }"]
    assert lines[4] == "Dimensions { K: 64, C: 3, R: 7, S: 7, Y: 224, X: 224 }"
    assert lines[5:8] == ["Dataflow {", "TemporalMap(16,16) K;", "SpatialMap(7,1) Y;"]
    assert "Cluster(16,P);" in lines
    assert "Stride" not in text.split("Layer L1")[1]


def test_round_trip_basic(tmp_path):
    net = parse_mapping(BASIC)
    save_mapping(net, tmp_path / "x.m")
    assert load_mapping(tmp_path / "x.m") == net
    save_network(net, tmp_path / "y.yaml")
    assert load_network(tmp_path / "y.yaml") == net


def test_format_rejects_unmapped_layer_after_mapped_one():
    net = parse_mapping(BASIC)
    net.layers[1] = dataclasses.replace(net.layers[1], dataflow=None)
    with pytest.raises(MaestroInputError) as info:
        format_mapping(net)
    assert info.value.rule == "unrepresentable"


def test_format_makes_names_single_tokens():
    layer = Layer("conv 1/(a,b)", "GEMM", {"M": 2, "N": 2, "K": 2},
                  dataflow=Dataflow((SpatialMap(1, 1, "M"),)))
    net = parse_mapping(format_mapping(Network("my net", [layer, dataclasses.replace(
        layer, name="Dataflow")])))
    assert net.name == "my_net"
    assert [lay.name for lay in net.layers] == ["conv_1/_a_b_", "Dataflow"]


def test_unmapped_network_round_trips():
    net = parse_mapping(layer_text("", dataflow=None))
    assert parse_mapping(format_mapping(net)) == net


ACCEPTED = sorted(accepted_mappings()) if HAVE_REF else []


@needs_ref
@pytest.mark.parametrize("path", ACCEPTED, ids=ids(ACCEPTED))
def test_reference_round_trip(path):
    from costmodel.io.yaml_io import format_network_yaml, parse_network_yaml

    net = load_mapping(path)
    again = parse_mapping(format_mapping(net), "again.m")
    assert again == net
    assert [list(lay.dims) for lay in again.layers] == [list(lay.dims) for lay in net.layers]
    via_yaml = parse_network_yaml(format_network_yaml(net), "net.yaml")
    assert via_yaml == net
    assert parse_mapping(format_mapping(via_yaml)) == net


def _dims_file(dims: str, dataflow: str = "") -> str:
    return f"Network N {{\nLayer L1 {{\nType: CONV\nDimensions {{ {dims} }}\n{dataflow}}}\n}}\n"


@pytest.mark.parametrize("text,fragment", [
    (_dims_file("K: -64, C: 3, R: 1, S: 1, Y: 4, X: 4"),
     "m.m:4: the size of K must be > 0, got -64"),
    (_dims_file("K: 64, C: 3, R: 1, S: 1, Y: 4, X: 4", "Dataflow {\nSpatialMap(-3,1) K;\n}\n"),
     "m.m:6: the size of SpatialMap must be > 0"),
    ("Constant A -3\n" + _dims_file("K: 4, C: 3, R: 1, S: 1, Y: 4, X: 4"),
     "m.m:1: constant A: expected a non-negative integer, found -3"),
])
def test_minus_sign_before_a_number_is_an_error(text, fragment):
    with pytest.raises(MaestroInputError, match=re.escape(fragment)):
        parse_mapping(text, "m.m")


def test_filter_larger_than_input_in_m_file():
    with pytest.raises(MaestroInputError, match=r"m.m:2: layer L1: filter R=7 larger than "
                       r"input Y=3"):
        parse_mapping(_dims_file("K: 4, C: 3, R: 7, S: 1, Y: 3, X: 4"), "m.m")


WORKLOAD = """Network N {
  Layer A {
    Type: CONV
    Dimensions { K: 8, C: 4, R: 3, S: 3, Y: 10, X: 10 }
    Dataflow {
      SpatialMap(1,1) K;
      TemporalMap(1,7) R;
      TemporalMap(3,3) S;
    }
  }
  Layer B {
    Type: CONV
    Dimensions { K: 8, C: 4, R: 3, S: 3, Y: 10, X: 10 }
    Dataflow {
      SpatialMap(1,1) K;
      TemporalMap(4,4) C;
      TemporalMap(3,3) R;
      TemporalMap(3,3) S;
      TemporalMap(3,1) Y;
      TemporalMap(3,1) X;
    }
  }
  Layer C {
    Type: CONV
    Dimensions { K: 8, C: 4, R: 3, S: 3, Y: 10, X: 10 }
  }
}
"""


def test_parse_workload_drops_only_the_dataflows_that_break_a_rule():
    from costmodel.io.maestro import parse_workload

    with pytest.raises(MaestroInputError, match="w.m:7: TemporalMap"):
        parse_mapping(WORKLOAD, "w.m")
    net, dropped = parse_workload(WORKLOAD, "w.m")
    assert [x.name for x in net.layers] == ["A", "B", "C"]
    a, b, c = net.layers
    assert a.dataflow is None and b.dataflow is not None
    assert c.dataflow == b.dataflow  # MAESTRO's inheritance, from the last mapped layer
    assert [(n, e.line, e.rule) for n, e in dropped] == [("A", 7, "rs-temporal-map")]
    with pytest.raises(MaestroInputError, match="declared twice"):  # a layer error still raises
        parse_workload(WORKLOAD.replace("K: 8, C: 4", "K: 8, K: 4, C: 4", 1), "w.m")
