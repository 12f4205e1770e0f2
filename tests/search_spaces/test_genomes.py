"""Genomes: copies, concatenation, keys and hashes of the dataflow a genome decodes to."""

from __future__ import annotations

import numpy as np

from search_spaces import Genomes, MappingSpace

from .common import HW, LAYER


def test_take_copies_and_concat_joins():
    g = MappingSpace(LAYER, HW).sample(np.random.default_rng(0), 10)
    part = g.take([2, 5])
    part.tiles[:] = 0
    assert (g.tiles > 0).all()  # take copies: the batch it came from is unchanged
    both = Genomes.concat([g.take([0]), g.take([1, 2])])
    assert len(both) == 3 and (both.keys() == g.take([0, 1, 2]).keys()).all()


def test_keys_and_hashes_ignore_the_genes_of_unused_levels():
    space = MappingSpace(LAYER, HW, max_levels=2)
    g = space.sample(np.random.default_rng(4), 200)
    g.levels[:] = 1
    twin = g.take(np.arange(len(g)))
    twin.tiles[:, 1] += 1            # dormant genes differ ...
    twin.clusters[:, 1] += 1
    twin.order[:, 1] = twin.order[:, 1, ::-1]
    assert (g.keys() == twin.keys()).all()           # ... yet they are the same dataflow
    assert (g.hashes() == twin.hashes()).all()
    assert all(str(space.decode(g, i)) == str(space.decode(twin, i)) for i in range(20))
    other = g.take(np.arange(len(g)))
    other.tiles[:, 0, 0] += 1        # a gene in use changes key and hash
    assert (g.keys() != other.keys()).all() and (g.hashes() != other.hashes()).all()
    assert len(np.unique(g.hashes())) == len(np.unique(g.keys()))
