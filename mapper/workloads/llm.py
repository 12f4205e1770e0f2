"""Decoder-only LLM inference (Llama-style) as GEMM layers with their real shapes.

A model is an architecture (hidden size, query/KV heads, MLP width, layers, vocabulary) plus
a phase:

* ``prefill``: the prompt of ``prompt`` tokens of each of ``batch`` sequences in one pass;
* ``decode``: one new token per sequence, attending to a KV cache of ``context`` tokens
  (the cached tokens plus the new one), for ``batch`` sequences.

Pick them by name (zoo key, then ``:``-separated parameters, in any order)::

    llama3_8b                                   # the zoo file's defaults (decode, context 2048)
    llama3_8b:decode:context=4096:batch=8
    llama3_8b:prefill:prompt=2048:batch=1
    llama2_7b:decode:context=4096:lm_head=0     # without the LM head GEMM

or in a model YAML file (``arch`` a zoo key, or a mapping of :class:`LlmArch` fields)::

    name: my_run                                # optional
    llm: {arch: llama3_8b, phase: decode, context: 4096, batch: 8}

Layers (one entry each; ``count`` = instances in the whole model, all decoder layers
included). GEMMs are ``M x K`` (input) times ``K x N`` (the weight-like operand)::

    Q_PROJ        M=T  N=heads*head_dim     K=hidden           count=layers
    K_PROJ/V_PROJ M=T  N=kv_heads*head_dim  K=hidden           count=layers
    ATTN_SCORE    M=g*Q  N=S  K=head_dim                       count=layers*batch*kv_heads
    ATTN_CONTEXT  M=g*Q  N=head_dim  K=S                       count=layers*batch*kv_heads
    O_PROJ        M=T  N=hidden  K=heads*head_dim              count=layers
    MLP_GATE/UP   M=T  N=mlp  K=hidden (SwiGLU: two GEMMs)     count=layers
    MLP_DOWN      M=T  N=hidden  K=mlp                         count=layers
    LM_HEAD       M=batch  N=vocab  K=hidden                   count=1

with ``T`` the tokens processed (``batch*prompt`` in prefill, ``batch`` in decode), ``Q``
the query positions per sequence (``prompt`` or 1), ``S`` the attended positions (``prompt``
or ``context``) and ``g = heads / kv_heads`` the query heads sharing one KV head
(grouped-query attention). The attention GEMMs are per (sequence, KV head): the K and V
cache of that head is the ``K x N`` operand, a tensor that grows with ``S`` and is shared by
the ``g`` query heads of the group but *not* across the batch, hence ``count`` includes
``batch``. Prefill computes the full ``prompt x prompt`` scores (the causal mask is applied
after the product, as in the GPT-2 zoo file). The LM head produces the logits of the next
token only (one row per sequence, also in prefill). Norms, RoPE, softmax and residual adds
are not GEMMs and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from costmodel.errors import MaestroInputError
from costmodel.layer import Layer

__all__ = ["PHASES", "PARAM_HELP", "LlmArch", "LlmWorkload", "parse_name_params",
           "workload_from_dict"]

PHASES = ("prefill", "decode")
#: tokens per sequence when neither the name nor the YAML block gives them
DEFAULT_TOKENS = 2048
#: one line for ``mapper models``
PARAM_HELP = ("LLM parameters: NAME:decode:context=N:batch=B or NAME:prefill:prompt=N:batch=B "
              "(lm_head=0 drops the LM head), e.g. llama3_8b:decode:context=4096:batch=8")

_TOKEN_KEY = {"prefill": "prompt", "decode": "context"}
_KEYS = ("phase", "prompt", "context", "batch", "lm_head")


@dataclass(frozen=True)
class LlmArch:
    """Shape of a Llama-style decoder-only model (field names as in a YAML ``arch`` block)."""

    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    mlp: int
    layers: int
    vocab: int

    @classmethod
    def from_dict(cls, data: Any, where: str, source: str) -> LlmArch:
        """Checked architecture from a mapping; errors name ``where.<field>``."""
        if not isinstance(data, Mapping):
            raise MaestroInputError(f"{where}: must be a zoo LLM name or a mapping of "
                                    f"{', '.join(f.name for f in fields(cls))}",
                                    source=source, rule="yaml-value")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(map(str, data)) - set(names))
        if unknown:
            raise MaestroInputError(f"{where}: unknown field(s) {', '.join(unknown)}; expected "
                                    f"{', '.join(names)}", source=source, rule="yaml-field")
        values = {}
        for name in names:
            if name not in data:
                raise MaestroInputError(f"{where}.{name}: missing required field",
                                        source=source, rule="yaml-missing-field")
            values[name] = _positive(data[name], f"{where}.{name}", source)
        arch = cls(**values)
        if arch.heads % arch.kv_heads:
            raise MaestroInputError(f"{where}.kv_heads: must divide heads ({arch.heads}), got "
                                    f"{arch.kv_heads}", source=source, rule="yaml-value")
        return arch

    @property
    def group(self) -> int:
        """Query heads per KV head (1 for multi-head attention)."""
        return self.heads // self.kv_heads

    @property
    def gemm_params(self) -> int:
        """Weight parameters of all decoder-layer GEMMs plus the LM head."""
        q_o = 2 * self.hidden * self.heads * self.head_dim
        k_v = 2 * self.hidden * self.kv_heads * self.head_dim
        return self.layers * (q_o + k_v + 3 * self.hidden * self.mlp) + self.hidden * self.vocab


@dataclass(frozen=True)
class LlmWorkload:
    """One inference step of an LLM: architecture, phase, tokens per sequence, batch."""

    key: str            # zoo key of the architecture, or the network name for a custom arch
    title: str          # display name, e.g. Llama3_8B
    arch: LlmArch
    phase: str
    tokens: int         # prompt length (prefill) or context length (decode)
    batch: int = 1
    lm_head: bool = True

    @property
    def spec(self) -> str:
        """Canonical name with parameters, e.g. ``llama3_8b:decode:context=4096:batch=8``."""
        text = f"{self.key}:{self.phase}:{_TOKEN_KEY[self.phase]}={self.tokens}:batch={self.batch}"
        return text + ("" if self.lm_head else ":lm_head=0")

    @property
    def network_name(self) -> str:
        short = "ctx" if self.phase == "decode" else "prompt"
        return (f"{self.title}_{self.phase}_{short}{self.tokens}_b{self.batch}"
                + ("" if self.lm_head else "_nohead"))

    def gemms(self) -> list[tuple[Layer, int]]:
        """The model's GEMM layers with their instance counts (see the module docstring)."""
        a, b = self.arch, self.batch
        prefill = self.phase == "prefill"
        rows = b * self.tokens if prefill else b      # tokens through the projections / MLP
        queries = self.tokens if prefill else 1       # query positions per sequence
        span = self.tokens                            # key/value positions attended to
        q_out, kv_out = a.heads * a.head_dim, a.kv_heads * a.head_dim
        per_head = a.layers * b * a.kv_heads
        shapes = [
            ("Q_PROJ", rows, q_out, a.hidden, a.layers),
            ("K_PROJ", rows, kv_out, a.hidden, a.layers),
            ("V_PROJ", rows, kv_out, a.hidden, a.layers),
            # per (sequence, KV head): g query heads x cached keys (head_dim x span)
            ("ATTN_SCORE", a.group * queries, span, a.head_dim, per_head),
            # probabilities (g*queries x span) x cached values (span x head_dim)
            ("ATTN_CONTEXT", a.group * queries, a.head_dim, span, per_head),
            ("O_PROJ", rows, a.hidden, q_out, a.layers),
            ("MLP_GATE", rows, a.mlp, a.hidden, a.layers),
            ("MLP_UP", rows, a.mlp, a.hidden, a.layers),
            ("MLP_DOWN", rows, a.hidden, a.mlp, a.layers),
        ]
        if self.lm_head:
            shapes.append(("LM_HEAD", b, a.vocab, a.hidden, 1))
        return [(Layer(name, "GEMM", {"M": m, "N": n, "K": k}), count)
                for name, m, n, k, count in shapes]


