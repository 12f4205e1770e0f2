"""Property tests: any input either parses or raises MaestroInputError, quickly."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costmodel.errors import MaestroInputError
from costmodel.io import format_mapping, parse_hardware, parse_mapping
from costmodel.io.yaml_io import parse_hardware_yaml, parse_network_yaml

FUZZ = settings(max_examples=250, deadline=2000, database=None,
                suppress_health_check=[HealthCheck.too_slow])

VALID = [
    """// header
num_pes: 16
Constant T 4
Network Net {
\tLayer L0 {
\t\tType: CONV
\t\tStride { X: 2, Y: 2 }
\t\tDimensions { K: 16, C: 8, R: 3, S: 3, Y: 12, X: 12 }
\t\tDataflow {
\t\t\tTemporalMap(T,T) K;
\t\t\tSpatialMap(Sz(R),1) Y;
\t\t\tTemporalMap(Sz(S),1) X;
\t\t\tTemporalMap(Sz(R),Sz(R)) R;
\t\t\tTemporalMap(Sz(S),Sz(S)) S;
\t\t\tCluster(4, P);
\t\t\tSpatialMap(1,1) C;
\t\t\tTemporalMap(1,1) Y';
\t\t\tTemporalMap(Sz(R),Sz(R)) R;
\t\t}
\t}
\tLayer L1 {
\t\tType: CONV
\t\tDimensions { K: 4, C: 8, R: 3, S: 3, Y: 10, X: 10 }
\t}
\tLayer L2 {
\t\tType: GEMM
\t\tDimensions { M: 8, N: 4, K: 2 }
\t\tDataflow { SpatialMap(1,1) M; TemporalMap(2,2) K; Cluster(2,L); SpatialMap(1,1) N; }
\t}
}
""",
    """Layer A {
Type: FC
Dimensions { N: 2, K: 10, C: 20 }
Dataflow {
SpatialMap(1,1) K;
TemporalMap(4,4) C;
}
}
""",
]

VOCAB = ["Network", "Layer", "Type", "Stride", "Dimensions", "Dataflow", "Constant",
         "Accelerator", "TemporalMap", "SpatialMap", "Cluster", "Sz", "{", "}", "(", ")", ",",
         ";", ":", "//", "CONV", "GEMM", "FC", "POOL", "DSCONV", "NGCONV", "TRCONV", "P", "L",
         "K", "C", "R", "S", "Y", "X", "Y'", "X'", "N", "M", "G", "Q", "Y\u2019", "0", "1", "3",
         "-1", "2147483648", "T", "\n", "\r\n", " ", "\t", "Dataflow{", "num_pes"]


def check_mapping(text: str) -> None:
    """The property: a Network (which then round-trips through the writer) or our error."""
    try:
        net = parse_mapping(text, "fuzz.m")
    except MaestroInputError as exc:
        assert exc.source == "fuzz.m" and exc.rule and exc.line and exc.line >= 1
        return
    assert net.layers
    assert parse_mapping(format_mapping(net)) == net


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    check_mapping(text)


@FUZZ
@given(st.lists(st.sampled_from(VOCAB), max_size=80))
def test_token_soup(tokens):
    check_mapping(" ".join(tokens))


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["del_brace", "insert", "del_line", "dup_line", "del_char"]))
        lines = text.split("\n")
        if op == "del_brace":
            spots = [i for i, ch in enumerate(text) if ch in "{}"]
            if spots:
                i = draw(st.sampled_from(spots))
                text = text[:i] + text[i + 1:]
        elif op == "insert":
            i = draw(st.integers(0, len(text)))
            tok = draw(st.sampled_from(VOCAB) | st.text(max_size=4))
            text = text[:i] + f" {tok} " + text[i:]
        elif op in ("del_line", "dup_line"):
            i = draw(st.integers(0, len(lines) - 1))
            lines[i:i + 1] = [] if op == "del_line" else [lines[i], lines[i]]
            text = "\n".join(lines)
        elif text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1:]
    return text


def test_valid_seeds_parse():
    for text in VALID:
        check_mapping(text)
        assert parse_mapping(text).layers


@FUZZ
@given(mutated())
def test_mutated_valid_files(text):
    check_mapping(text)


@FUZZ
@given(st.lists(st.sampled_from(["num_pes", "l1_size_cstr", "NoC_NumHops", "num_simd_lanes",
                                 "noc_bw_cstr", ":", "0", "4", "1.5", "x", "\n", "//"]),
                max_size=20))
def test_hardware_text(tokens):
    try:
        hw = parse_hardware(" ".join(tokens), "hw.m")
    except MaestroInputError as exc:
        assert exc.line and exc.rule
        return
    assert hw.num_pes >= 1


@FUZZ
@given(st.text(alphabet="{}[]:,- \nabcKNRSXY'0123456789layersdimsnametype", max_size=120))
def test_yaml_text(text):
    for parse in (parse_network_yaml, parse_hardware_yaml):
        try:
            parse(text, "x.yaml")
        except MaestroInputError as exc:
            assert exc.source == "x.yaml"
