"""The bundled model zoo (mapper.workloads.zoo) and the ``mapper models`` command."""

from __future__ import annotations

import json
from math import prod
from pathlib import Path

import pytest

from costmodel.errors import MaestroInputError
from costmodel.layer import LAYER_TYPES, Network
from mapper.cli import main
from mapper.workloads.zoo import (
    DATA_DIR,
    ZooNetwork,
    format_model_yaml,
    list_models,
    load_model,
    load_model_counts,
    load_model_file,
    model_path,
    parse_model_yaml,
    resolve_model_name,
    total_macs,
)
from tests.reference import REF_DIR

BUNDLED = REF_DIR / "cases" / "a_bundled"
GAMMA = REF_DIR.parents[1] / "models" / "gamma-csv"

EXPECTED_MODELS = {
    # MAESTRO's bundled networks
    "resnet50", "resnext50", "vgg16", "mobilenetv2", "googlenet", "mnasnet", "squeezenet1_0",
    "unet", "transformer", "transformer_layers", "gnmt", "ncf", "example", "gemm_example",
    # others
    "resnet18", "alexnet", "bert_base", "gpt2_small", "dlrm",
    # sparse variants (layer densities)
    "bert_base_sparse24", "resnet50_sparse",
    # LLMs (llm: block, parametrised by name)
    "llama3_8b", "llama2_7b",
}


def test_list_models_is_the_bundled_set():
    assert set(list_models()) == EXPECTED_MODELS
    assert list_models() == sorted(list_models())


@pytest.mark.parametrize("key", sorted(EXPECTED_MODELS))
def test_every_model_loads_and_is_well_formed(key):
    net = load_model(key)
    assert isinstance(net, ZooNetwork) and isinstance(net, Network)
    assert net.key == key and net.name and net.source
    assert model_path(key) == DATA_DIR / f"{key}.yaml" and model_path(key).is_file()
    names = [layer.name for layer in net.layers]
    assert names and len(set(names)) == len(names), "layer names must be unique"
    assert set(net.counts) <= set(names)
    assert all(isinstance(n, int) and n > 1 for n in net.counts.values())
    for layer in net.layers:
        assert layer.type in LAYER_TYPES
        assert layer.dataflow is None
        assert layer.macs > 0
        if layer.type == "DSCONV":
            assert layer.dims.get("K") == 1, "MAESTRO convention: depthwise declares K=1"
        if layer.is_conv_family:
            assert layer.output_size("Y") >= 1 and layer.output_size("X") >= 1
    assert net.total_macs == total_macs(net) == sum(
        layer.macs * net.count(layer) for layer in net.layers)
    counts = load_model_counts(key)
    assert set(counts) == set(names) and all(counts[n] == net.count(n) for n in names)


@pytest.mark.parametrize("key", sorted(EXPECTED_MODELS))
def test_yaml_round_trip(key):
    net = load_model(key)
    back = parse_model_yaml(format_model_yaml(net), "<round trip>")
    assert back.name == net.name and back.source == net.source and back.counts == net.counts
    assert [(l.name, l.type, l.dims, l.strides) for l in back.layers] == \
        [(l.name, l.type, l.dims, l.strides) for l in net.layers]


def _conv_shapes(net):
    return [(l.dims["K"], l.dims["C"], l.dims["R"], l.dims["Y"], l.stride("Y"))
            for l in net.layers]


