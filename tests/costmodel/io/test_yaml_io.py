"""The YAML network form: loading, field-path errors and round trips with ``.m``."""

from __future__ import annotations

import pytest

from costmodel.dataflow import Cluster, SpatialMap, TemporalMap
from costmodel.errors import MaestroInputError
from costmodel.io import format_mapping, load_network, parse_mapping, save_network
from costmodel.io.yaml_io import format_network_yaml, network_from_dict, parse_network_yaml

MODEL = """\
name: Tiny
layers:
  - name: conv1
    type: CONV
    dims: {K: 8, C: 3, R: 3, S: 3, Y: 10, X: 10}
    strides: {X: 2, Y: 2}
    dataflow:
      - SpatialMap(1,1) K
      - TemporalMap(Sz(R),Sz(R)) R
      - TemporalMap(3,3) S;
      - Cluster(4, P)
      - SpatialMap(1,1) C
  - name: fc
    type: FC
    dims: {K: 10, C: 8}
  - {name: 3, type: GEMM, dims: {M: 4, N: 4, K: 4}}
"""


def test_load_model():
    net = parse_network_yaml(MODEL, "model.yaml")
    conv, fc, gemm = net.layers
    assert net.name == "Tiny" and conv.strides == {"X": 2, "Y": 2}
    assert conv.dataflow.directives == (SpatialMap(1, 1, "K"), TemporalMap(3, 3, "R"),
                                        TemporalMap(3, 3, "S"), Cluster(4, "P"),
                                        SpatialMap(1, 1, "C"))
    assert fc.type == "CONV" and fc.dims == {"K": 10, "C": 8, "R": 1, "S": 1, "Y": 1, "X": 1}
    assert fc.dataflow is None and gemm.dataflow is None  # no inheritance in YAML
    assert gemm.name == "3"


def test_yaml_m_yaml_round_trip(tmp_path):
    net = parse_network_yaml(MODEL)
    net.layers = net.layers[:1]  # .m cannot express unmapped layers after mapped ones
    save_network(net, tmp_path / "a.m")
    assert load_network(tmp_path / "a.m") == net
    assert parse_network_yaml(format_network_yaml(net)) == net
    assert parse_mapping(format_mapping(parse_network_yaml(format_network_yaml(net)))) == net


def test_dump_is_readable():
    text = format_network_yaml(parse_network_yaml(MODEL))
    assert "dims: {K: 8, C: 3, R: 3, S: 3, Y: 10, X: 10}" in text
    assert "- SpatialMap(1,1) K" in text and "- Cluster(4,P)" in text
    assert "name: '3'" in text


def _bad(path: str, value) -> dict:
    layer = {"name": "l", "type": "CONV", "dims": {"K": 2, "C": 2, "R": 1, "S": 1, "Y": 2,
                                                   "X": 2}, "dataflow": ["SpatialMap(1,1) K"]}
    data = {"name": "n", "layers": [dict(layer), dict(layer)]}
    target, *keys = path.split(".")
    obj = data["layers"][1] if target == "L1" else data
    for k in keys[:-1]:
        obj[k] = dict(obj[k])
        obj = obj[k]
    if value is KeyError:
        del obj[keys[-1]]
    else:
        obj[keys[-1]] = value
    return data


