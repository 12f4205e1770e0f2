"""Directives and dataflows: levels, structure, text form and validation."""

import pytest

from costmodel.dataflow import MAX_CLUSTERS, Cluster, Dataflow, SpatialMap, TemporalMap
from costmodel.errors import MaestroInputError
from tests import reference as ref

KCP = Dataflow([SpatialMap(1, 1, "K"), TemporalMap(64, 64, "C"), Cluster(64, "P"),
                SpatialMap(1, 1, "C"), TemporalMap(3, 1, "R")])


def test_levels_split_at_clusters_outer_first():
    assert KCP.num_levels == 2 and KCP.cluster_sizes == (64,)
    assert KCP.levels() == [[SpatialMap(1, 1, "K"), TemporalMap(64, 64, "C")],
                            [SpatialMap(1, 1, "C"), TemporalMap(3, 1, "R")]]
    assert Dataflow([TemporalMap(1, 1, "K")]).levels() == [[TemporalMap(1, 1, "K")]]


def test_structure_drops_sizes():
    assert KCP.structure == (("S", "K"), ("T", "C"), ("C", ""), ("S", "C"), ("T", "R"))
    other = Dataflow([SpatialMap(2, 2, "K"), TemporalMap(8, 8, "C"), Cluster(16),
                      SpatialMap(1, 1, "C"), TemporalMap(1, 1, "R")])
    assert other.structure == KCP.structure and other != KCP


def test_text_form_parses_back_to_the_same_dataflow():
    text = str(KCP)
    assert text.startswith("SpatialMap(1,1) K; TemporalMap(64,64) C; Cluster(64,P)")
    assert ref.parse_dataflow(text) == KCP
    assert str(Dataflow(KCP.directives, l2_resident=2)).endswith("; L2Resident(2)")


def test_directives_are_stored_as_a_hashable_tuple():
    assert isinstance(KCP.directives, tuple)
    assert hash(Dataflow(list(KCP.directives))) == hash(KCP)


@pytest.mark.parametrize("directives,rule", [
    ([TemporalMap(0, 1, "K")], "positive-size"),
    ([SpatialMap(1, 0, "K")], "positive-size"),
    ([Cluster(0)], "positive-size"),
    ([TemporalMap(1, 1, "K"), *[Cluster(2)] * (MAX_CLUSTERS + 1)], "cluster-count"),
])
def test_invalid_dataflows_are_rejected(directives, rule):
    with pytest.raises(MaestroInputError) as e:
        Dataflow(directives)
    assert e.value.rule == rule


def test_l2_resident_must_be_a_non_negative_count():
    with pytest.raises(MaestroInputError, match="L2Resident"):
        Dataflow([TemporalMap(1, 1, "K")], l2_resident=-1, l2_resident_line=7)
    assert Dataflow([TemporalMap(1, 1, "K")], l2_resident=0).l2_resident == 0