def test_resnet50_full_network():
    net = load_model("ResNet-50")
    assert len(net.layers) == 54  # stem + 16 bottlenecks x 3 + 4 projection shortcuts + FC
    assert {l.type for l in net.layers} == {"CONV"}
    assert [l.name for l in net.layers if l.name.endswith("_Shortcut")] == [
        "CONV2_1_Shortcut", "CONV3_1_Shortcut", "CONV4_1_Shortcut", "CONV5_1_Shortcut"]
    by = {l.name: l for l in net.layers}
    assert by["CONV1"].dims == {"K": 64, "C": 3, "R": 7, "S": 7, "Y": 224, "X": 224}
    assert by["CONV1"].strides == {"X": 2, "Y": 2}
    assert by["CONV3_2_1"].dims["C"] == 512  # MAESTRO's Resnet50_*.m has 256 here
    assert [n for n, l in by.items() if l.stride("Y") == 2] == [
        "CONV1", "CONV3_1_1", "CONV3_1_Shortcut", "CONV4_1_1", "CONV4_1_Shortcut",
        "CONV5_1_1", "CONV5_1_Shortcut"]
    assert by["FC1000"].dims == {"K": 1000, "C": 2048, "R": 1, "S": 1, "Y": 1, "X": 1}
    # ResNet-50 v1 has 3.86 GMACs with padding (4.09 G for torchvision's v1.5, whose stride
    # sits on the 3x3). MAESTRO's convention declares unpadded input sizes, so 3x3 outputs
    # shrink (56->54, ..., 7->5) and CONV1 gives 109x109: 3.41 GMACs. (MAESTRO's own
    # Resnet50 file gives 3.08 G: C=256 for CONV3_2..4_1, no shortcuts, 7x7 FC.)
    assert net.total_macs == 3_409_810_112


def test_vgg16_full_network():
    net = load_model("VGG-16")
    assert len(net.layers) == 16 and {l.type for l in net.layers} == {"CONV"}
    convs, fcs = net.layers[:13], net.layers[13:]
    assert all(l.dims["R"] == l.dims["S"] == 3 and not l.strides for l in convs)
    assert [l.dims["Y"] for l in convs] == [224] * 2 + [112] * 2 + [56] * 3 + [28] * 3 + [14] * 3
    assert [(l.name, l.dims["C"], l.dims["K"], l.dims["Y"]) for l in fcs] == [
        ("FC6", 25088, 4096, 1), ("FC7", 4096, 4096, 1), ("FC8", 4096, 1000, 1)]
    # 15.47 GMACs with padding; unpadded 3x3 convs: 14.01 G.
    assert net.total_macs == 14_008_171_264


def test_mobilenetv2_full_network():
    net = load_model("mobilenet_v2")
    assert len(net.layers) == 53  # 52 convolutions + classifier
    dw = [l for l in net.layers if l.type == "DSCONV"]
    assert len(dw) == 17 and all(l.dims["R"] == 3 and l.dims["K"] == 1 for l in dw)
    assert [l.name for l in net.layers if l.stride("Y") == 2] == [
        "CONV1", "Bottleneck2_1_2", "Bottleneck3_1_2", "Bottleneck4_1_2", "Bottleneck6_1_2"]
    assert net.layers[0].dims == {"K": 32, "C": 3, "R": 3, "S": 3, "Y": 224, "X": 224}
    last = net.layers[-2:]
    assert [(l.dims["C"], l.dims["K"]) for l in last] == [(320, 1280), (1280, 1000)]
    # ~300 MMACs (torchvision); unpadded depthwise convs: 297.6 M.
    assert net.total_macs == 297_634_064


def test_resnet18_and_alexnet():
    r18 = load_model("resnet-18")
    assert len(r18.layers) == 21 and r18.total_macs == 1_438_384_832  # 1.81 G padded
    alex = load_model("AlexNet")
    conv1 = alex.layers[0]
    assert conv1.dims["Y"] == 227 and conv1.strides == {"X": 4, "Y": 4}
    assert conv1.output_size("Y") == 55
    assert len(alex.layers) == 8 and alex.total_macs == 550_119_104  # 0.71 G padded


