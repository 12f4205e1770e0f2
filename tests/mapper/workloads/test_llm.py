"""LLM inference workloads (mapper.workloads.llm) through the zoo, YAML files and the CLI."""

from __future__ import annotations

import json

import pytest

from costmodel.errors import MaestroInputError
from mapper.cli import main
from mapper.scheduling.workload import parse_model_mix
from mapper.workloads.llm import LlmArch, parse_name_params
from mapper.workloads.presets import resolve_model
from mapper.workloads.zoo import llm_models, load_model, load_model_file, model_path

LLAMA3 = LlmArch(hidden=4096, heads=32, kv_heads=8, head_dim=128, mlp=14336, layers=32,
                 vocab=128256)
LLAMA2 = LlmArch(hidden=4096, heads=32, kv_heads=32, head_dim=128, mlp=11008, layers=32,
                 vocab=32000)


def _shapes(net) -> dict[str, tuple[int, int, int, int]]:
    return {l.name: (l.dims["M"], l.dims["N"], l.dims["K"], net.count(l)) for l in net.layers}


def test_bundled_llms_and_their_architectures():
    assert llm_models() == ["llama2_7b", "llama3_8b"]
    assert load_model("llama3_8b").llm.arch == LLAMA3
    assert load_model("Llama-2-7B").llm.arch == LLAMA2
    # the checkpoints' parameter counts (8,030,261,248 and 6,738,415,616) are the GEMM
    # weights plus the token embedding (a lookup) and the RMSNorm weights (2 per layer + 1)
    norms = (32 * 2 + 1) * 4096
    assert LLAMA3.gemm_params + 128256 * 4096 + norms == 8_030_261_248
    assert LLAMA2.gemm_params + 32000 * 4096 + norms == 6_738_415_616


def test_llama3_decode_shapes():
    net = load_model("llama3_8b:decode:context=4096:batch=8")
    assert net.key == "llama3_8b:decode:context=4096:batch=8"
    assert net.name == "Llama3_8B_decode_ctx4096_b8"
    assert _shapes(net) == {
        "Q_PROJ": (8, 4096, 4096, 32),
        "K_PROJ": (8, 1024, 4096, 32),          # 8 KV heads x 128
        "V_PROJ": (8, 1024, 4096, 32),
        "ATTN_SCORE": (4, 4096, 128, 32 * 8 * 8),   # 4 query heads per KV head, per sequence
        "ATTN_CONTEXT": (4, 128, 4096, 32 * 8 * 8),
        "O_PROJ": (8, 4096, 4096, 32),
        "MLP_GATE": (8, 14336, 4096, 32),
        "MLP_UP": (8, 14336, 4096, 32),
        "MLP_DOWN": (8, 4096, 14336, 32),
        "LM_HEAD": (8, 128256, 4096, 1),
    }


def test_llama2_prefill_shapes():
    net = load_model("llama2_7b:prefill:prompt=2048:batch=2")
    s = _shapes(net)
    assert s["Q_PROJ"] == s["K_PROJ"] == (4096, 4096, 4096, 32)     # MHA: 32 KV heads
    assert s["ATTN_SCORE"] == (2048, 2048, 128, 32 * 2 * 32)
    assert s["ATTN_CONTEXT"] == (2048, 128, 2048, 32 * 2 * 32)
    assert s["MLP_DOWN"] == (4096, 4096, 11008, 32)
    assert s["LM_HEAD"] == (2, 32000, 4096, 1)                     # next-token logits only


@pytest.mark.parametrize("arch,name", [(LLAMA3, "llama3_8b"), (LLAMA2, "llama2_7b")])
@pytest.mark.parametrize("context", [1, 4096])
def test_decode_macs_are_weights_plus_kv_cache_reads(arch, name, context):
    # one token: one MAC per GEMM weight, plus q.k and p.v over the cache for every head
    attention = arch.layers * arch.heads * arch.head_dim * context * 2
    for batch in (1, 3):
        net = load_model(f"{name}:decode:context={context}:batch={batch}")
        assert net.total_macs == batch * (arch.gemm_params + attention)
    base = load_model(f"{name}:decode:context={context}")
    assert load_model(f"{name}:decode:context={context}:lm_head=0").total_macs == \
        base.total_macs - arch.hidden * arch.vocab


def test_prefill_macs():
    p, a = 512, LLAMA3
    net = load_model(f"llama3_8b:prefill:prompt={p}:lm_head=0")
    weights = a.gemm_params - a.hidden * a.vocab
    assert net.total_macs == p * weights + a.layers * a.heads * a.head_dim * p * p * 2


def test_kv_cache_operand_grows_with_context_and_batch():
    small, big = (load_model(f"llama3_8b:decode:context={c}:batch=4") for c in (1024, 8192))
    for layer in ("ATTN_SCORE", "ATTN_CONTEXT"):
        s, b = _shapes(small)[layer], _shapes(big)[layer]
        # the K x N operand (one KV head's cache of one sequence) scales with context
        assert b[1] * b[2] == 8 * s[1] * s[2] and b[3] == s[3] == 32 * 4 * 8
    assert _shapes(small)["MLP_UP"] == _shapes(big)["MLP_UP"]


