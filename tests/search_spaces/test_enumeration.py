"""Enumeration of a finite mapping space."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from costmodel import Layer
from search_spaces import MappingSpace
from search_spaces.enumeration import enumerate_genomes, enumeration_size, is_enumerable
from search_spaces.templates import make_space

from .common import HW, LAYER, check_rules

SMALL = Layer("s", "CONV", dict(K=8, C=4, R=3, S=3, Y=6, X=6))


def _fixed(**kw) -> MappingSpace:
    return MappingSpace(SMALL, HW, fixed_levels=1, fixed_order={0: ("K", "C", "R", "S", "Y", "X")},
                        fixed_par={0: "K"}, **kw)


def test_enumeration_is_complete_and_unique():
    sp = _fixed(tile_divisors=True)
    n = enumeration_size(sp)
    assert n == 4 * 3 * 3 * 3  # divisors of K=8, C=4, and of the 4 output rows/cols
    g = np.concatenate([x.keys() for x in enumerate_genomes(sp, chunk=7)])
    assert len(g) == n == len(np.unique(g))


def test_enumeration_resumes_from_an_index():
    sp = replace(make_space(LAYER, HW, "kcp_ws"), tile_divisors=True)
    whole = np.concatenate([g.keys() for g in enumerate_genomes(sp, chunk=1000)])
    rest = np.concatenate([g.keys() for g in enumerate_genomes(sp, chunk=333, start=500)])
    assert (rest == whole[500:]).all()
    check_rules(sp, next(enumerate_genomes(sp, chunk=100)))


def test_only_a_fixed_structure_is_enumerable():
    assert is_enumerable(_fixed())
    free = MappingSpace(SMALL, HW)
    assert not is_enumerable(free)
    with pytest.raises(ValueError, match="not enumerable"):
        enumeration_size(free)
