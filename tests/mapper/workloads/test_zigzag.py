"""ZigZag workloads: the YAML operator list and the Python dict literal (never executed),
CONV/depthwise/GEMM from the loop dims, strides from the dimension relations, and errors that
name the file and operator."""

from __future__ import annotations

import csv

import pytest

from costmodel.errors import MaestroInputError
from mapper.cli import main
from mapper.workloads.presets import resolve_model
from mapper.workloads.zigzag import load_zigzag

YAML = """- id: 0
  name: conv1
  operator_type: Conv
  equation: O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]
  dimension_relations: [ix=2*ox+1*fx, iy=2*oy+1*fy]
  loop_dims: [B, K, C, OY, OX, FY, FX]
  loop_sizes: [1, 64, 3, 112, 112, 7, 7]
  operand_precision: {W: 8, I: 8, O: 16, O_final: 8}
- id: 1
  operator_type: Pooling
  equation: O[b][g][oy][ox]+=W[fx][fy]*I[b][g][iy][ix]
  loop_dims: [B, G, OY, OX, FX, FY]
  loop_sizes: [1, 64, 56, 56, 3, 3]
- id: 2
  operator_type: Conv
  equation: O[b][g][oy][ox]+=W[g][fy][fx]*I[b][g][iy][ix]
  dimension_relations: [ix=1*ox+1*fx, iy=1*oy+1*fy]
  loop_dims: [B, G, OY, OX, FY, FX]
  loop_sizes: [1, 64, 56, 56, 3, 3]
- id: 3
  operator_type: Gemm
  equation: O[b][k]+=W[k][c]*I[b][c]
  loop_dims: [B, K, C]
  loop_sizes: [8, 1000, 2048]
"""

PY = '''"""A ZigZag 2 style workload; importing it would run code, reading it must not."""
import os  # never executed by the reader
workload = {
    0: {  # conv
        'operator_type': 'Conv',
        'equation': 'O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]',
        'dimension_relations': ['ix=1*ox+1*fx', 'iy=1*oy+1*fy'],
        'loop_dim_size': {'B': 1, 'K': 32, 'C': 16, 'OY': 28, 'OX': 28, 'FY': 3, 'FX': 3},
        'padding': {'IY': (1, 1), 'IX': (1, 1)},
    },
    1: {
        'operator_type': 'Conv',
        'equation': 'O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]',
        'dimension_relations': ['ix=2*ox+1*fx', 'iy=2*oy+1*fy'],
        'loop_dim_size': {'B': 1, 'G': 32, 'K': 1, 'C': 1, 'OY': 14, 'OX': 14, 'FY': 3, 'FX': 3},
    },
}
'''


def test_yaml_operators_become_layers(tmp_path):
    f = tmp_path / "net.yaml"
    f.write_text(YAML)
    net = resolve_model(str(f))
    assert net.name == "net" and [x.name for x in net.layers] == ["conv1", "L2", "L3"]
    conv, dw, gemm = net.layers  # the pooling (a product with a constant W) is no layer
    assert conv.type == "CONV" and conv.strides == {"Y": 2, "X": 2}
    assert conv.dims == dict(K=64, C=3, R=7, S=7, Y=229, X=229)
    assert conv.macs == 64 * 3 * 49 * 112 * 112
    assert dw.type == "DSCONV" and dw.dims["K"] == 1 and dw.dims["C"] == 64
    assert dw.macs == 64 * 9 * 56 * 56
    assert gemm.type == "GEMM" and gemm.dims == dict(M=8, N=1000, K=2048)


def test_python_workload_is_read_as_a_literal(tmp_path):
    f = tmp_path / "wl.py"
    f.write_text(PY)
    net = load_zigzag(f)
    assert [x.name for x in net.layers] == ["L0", "L1"]
    conv, dw = net.layers
    assert conv.dims == dict(K=32, C=16, R=3, S=3, Y=30, X=30) and conv.macs == 32 * 16 * 9 * 784
    assert dw.type == "DSCONV" and dw.dims["C"] == 32 and dw.strides == {"Y": 2, "X": 2}
    assert dw.macs == 32 * 9 * 14 * 14


@pytest.mark.parametrize("op, message", [
    ("{operator_type: Conv, equation: 'O+=W*I', loop_dims: [G, K, C, FY, FX, OY, OX], "
     "loop_sizes: [2, 8, 8, 3, 3, 4, 4]}", "grouped convolutions"),
    ("{operator_type: Conv, equation: 'O+=W*I', dimension_relations: [ix=1*ox+2*fx], "
     "loop_dims: [K, C, FY, FX, OY, OX], loop_sizes: [8, 8, 3, 3, 4, 4]}", "dilated"),
    ("{operator_type: Conv, equation: 'O+=W*I', dimension_relations: [ix=ox*fx], "
     "loop_dims: [K, C, FY, FX, OY, OX], loop_sizes: [8, 8, 3, 3, 4, 4]}", "expected e.g."),
    ("{operator_type: Conv, equation: 'O+=W*I', loop_dims: [K, C], loop_sizes: [8]}",
     "one length"),
    ("{operator_type: Conv, equation: 'O+=W*I', loop_dims: [K, C], loop_sizes: [8, 0]}",
     "positive integer"),
    ("{operator_type: Add, equation: 'O=X+Y', loop_dims: [K], loop_sizes: [8]}",
     "no operator that multiplies"),
])
def test_bad_operators_name_file_and_operator(tmp_path, op, message):
    f = tmp_path / "w.yaml"
    f.write_text(f"- {op}\n")
    with pytest.raises(MaestroInputError) as info:
        load_zigzag(f)
    assert message in str(info.value) and str(info.value).startswith(str(f))


def test_python_file_without_a_literal_workload(tmp_path):
    f = tmp_path / "w.py"
    f.write_text("a = {}\nworkload = {**a}\n")
    with pytest.raises(MaestroInputError, match="line 2: workload is not a literal"):
        load_zigzag(f)
    f.write_text("x = 1\n")
    with pytest.raises(MaestroInputError, match="no `workload"):
        load_zigzag(f)


def test_cli_tunes_a_zigzag_workload(tmp_path):
    f = tmp_path / "net.yaml"
    f.write_text(YAML)
    out = tmp_path / "out"
    assert main(["tune", str(f), "--budget", "300", "--out", str(out), "--no-plots", "--quiet",
                 "--jobs", "1"]) == 0
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [r["layer"] for r in rows] == ["conv1", "L2", "L3"]


@pytest.mark.parametrize("name, data, message", [
    ("w.py", b"workload = {\n  0: {'a': 1,\n", "w.py:2: not valid Python"),
    ("w.py", b"\xff\xfe", "not UTF-8 text"),
    ("w.yaml", b"- {operator_type: Conv, loop_dims: [K, C], loop_sizes: [4, 4]}\n- 5\n",
     "operator 2: expected a mapping"),
])
def test_malformed_files_get_one_line_errors(tmp_path, name, data, message):
    f = tmp_path / name
    f.write_bytes(data)
    with pytest.raises(MaestroInputError, match=message):
        resolve_model(str(f))
