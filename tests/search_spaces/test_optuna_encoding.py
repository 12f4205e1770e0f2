"""A genome drawn through an Optuna trial."""

from __future__ import annotations

import pytest

from search_spaces import MappingSpace
from search_spaces.optuna_encoding import suggest

from .common import HW, LAYER, check_rules


def test_optuna_encoding_round_trip():
    optuna = pytest.importorskip("optuna")
    sp = MappingSpace(LAYER, HW, max_levels=2)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        t = study.ask()
        g = suggest(sp, t)
        check_rules(sp, g)
        assert all(isinstance(v, (int, float)) for v in t.params.values())
        # the same parameters decode to the same genome
        fixed = optuna.trial.FixedTrial(t.params)
        assert (suggest(sp, fixed).keys() == g.keys()).all()
        study.tell(t, 0.0)
