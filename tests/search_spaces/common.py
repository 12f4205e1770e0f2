"""A small layer, hardware and the structural rules every genome of a space obeys."""

from __future__ import annotations

import numpy as np

from costmodel import Hardware, Layer

LAYER = Layer("c", "CONV", dict(K=32, C=16, R=3, S=3, Y=18, X=18), {"X": 1, "Y": 1})
HW = Hardware(num_pes=64, l1_size=512, l2_size=100000, noc_bw=64, offchip_bw=64)


def check_rules(space, g) -> None:
    """Assert that every genome of ``g`` satisfies ``space``'s rules."""
    assert ((g.levels >= space.min_levels) & (g.levels <= space.max_levels)).all()
    assert (g.tiles >= 1).all()
    assert (g.tiles[:, 0] <= space.extent).all()
    assert (g.tiles[:, 1:] <= g.tiles[:, :-1]).all()
    in_use = np.arange(space.L)[None, :] < g.levels[:, None]
    assert (np.where(in_use, g.clusters, 1).prod(axis=1) <= space.P).all()
    for row in g.order.reshape(-1, space.D):
        assert sorted(row) == list(range(space.D))