def test_transformer_layers_as_gemms():
    s, h, heads, f = 512, 768, 12, 3072
    bert = load_model("BERT-base")
    assert bert.counts == {"ATTN_SCORE": heads, "ATTN_CONTEXT": heads}
    assert all(l.type == "GEMM" for l in bert.layers)
    assert bert.total_macs == 4 * s * h * h + 2 * heads * s * s * (h // heads) + 2 * s * h * f
    assert bert.num_instances == 8 + 2 * (heads - 1)
    s = 1024
    gpt = load_model("gpt2")
    assert gpt.counts == {"ATTN_SCORE": heads, "ATTN_CONTEXT": heads}
    assert gpt.total_macs == 4 * s * h * h + 2 * heads * s * s * (h // heads) + 2 * s * h * f


def test_names_and_aliases():
    for alias, key in [("ResNet-50", "resnet50"), ("resnet_50", "resnet50"),
                       ("RESNET50", "resnet50"), ("MobileNet-V2", "mobilenetv2"),
                       ("SqueezeNet1.0", "squeezenet1_0"), ("squeezenet", "squeezenet1_0"),
                       ("U-Net", "unet"), ("bert", "bert_base"), ("GPT-2", "gpt2_small"),
                       ("GEMM_Example", "gemm_example"), ("Transformer_Layers",
                                                         "transformer_layers")]:
        assert resolve_model_name(alias) == key


def test_unknown_model_lists_available_names():
    with pytest.raises(MaestroInputError) as exc:
        load_model("resnet51")
    msg = str(exc.value)
    assert "unknown model 'resnet51'" in msg and "did you mean resnet50" in msg
    assert all(key in msg for key in EXPECTED_MODELS)


def test_load_model_returns_fresh_objects():
    a = load_model("alexnet")
    a.layers[0].dims["K"] = 1
    a.counts["CONV1"] = 7
    b = load_model("alexnet")
    assert b.layers[0].dims["K"] == 64 and b.counts == {}


def test_model_files_bad_counts_and_plain_yaml(tmp_path):
    plain = "name: n\nlayers:\n  - {name: a, type: GEMM, dims: {M: 2, N: 3, K: 4}}\n"
    net = parse_model_yaml(plain)
    assert net.counts == {} and net.source == "" and net.total_macs == 24
    for bad, rule in [("count: 0", "yaml-value"), ("count: two", "yaml-value"),
                      ("count: true", "yaml-value")]:
        text = plain.replace("K: 4}}", "K: 4}, " + bad + "}")
        with pytest.raises(MaestroInputError) as exc:
            parse_model_yaml(text, "m.yaml")
        assert exc.value.rule == rule and "layers[0].count" in str(exc.value)
    dup = plain + "  - {name: a, type: GEMM, dims: {M: 2, N: 3, K: 4}, count: 2}\n"
    with pytest.raises(MaestroInputError, match="unique"):
        parse_model_yaml(dup)
    with pytest.raises(MaestroInputError, match="source"):
        parse_model_yaml("source: [1]\n" + plain)
    with pytest.raises(MaestroInputError, match="duplicate key"):
        parse_model_yaml(plain.replace("M: 2", "M: 2, M: 3"))
    with pytest.raises(MaestroInputError, match="yaml-field|unknown field"):
        parse_model_yaml(plain.replace("K: 4}}", "K: 4}, repeat: 2}"))
    p = tmp_path / "m.yaml"
    p.write_text(plain.replace("K: 4}}", "K: 4}, count: 3}"))
    net = load_model_file(p)
    assert net.counts == {"a": 3} and net.total_macs == 72


def test_package_data_is_inside_the_package():
    import mapper

    assert DATA_DIR.parent == Path(mapper.__file__).resolve().parent / "workloads" / "zoo"
    assert sorted(p.stem for p in DATA_DIR.glob("*.yaml")) == sorted(EXPECTED_MODELS)


# -- against the sources of the shapes (skipped without ../shared) ----------------------------
VERBATIM = {  # zoo key -> MAESTRO mapping file whose layers it transcribes unchanged
    "resnext50": "ResNeXt50_kcp_ws", "googlenet": "googlenet_kcp_ws",
    "mnasnet": "mnasnet_kcp_ws", "squeezenet1_0": "squeezenet1_0_kcp_ws", "unet": "UNet_nlr",
    "gnmt": "gnmt_nmk", "ncf": "ncf_nmk", "example": "example",
    "gemm_example": "GEMM_Example", "transformer_layers": "Transformer_Layers",
    "transformer": "Transformer_Complete",
}


@pytest.mark.skipif(not BUNDLED.is_dir(), reason=f"MAESTRO bundled cases not at {BUNDLED}")
@pytest.mark.parametrize("key", sorted(VERBATIM))
def test_maestro_networks_match_their_mapping_files(key):
    from costmodel.io import load_mapping

    case = VERBATIM[key]
    ref = load_mapping(BUNDLED / f"{case}__accelerator_1" / f"{case}.m")
    net = load_model(key)
    assert [(l.type, l.dims, l.strides) for l in net.layers] == \
        [(l.type, l.dims, l.strides) for l in ref.layers]
    if key == "transformer":  # names made unique with a block prefix
        assert all(n.name.endswith(r.name) for n, r in zip(net.layers, ref.layers))
    else:
        assert [l.name for l in net.layers] == [l.name for l in ref.layers]


@pytest.mark.skipif(not GAMMA.is_dir(), reason=f"GAMMA layer tables not at {GAMMA}")
def test_gamma_tables_match():
    def rows(name):
        lines = (GAMMA / f"{name}.csv").read_text().split()[1:]
        return [tuple(int(v) for v in line.split(",")) for line in lines]

    conv = [l for l in load_model("resnet18").layers if l.name != "FC1000"]
    assert [(l.dims["K"], l.dims["C"], l.dims["Y"], l.dims["X"], l.dims["R"], l.dims["S"], 1)
            for l in conv] == rows("resnet18")
    mb = [l for l in load_model("mobilenetv2").layers if l.name != "CONV2D_3"]
    assert [(l.dims["K"], l.dims["C"], l.dims["Y"], l.dims["X"], l.dims["R"], l.dims["S"],
             2 if l.type == "DSCONV" else 1) for l in mb] == rows("mobilenet_v2")
    alex = load_model("alexnet").layers[:5]
    assert [(l.dims["K"], l.dims["C"], l.dims["R"]) for l in alex] == \
        [(k, c, r) for k, c, _, _, r, _, _ in rows("alexnet")]
    assert [(l.dims["N"], l.dims["K"]) for l in load_model("dlrm").layers] == \
        [(o, i) for o, i, *_ in rows("dlrmRMC1_m")]


# -- CLI --------------------------------------------------------------------------------------
def test_cli_models_table(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for key in EXPECTED_MODELS:
        assert f"\n{key} " in out
    line = next(l for l in out.splitlines() if l.startswith("resnet50 "))
    assert "54" in line and "3.41 G" in line and "CONV:54" in line
    assert "8 (30)" in next(l for l in out.splitlines() if l.startswith("bert_base "))


def test_cli_models_json(capsys):
    assert main(["models", "--format", "json"]) == 0
    data = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert set(data) == EXPECTED_MODELS
    assert data["resnet50"]["macs"] == 3_409_810_112 and data["resnet50"]["layers"] == 54
    assert data["mobilenetv2"]["types"] == {"CONV": 36, "DSCONV": 17}
    assert data["bert_base"]["instances"] == 30


def test_cli_models_show(capsys, tmp_path):
    assert main(["models", "--show", "resnet-50"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ResNet50 (resnet50): 54 layers, 3,409,810,112 MACs")
    assert "CONV1" in out and "K=64 C=3 R=7 S=7 Y=224 X=224" in out and "2x2" in out
    assert main(["models", "--show", "bert_base", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(l["name"], l["count"]) for l in data["layers_detail"]][3:5] == [
        ("ATTN_SCORE", 12), ("ATTN_CONTEXT", 12)]
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nlayers:\n  - {name: g, type: GEMM, dims: {M: 2, N: 3, K: 4}, "
                 "count: 5}\n")
    assert main(["models", "--show", str(p)]) == 0
    assert "mine: 1 layers (5 instances), 120 MACs" in capsys.readouterr().out


def test_cli_unknown_model_is_a_clean_error(capsys):
    assert main(["models", "--show", "no-such-net"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unknown model 'no-such-net'" in captured.err and "resnet50" in captured.err
    assert "Traceback" not in captured.err


def test_total_macs_with_explicit_counts():
    net = load_model("gemm_example")
    assert total_macs(net) == 10**6
    assert total_macs(Network("n", net.layers), {"BLAS": 3}) == 3 * 10**6
    assert prod(net.layers[0].dims.values()) == 10**6