def _positive(value: Any, what: str, source: str | None) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MaestroInputError(f"{what}: must be a positive integer, got {value!r}",
                                source=source, rule="llm-parameter")
    return value


def _flag(value: Any, what: str, source: str | None) -> bool:
    text = str(value).strip().lower()
    if isinstance(value, bool) or text in ("0", "1", "true", "false", "yes", "no"):
        return value if isinstance(value, bool) else text in ("1", "true", "yes")
    raise MaestroInputError(f"{what}: must be 0 or 1, got {value!r}", source=source,
                            rule="llm-parameter")


def parse_name_params(spec: str) -> dict[str, str]:
    """The parameters of a model name ``KEY:PHASE:key=value...`` as ``{key: text}``.

    A bare word is the phase. Raises :class:`MaestroInputError` naming the bad part.
    """
    params: dict[str, str] = {}
    for part in spec.split(":")[1:]:
        key, sep, value = (p.strip() for p in part.partition("="))
        if not sep:
            key, value = "phase", key
        key = key.lower()
        if key not in _KEYS:
            raise MaestroInputError(f"model {spec!r}: unknown parameter {part!r}; expected a "
                                    f"phase ({' or '.join(PHASES)}) or "
                                    f"{', '.join(k + '=' for k in _KEYS[1:])}",
                                    rule="llm-parameter")
        if key in params:
            raise MaestroInputError(f"model {spec!r}: parameter {key!r} given twice",
                                    rule="llm-parameter")
        params[key] = value
    return params


