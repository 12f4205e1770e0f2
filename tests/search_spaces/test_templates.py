"""Templates and flexibility classes: restricted mapping spaces."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.analysis import evaluate
from search_spaces.templates import TEMPLATES, make_space

from .common import HW, LAYER


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_decode_to_their_dataflow_style(name):
    sp = make_space(LAYER, HW, name)
    g = sp.sample(np.random.default_rng(0), 10)
    t = TEMPLATES[name]
    for i in range(len(g)):
        df = sp.decode(g, i)
        levels = df.levels()
        assert len(levels) == len(t.orders)
        for lv, dirs in enumerate(levels):
            second = t.pars2[lv] if lv < len(t.pars2) else None
            want = [d for d in t.orders[lv] if d in (t.pars[lv], second)]
            assert [d.dim for d in dirs if d.kind == "S"] == want
            assert tuple(d.dim for d in dirs) == t.orders[lv]


def test_row_stationary_template_is_eyeriss_like():
    sp = make_space(LAYER, HW, "rs:T0O0P0S0")
    g = sp.sample(np.random.default_rng(0), 4)
    df = sp.decode(g, 0)
    inner = df.levels()[1]
    assert df.cluster_sizes == (3,)  # one PE per filter row
    assert [str(d) for d in inner if d.kind == "S"] == ["SpatialMap(1,1) Y", "SpatialMap(1,1) R"]
    rep = evaluate(LAYER, HW, df)
    assert rep.num_macs == LAYER.macs


def test_flexibility_class_fixes_axes():
    sp = make_space(LAYER, HW, "kcp_ws:T0O0P0S0")
    g = sp.sample(np.random.default_rng(0), 20)
    assert len(np.unique(g.keys())) == 1  # a fixed-function accelerator has one mapping
    sp = make_space(LAYER, HW, "kcp_ws:T1O1P0S0")
    g = sp.sample(np.random.default_rng(0), 50)
    assert (g.clusters[:, 1] == 64).all() and (g.par[:, 0] == sp.dims.index("K")).all()
    assert len(np.unique(g.order[:, 0], axis=0)) > 1


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError, match="unknown template"):
        make_space(LAYER, HW, "nope")
    with pytest.raises(ValueError, match="flexibility class"):
        make_space(LAYER, HW, "kcp_ws:T2")