def test_name_syntax_variants():
    spec = "llama3_8b:decode:context=100:batch=2"
    for name in ("llama3_8b:batch=2:context=100", "Llama-3-8B:DECODE:context=100:batch=2",
                 "llama3_8b:phase=decode:context=100:batch=2", spec):
        assert load_model(name).key == spec
    # a token key alone picks its phase; a new phase drops the file's decode context
    assert load_model("llama3_8b:prompt=64").key == "llama3_8b:prefill:prompt=64:batch=1"
    assert load_model("llama3_8b:prefill").key == "llama3_8b:prefill:prompt=2048:batch=1"
    assert load_model("llama3_8b").key == "llama3_8b"
    assert load_model("llama3_8b").llm.spec == "llama3_8b:decode:context=2048:batch=1"
    assert model_path("llama3_8b:prefill") == model_path("llama3_8b")
    assert parse_name_params("x:decode:batch=2") == {"phase": "decode", "batch": "2"}


@pytest.mark.parametrize("name,message", [
    ("llama3_8b:chat", "phase: must be prefill or decode, got 'chat'"),
    ("llama3_8b:decode:context=0", "context: must be a positive integer, got 0"),
    ("llama3_8b:decode:context=-5", "context: must be a positive integer"),
    ("llama3_8b:batch=two", "batch: must be a positive integer, got 'two'"),
    ("llama3_8b:prefill:context=128", "context: not a prefill parameter; prefill takes prompt"),
    ("llama3_8b:decode:prompt=128", "prompt: not a decode parameter; decode takes context"),
    ("llama3_8b:lm_head=maybe", "lm_head: must be 0 or 1"),
    ("llama3_8b:seq=128", "unknown parameter 'seq=128'"),
    ("llama3_8b:batch=1:batch=2", "parameter 'batch' given twice"),
    ("resnet50:decode", "model 'resnet50' takes no parameters"),
    ("llama4:decode", "unknown model 'llama4'"),
])
def test_bad_parameters_give_one_clear_line(name, message):
    with pytest.raises(MaestroInputError, match="llm-parameter|unknown-model") as info:
        load_model(name)
    text = str(info.value)
    assert message in text and "\n" not in text


def test_yaml_llm_block(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("llm: {arch: llama3_8b, phase: decode, context: 4096, batch: 8}\n")
    net = load_model_file(p)
    assert _shapes(net) == _shapes(load_model("llama3_8b:decode:context=4096:batch=8"))
    assert net.name == "Llama3_8B_decode_ctx4096_b8" and net.llm.batch == 8
    assert resolve_model(str(p)).total_macs == net.total_macs
    # a custom architecture inline, named by the file
    p.write_text("name: tiny\nllm:\n  arch: {hidden: 64, heads: 4, kv_heads: 2, head_dim: 16,"
                 " mlp: 128, layers: 2, vocab: 100}\n  phase: prefill\n  prompt: 8\n")
    tiny = load_model_file(p)
    assert tiny.name == "tiny_prefill_prompt8_b1"
    assert _shapes(tiny)["ATTN_SCORE"] == (16, 8, 16, 2 * 1 * 2)


@pytest.mark.parametrize("text,message", [
    ("llm: {arch: llama3_8b, context: 0}", "llm.context: must be a positive integer, got 0"),
    ("llm: {arch: llama3_8b, phase: train}", "llm.phase: must be prefill or decode"),
    ("llm: {phase: decode}", "llm.arch: missing required field"),
    ("llm: {arch: resnet50}", "llm.arch: 'resnet50' is not an LLM of the zoo"),
    ("llm: {arch: llama3_8b, tokens: 5}", "llm: unknown field(s) tokens"),
    ("llm: {arch: {hidden: 64}}", "llm.arch.heads: missing required field"),
    ("llm: {arch: {hidden: 64, heads: 6, kv_heads: 4, head_dim: 8, mlp: 8, layers: 1, "
     "vocab: 8}}", "llm.arch.kv_heads: must divide heads (6), got 4"),
    ("llm: {arch: llama3_8b}\nlayers: []", "an 'llm' model takes only name, source and llm"),
    ("llm: decode", "llm: must be a mapping"),
])
def test_bad_yaml_llm_block(tmp_path, text, message):
    p = tmp_path / "bad.yaml"
    p.write_text(text + "\n")
    with pytest.raises(MaestroInputError) as info:
        load_model_file(p)
    assert message in str(info.value)


def test_schedule_mix_keeps_llm_parameters():
    assert parse_model_mix("llama3_8b:decode:context=64:2,bert") == [
        ("llama3_8b:decode:context=64", 2), ("bert", 1)]
    assert parse_model_mix("llama3_8b:decode:batch=2") == [("llama3_8b:decode:batch=2", 1)]
    assert parse_model_mix("resnet50:3") == [("resnet50", 3)]
    with pytest.raises(MaestroInputError, match="must be positive"):
        parse_model_mix("resnet50:0")


def test_cli_models_lists_and_shows_llms(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "\nllama3_8b " in out and "\nllama2_7b " in out
    assert "\ngpt2_small " in out and "\nbert_base " in out
    assert "NAME:decode:context=N:batch=B" in out and "NAME:prefill:prompt=N" in out
    assert main(["models", "--show", "llama3_8b:decode:context=4096:batch=8",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "llama3_8b:decode:context=4096:batch=8"
    detail = {l["name"]: l for l in data["layers_detail"]}
    assert detail["ATTN_SCORE"]["dims"] == {"M": 4, "N": 4096, "K": 128}
    assert detail["ATTN_SCORE"]["count"] == 2048


def test_cli_bad_llm_parameter_is_a_clean_error(capsys):
    assert main(["models", "--show", "llama3_8b:decode:context=0"]) == 2
    err = capsys.readouterr().err
    assert "context: must be a positive integer, got 0" in err and "Traceback" not in err
