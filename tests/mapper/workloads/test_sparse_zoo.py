"""The sparse zoo variants carry their sources' numbers: resnet50_sparse's weight densities are
the per-layer NNZ ratios of the published pruned ResNet-50 table, its input densities the
measured post-ReLU densities by bottleneck position (file header)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from costmodel.sparsity.density import layer_density
from mapper.workloads.zoo import load_model

DATA = Path(__file__).resolve().parents[3] / "mapper/workloads/zoo/data/resnet50_sparse.yaml"


def _densities(layer):
    d = layer_density(layer)
    return (d["weight"].value if "weight" in d else 1.0,
            d["input"].value if "input" in d else 1.0)


def test_resnet50_sparse_weights_are_the_published_nnz_ratios():
    """Each layer line names its torchvision parameter and NNZ sparse/dense; the density is
    that ratio (4 digits)."""
    model = {lay.name: lay for lay in load_model("resnet50_sparse").layers}
    lines = [ln for ln in DATA.read_text().splitlines() if ln.startswith("  - ")]
    assert len(lines) == len(model) == 54
    for ln in lines:
        name = re.search(r"name: (\w+),", ln)[1]
        nnz, dense = (int(v) for v in re.search(r"# \S+\.weight: (\d+)/(\d+)$", ln).groups())
        assert _densities(model[name])[0] == pytest.approx(nnz / dense, abs=5e-5)
    total = sum(int(re.search(r": (\d+)/", ln)[1]) for ln in lines)
    assert total == 7481351                  # the table's "Total sparsity" NNZ (70.66%)


@pytest.mark.parametrize("name,weight,inp", [
    ("CONV1", 1.0, 1.0), ("CONV2_1_2", 1.0, 0.444), ("CONV3_1_1", 1.0, 0.818),
    ("CONV3_1_Shortcut", 0.3, 0.818), ("CONV4_2_2", 0.3, 0.444), ("CONV4_2_3", 0.3, 0.557),
    ("CONV5_1_1", 0.3, 0.267), ("FC1000", 0.13, 1.0)])
def test_resnet50_sparse_layers(name, weight, inp):
    layer = next(lay for lay in load_model("resnet50_sparse").layers if lay.name == name)
    assert _densities(layer) == pytest.approx((weight, inp), abs=5e-5)