def _merge(block: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``block`` updated with ``overrides``; a new phase drops the other phase's token count."""
    merged = dict(block)
    phase = overrides.get("phase")
    if phase is None and overrides.keys() & {"prompt", "context"}:
        phase = "prefill" if "prompt" in overrides else "decode"
        merged["phase"] = phase
    if phase is not None:
        for other, key in _TOKEN_KEY.items():
            if other != str(phase).lower() and key not in overrides:
                merged.pop(key, None)
    merged.update(overrides)
    return merged


def workload_from_dict(block: Any, *, key: str, title: str, source: str,
                       spec: str | None = None,
                       resolve_arch: Callable[[str], tuple[str, str, Mapping]] | None = None,
                       ) -> LlmWorkload:
    """Checked :class:`LlmWorkload` from a YAML ``llm:`` block and a model name's parameters.

    ``spec`` is the model name ``KEY:PARAM...`` whose parameters override the block.
    ``resolve_arch(name)`` returns ``(key, title, arch mapping)`` for an ``arch`` given as a
    zoo name. Errors name the field (``llm.context``) or the name parameter.
    """
    if not isinstance(block, Mapping):
        raise MaestroInputError("llm: must be a mapping with arch, phase and context or prompt",
                                source=source, rule="yaml-value")
    overrides = parse_name_params(spec) if spec else {}

    def src(field: str) -> str | None:  # a name parameter is not in the file
        return None if field in overrides else source

    def what(field: str) -> str:
        return f"model {spec!r}: {field}" if field in overrides else f"llm.{field}"

    data = _merge(block, overrides)
    unknown = sorted(set(map(str, data)) - set(_KEYS) - {"arch"})
    if unknown:
        raise MaestroInputError(f"llm: unknown field(s) {', '.join(unknown)}; expected arch, "
                                f"{', '.join(_KEYS)}", source=source, rule="yaml-field")
    arch = data.get("arch")
    if arch is None:
        raise MaestroInputError("llm.arch: missing required field (a zoo LLM such as "
                                "llama3_8b, or a mapping of shapes)", source=source,
                                rule="yaml-missing-field")
    if isinstance(arch, str):
        if resolve_arch is None:
            raise MaestroInputError(f"llm.arch: {arch!r} cannot be resolved here",
                                    source=source, rule="yaml-value")
        key, title, arch = resolve_arch(arch)
    shapes = LlmArch.from_dict(arch, "llm.arch", source)
    phase = str(data.get("phase", "decode")).strip().lower()
    if phase not in PHASES:
        raise MaestroInputError(f"{what('phase')}: must be {' or '.join(PHASES)}, got "
                                f"{data.get('phase')!r}", source=src("phase"), rule="llm-parameter")
    token_key = _TOKEN_KEY[phase]
    wrong = next((k for k in _TOKEN_KEY.values() if k != token_key and k in data), None)
    if wrong:
        raise MaestroInputError(f"{what(wrong)}: not a {phase} parameter; {phase} takes "
                                f"{token_key}, batch, lm_head", source=src(wrong),
                                rule="llm-parameter")
    tokens = _positive(data.get(token_key, DEFAULT_TOKENS), what(token_key), src(token_key))
    batch = _positive(data.get("batch", 1), what("batch"), src("batch"))
    lm_head = _flag(data.get("lm_head", True), what("lm_head"), src("lm_head"))
    return LlmWorkload(key, title, shapes, phase, tokens, batch, lm_head)
