"""Validity flags: distinct bits, one text each, one definition wherever they are imported."""

from __future__ import annotations

import costmodel.analysis as analysis
import costmodel.engine as engine
from costmodel import validity
from costmodel.validity import ERROR_REASONS, REASONS, describe_flags

BITS = [v for k, v in vars(validity).items() if k.startswith("ERR_")]


def test_every_flag_is_its_own_bit_with_a_reason():
    assert all(b > 0 and b & (b - 1) == 0 for b in BITS)
    assert len(set(BITS)) == len(BITS)
    assert sorted(REASONS) == sorted(BITS)
    assert all(REASONS[b] == t for b, t in ERROR_REASONS.items())


def test_describe_flags():
    assert describe_flags(0) == ""
    both = validity.ERR_PES | validity.ERR_MACS
    assert describe_flags(both) == f"{REASONS[validity.ERR_PES]}; {REASONS[validity.ERR_MACS]}"
    assert describe_flags(sum(BITS)).count("; ") == len(BITS) - 1


def test_flags_are_importable_from_engine_and_analysis():
    for name in ("ERR_PES", "ERR_UNIQUE_ZERO", "ERR_ZERO_COMPUTE", "ERR_NO_VALID",
                 "ERROR_REASONS"):
        assert getattr(engine, name) is getattr(validity, name)
    for name in ("ERR_MACS", "ERR_RUNTIME", "ERR_PAIRS", "REASONS", "ERROR_REASONS",
                 "describe_flags"):
        assert getattr(analysis, name) is getattr(validity, name)
