"""Timeloop problem files: the three YAML forms, folders in natural order, exact MACs,
errors that name the file, and `mapper tune` on them."""

from __future__ import annotations

import csv

import pytest

from costmodel.errors import MaestroInputError
from mapper.cli import main
from mapper.workloads.presets import resolve_model
from mapper.workloads.timeloop import load_timeloop

V03 = """problem:
  shape:
    name: "CNN-Layer"
    dimensions: [ C, M, R, S, N, P, Q ]
  instance:
    C: 3
    M: 64
    R: 7
    S: 7
    N: 1
    P: 112
    Q: 112
    Hstride: 2
    Wstride: 2
    Hdilation: 1
    Wdilation: 1
"""
FLAT = """problem:
  C: 64
  Hdilation: 1
  Hstride: 1
  K: 64
  N: 4
  P: 56
  Q: 56
  R: 3
  S: 3
  Wdilation: 1
  Wstride: 1
  shape: cnn-layer
"""
V04 = """problem:
  version: 0.4
  instance: {C: 256, M: 512, R: 1, S: 1, N: 1, P: 7, Q: 7, Hstride: 2, Wstride: 2}
"""


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "resnet18"
    d.mkdir()
    (d / "layer1.yaml").write_text(V03)
    (d / "layer2.yaml").write_text(FLAT)
    (d / "layer10.yaml").write_text(V04)
    (d / "arch.yaml").write_text("architecture: {}\n")  # not a problem file: left out
    return d


def test_the_three_forms_give_timeloops_output_sizes_and_macs(folder):
    net = load_timeloop(folder)
    assert net.name == "resnet18"
    assert [x.name for x in net.layers] == ["layer1", "layer2", "layer10"]
    first, second, last = net.layers
    assert first.dims == dict(K=64, C=3, R=7, S=7, Y=229, X=229)  # (112-1)*2+7
    assert first.strides == {"Y": 2, "X": 2}
    assert (first.output_size("Y"), first.output_size("X")) == (112, 112)
    assert first.macs == 64 * 3 * 7 * 7 * 112 * 112
    assert second.dims["N"] == 4 and second.macs == 4 * 64 * 64 * 9 * 56 * 56
    assert last.macs == 512 * 256 * 7 * 7 and last.output_size("Y") == 7


@pytest.mark.parametrize("text, message", [
    ("problem:\n  instance: {C: 3, M: 8, R: 3, S: 3, P: 4}\n", "no Q"),
    ("problem:\n  instance: {C: 3, M: 8, R: 3, S: 3, P: 4, Q: 0}\n", "Q must be a positive"),
    ("problem:\n  instance: {C: 3, M: 8, R: 3, S: 3, P: 4, Q: 4, Hdilation: 2}\n",
     "dilated convolutions"),
    ("problem:\n  shape: {name: Matrix-Multiply}\n  instance: {M: 4}\n", "only Timeloop's CNN"),
    ("problem:\n  instance: [1, 2]\n", "must be a mapping"),
])
def test_bad_problem_files_name_the_file(tmp_path, text, message):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(MaestroInputError) as info:
        load_timeloop(f)
    assert message in str(info.value) and str(info.value).startswith(str(f))


def test_a_folder_without_problem_files_and_a_zoo_name_beside_a_folder(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MaestroInputError, match="no Timeloop problem file"):
        resolve_model(str(empty))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet18").mkdir()  # e.g. an earlier run's --out resnet18
    assert resolve_model("resnet18").name == "ResNet18"


def test_cli_tunes_a_folder_of_problem_files(folder, tmp_path):
    out = tmp_path / "out"
    assert main(["tune", str(folder), "--budget", "40", "--out", str(out), "--no-plots",
                 "--quiet", "--jobs", "1"]) == 0
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [r["layer"] for r in rows] == ["layer1", "layer2", "layer10"]
    assert int(rows[0]["num_macs"]) == 64 * 3 * 7 * 7 * 112 * 112


def test_a_problem_key_that_is_not_a_mapping(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("problem: 5\n")
    with pytest.raises(MaestroInputError, match="problem must be a mapping"):
        resolve_model(str(f))