@pytest.mark.parametrize("path,value,message", [
    ("L1.dims.K", 0, "layers[1].dims.K: must be a positive integer"),
    ("L1.dims.K", "64", "layers[1].dims.K: must be a positive integer"),
    ("L1.dims.K", True, "layers[1].dims.K: must be a positive integer"),
    ("L1.dims.Q", 4, "layers[1].dims.Q: not a CONV dimension"),
    ("L1.dims.R", KeyError, "layers[1].dims: a CONV layer must declare R and S"),
    ("L1.dims.Y'", 2, "layers[1].dims: declare either Y or Y'"),
    ("L1.dims", [], "layers[1].dims: must be a mapping"),
    ("L1.dims", {}, "layers[1].dims: must declare at least one dimension"),
    ("L1.type", "POOL", "layers[1].type: must be one of"),
    ("L1.name", None, "layers[1].name: must be a non-empty string"),
    ("L1.name", KeyError, "layers[1].name: missing required field"),
    ("L1.extra", 1, "layers[1].extra: unknown field"),
    ("L1.strides", {"K": 2}, "layers[1].strides.K: unknown field"),
    ("L1.strides", {"X": 0}, "layers[1].strides.X: must be a positive integer"),
    ("L1.dataflow", "SpatialMap(1,1) K", "layers[1].dataflow: must be a non-empty list"),
    ("L1.dataflow", [], "layers[1].dataflow: must be a non-empty list"),
    ("L1.dataflow", ["SpatialMap(1,1) K", 5], "layers[1].dataflow[1]: must be a directive"),
    ("L1.dataflow", ["SpatialMap(1,1) Q"], "layers[1].dataflow[0]: SpatialMap(1,1) Q: 'Q' is not"),
    ("L1.dataflow", ["SpatialMap(0,1) K"], "layers[1].dataflow[0]: the size of SpatialMap must"),
    ("L1.dataflow", ["SpatialMap(1,1) K", "Cluster(2,P)"], "layers[1].dataflow: layer 'l', "
     "cluster level 1 (0 = outermost): no SpatialMap"),
    ("L1.dataflow", ["TemporalMap(Sz(Z),1) K"], "layers[1].dataflow[0]: Sz(Z)"),
    ("L1.dataflow", ["SpatialMap(1,1) K", "TemporalMap(2,1) R"],
     "layers[1].dataflow[1]: TemporalMap(2,1) R: a TemporalMap on R"),
    ("L1.dataflow", ["SpatialMap(1,1) K"] + ["Cluster(1,P)", "SpatialMap(1,1) C"] * 4,
     "layers[1].dataflow: more than 3 Cluster directives"),
    ("top.layers", [], "layers: must be a non-empty list"),
    ("top.layers", KeyError, "layers: missing required field"),
    ("top.other", 1, "other: unknown field"),
])
def test_field_path_errors(path, value, message):
    with pytest.raises(MaestroInputError) as info:
        network_from_dict(_bad(path, value), "model.yaml")
    assert str(info.value).startswith("model.yaml: ")
    assert message in str(info.value), str(info.value)


def test_yaml_syntax_and_top_level_errors():
    for text, fragment in [("layers: [\n", "model.yaml:2: invalid YAML"),
                           ("- 1\n- 2\n", "model.yaml: (top level): must be a mapping"),
                           ("layers:\n  - {name: a, name: b}\n", "duplicate key 'name'")]:
        with pytest.raises(MaestroInputError) as info:
            parse_network_yaml(text, "model.yaml")
        assert fragment in str(info.value)


def _one_layer(dims: str, name: str = "L1") -> str:
    return f"layers:\n  - {{name: {name}, type: CONV, dims: {{{dims}}}}}\n"


def test_filter_larger_than_input_is_named():
    with pytest.raises(MaestroInputError,
                       match=r"layer L1: filter R=30 larger than input Y=10"):
        parse_network_yaml(_one_layer("K: 4, C: 4, R: 30, S: 3, Y: 10, X: 10"), "big.yaml")


def test_huge_integer_says_it_exceeds_the_range():
    with pytest.raises(MaestroInputError, match=r"dims.K: 10{30} exceeds 2147483647"):
        parse_network_yaml(_one_layer("K: 1" + "0" * 30 + ", C: 4, R: 1, S: 1, Y: 4, X: 4"))


@pytest.mark.parametrize("data", [b"layers: []\n\xff\xfe", b"\x00\x01\x02\x89PNG\xff"])
def test_non_utf8_model_names_the_file(tmp_path, data):
    f = tmp_path / "uni.yaml"
    f.write_bytes(data)
    with pytest.raises(MaestroInputError, match=r"uni.yaml:\d+: not UTF-8 text"):
        load_network(f)
