"""ONNX import (mapper.workloads.onnx_import) on small models built here with onnx.helper."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from costmodel.errors import MaestroInputError  # noqa: E402
from costmodel.io import load_network  # noqa: E402
from mapper.cli import main  # noqa: E402
from mapper.workloads.onnx_import import convert_onnx, import_onnx  # noqa: E402
from mapper.workloads.zoo import ZooNetwork, load_model_file  # noqa: E402

F = TensorProto.FLOAT


def _w(name, shape):
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def _model(nodes, inputs, outputs, inits, name="test_net"):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="unit-test")
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def mixed_model():
    """Conv (stride 2, pad 1), Relu, depthwise Conv, grouped Conv (stride 2), Add, Flatten,
    Gemm (transB), per-head batched MatMul, MatMul with a shared weight."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="dwconv", group=16,
                         pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c2", "w3"], ["c3"], name="gconv", group=4, strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c3", "c3"], ["a1"], name="add1"),
        helper.make_node("Flatten", ["a1"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wf"], ["g"], name="fc", transB=1),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
        helper.make_node("MatMul", ["q", "wq"], ["p"], name="proj"),
    ]
    inputs = [helper.make_tensor_value_info("x", F, [1, 3, 32, 32]),
              helper.make_tensor_value_info("q", F, [2, 4, 16, 8]),
              helper.make_tensor_value_info("kt", F, [2, 4, 8, 16])]
    outputs = [helper.make_tensor_value_info("g", F, [1, 10]),
               helper.make_tensor_value_info("s", F, [2, 4, 16, 16]),
               helper.make_tensor_value_info("p", F, [2, 4, 16, 12])]
    inits = [_w("w1", (16, 3, 3, 3)), _w("w2", (16, 1, 3, 3)), _w("w3", (32, 4, 3, 3)),
             _w("wf", (10, 32 * 8 * 8)), _w("wq", (8, 12))]
    return _model(nodes, inputs, outputs, inits)


def test_mixed_model_layers(mixed_model, tmp_path):
    path = tmp_path / "mixed.onnx"
    onnx.save(mixed_model, path)
    net, skipped = import_onnx(path)
    assert isinstance(net, ZooNetwork) and net.name == "test_net"
    assert skipped == ["Relu relu1", "Add add1", "Flatten flat"]
    by = {layer.name: layer for layer in net.layers}
    assert list(by) == ["conv1", "dwconv", "gconv", "fc", "scores", "proj"]

    # 32x32, pad 1, 3x3, stride 2 -> 16x16 output; padded input (16-1)*2+3 = 33
    assert by["conv1"].type == "CONV"
    assert by["conv1"].dims == {"K": 16, "C": 3, "R": 3, "S": 3, "Y": 33, "X": 33}
    assert by["conv1"].strides == {"X": 2, "Y": 2}
    assert by["conv1"].output_size("Y") == 16
    # depthwise: group == C_in == C_out -> DSCONV with K=1
    assert by["dwconv"].type == "DSCONV"
    assert by["dwconv"].dims == {"K": 1, "C": 16, "R": 3, "S": 3, "Y": 18, "X": 18}
    assert by["dwconv"].strides == {}
    # grouped: per-group channel counts, 16->32 channels in 4 groups
    assert by["gconv"].type == "NGCONV"
    assert by["gconv"].dims == {"G": 4, "K": 8, "C": 4, "R": 3, "S": 3, "Y": 17, "X": 17}
    assert by["gconv"].output_size("X") == 8
    # Gemm with transB: [1, 2048] x [10, 2048]^T
    assert by["fc"].dims == {"M": 1, "N": 10, "K": 2048}
    # both operands batched: per-instance GEMM, count = 2 * 4
    assert by["scores"].dims == {"M": 16, "N": 16, "K": 8} and net.counts["scores"] == 8
    # shared 2-D weight: batch folded into M
    assert by["proj"].dims == {"M": 2 * 4 * 16, "N": 12, "K": 8} and "proj" not in net.counts
    assert set(net.counts) == {"scores"}

    true_macs = {
        "conv1": 16 * 16 * 9 * 3 * 16, "dwconv": 16 * 16 * 9 * 16,
        "gconv": 8 * 8 * 9 * (16 // 4) * 32, "fc": 2048 * 10,
        "scores": 2 * 4 * 16 * 16 * 8, "proj": 2 * 4 * 16 * 12 * 8,
    }
    assert {n: l.macs * net.count(l) for n, l in by.items()} == true_macs
    assert net.total_macs == sum(true_macs.values())


def test_model_proto_fold_counts_and_notes(mixed_model):
    res = convert_onnx(mixed_model, fold_counts=True, name="folded")
    assert res.network.name == "folded" and res.network.counts == {}
    scores = next(l for l in res.network.layers if l.name == "scores")
    assert scores.dims == {"M": 8 * 16, "N": 16, "K": 8}
    assert res.notes == []
    assert "unit-test" in res.network.source


def _conv_net(x_shape, w_shape, out_shape=None, **attrs):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", **attrs)
    out = helper.make_tensor_value_info("y", F, out_shape)
    return _model([node], [helper.make_tensor_value_info("x", F, x_shape)], [out],
                  [_w("w", w_shape)])


def test_symbolic_batch_and_auto_pad():
    m = _conv_net(["batch", 8, 15, 15], (4, 8, 3, 3), ["batch", 4, 8, 8], strides=[2, 2],
                  auto_pad="SAME_UPPER")
    res = convert_onnx(m)
    layer = res.network.layers[0]
    assert layer.dims == {"K": 4, "C": 8, "R": 3, "S": 3, "Y": 17, "X": 17}
    assert layer.output_size("Y") == 8  # ceil(15 / 2)
    assert any("'batch' taken as 1" in n for n in res.notes)
    res = convert_onnx(m, dims={"batch": 4})
    assert res.network.layers[0].dims["N"] == 4 and res.notes == []
    assert res.network.total_macs == 4 * 8 * 8 * 9 * 8 * 4


def test_unsupported_convs_are_reported_not_dropped():
    m = _conv_net([1, 8, 16, 16], (8, 8, 3, 3), [1, 8, 12, 12], dilations=[2, 2])
    net, skipped = import_onnx(m)
    assert net.layers == [] and skipped == ["Conv c (dilations (2, 2) not supported)"]
    m = _conv_net([1, 2, 4, 4, 4], (2, 2, 3, 3, 3), [1, 2, 2, 2, 2])
    net, skipped = import_onnx(m)
    assert skipped == ["Conv c (3-D convolution not supported (1-D and 2-D only))"]


def test_conv1d_and_depth_multiplier():
    m = _conv_net([1, 4, 10], (8, 1, 3), [1, 8, 10], group=4, pads=[1, 1])
    layer = import_onnx(m)[0].layers[0]
    # depth multiplier 2 (group == C_in, C_out = 2 C_in): grouped, not depthwise
    assert layer.type == "NGCONV"
    assert layer.dims == {"G": 4, "K": 2, "C": 1, "R": 1, "S": 3, "Y": 1, "X": 12}
    assert layer.macs == 10 * 3 * 8


def test_matmul_vectors_and_shared_left_operand():
    nodes = [helper.make_node("MatMul", ["v", "w"], ["o1"], name="vec"),
             helper.make_node("MatMul", ["a", "b"], ["o2"], name="left_shared")]
    m = _model(nodes,
               [helper.make_tensor_value_info("v", F, [6]),
                helper.make_tensor_value_info("a", F, [5, 6]),
                helper.make_tensor_value_info("b", F, [3, 6, 7])],
               [helper.make_tensor_value_info("o1", F, [7]),
                helper.make_tensor_value_info("o2", F, [3, 5, 7])],
               [_w("w", (6, 7))])
    net, skipped = import_onnx(m)
    assert skipped == []
    assert [l.dims for l in net.layers] == [{"M": 1, "N": 7, "K": 6},
                                            {"M": 5, "N": 21, "K": 6}]


def test_cli_import_onnx(mixed_model, tmp_path, capsys):
    src = tmp_path / "mixed.onnx"
    onnx.save(mixed_model, src)
    out = tmp_path / "mixed.yaml"
    assert main(["import-onnx", str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "6 layers" in err and "Relu x1" in err and "Add x1" in err
    text = out.read_text()
    assert "# skipped 3 node(s): Relu relu1, Add add1, Flatten flat" in text
    net = load_model_file(out)
    assert net.counts == {"scores": 8} and len(net.layers) == 6
    # without counts the file is plain network YAML for costmodel.io
    folded = tmp_path / "folded.yaml"
    assert main(["import-onnx", str(src), "--out", str(folded), "--fold-counts",
                 "--name", "mixed"]) == 0
    plain = load_network(folded)
    assert plain.name == "mixed" and len(plain.layers) == 6
    assert sum(l.macs for l in plain.layers) == net.total_macs


def test_cli_tunes_an_onnx_model_directly(mixed_model, tmp_path, capsys):
    import csv

    src = tmp_path / "mixed.onnx"
    onnx.save(mixed_model, src)
    out = tmp_path / "out"
    assert main(["tune", str(src), "--budget", "30", "--out", str(out), "--no-plots",
                 "--quiet", "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "3 node(s) without MACs to map skipped (e.g. Relu relu1, Add add1, Flatten flat)" \
        in err
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [r["layer"] for r in rows] == [x.name for x in import_onnx(src)[0].layers]
    assert [r["count"] for r in rows if r["layer"] == "scores"] == ["8"]
    only_relu = tmp_path / "relu.onnx"
    onnx.save(_model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                     [helper.make_tensor_value_info("x", F, [1, 4])],
                     [helper.make_tensor_value_info("y", F, [1, 4])], []), only_relu)
    assert main(["tune", str(only_relu), "--out", str(out)]) == 2
    assert "no Conv, Gemm or MatMul node to map" in capsys.readouterr().err


def test_cli_import_onnx_errors(tmp_path, capsys):
    assert main(["import-onnx", str(tmp_path / "missing.onnx")]) == 2
    assert "file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf \xff\xff")
    assert main(["import-onnx", str(bad)]) == 2
    assert "cannot read ONNX model" in capsys.readouterr().err
    m = _model([helper.make_node("Relu", ["x"], ["y"], name="r")],
               [helper.make_tensor_value_info("x", F, [1, 4])],
               [helper.make_tensor_value_info("y", F, [1, 4])], [])
    only_relu = tmp_path / "relu.onnx"
    onnx.save(m, only_relu)
    assert main(["import-onnx", str(only_relu)]) == 2
    assert "no Conv, Gemm or MatMul" in capsys.readouterr().err
    assert main(["import-onnx", str(only_relu), "--dim", "batch"]) == 2
    assert "SYMBOL=POSITIVE_INTEGER" in capsys.readouterr().err


def test_missing_onnx_package_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "onnx":
            raise ModuleNotFoundError("No module named 'onnx'", name="onnx")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MaestroInputError, match="pip install"):
        convert_onnx("whatever.onnx")
