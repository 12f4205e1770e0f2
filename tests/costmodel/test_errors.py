"""Input errors say where the problem is and which rule it breaks."""

import pytest

from costmodel.errors import MaestroInputError, MappingError


@pytest.mark.parametrize("kw,text", [
    ({"source": "net.m", "line": 12, "rule": "dimension"}, "net.m:12: bad [dimension]"),
    ({"source": "net.m"}, "net.m: bad"),
    ({"line": 3}, "line 3: bad"),
    ({}, "bad"),
])
def test_message_names_file_line_and_rule(kw, text):
    e = MaestroInputError("bad", **kw)
    assert str(e) == text and e.args == (text,)
    assert (e.message, e.source, e.line, e.rule) == ("bad", kw.get("source"), kw.get("line"),
                                                     kw.get("rule"))


def test_mapping_error_is_an_input_error_and_a_value_error():
    with pytest.raises(ValueError, match=r"\[spatial\]"):
        raise MappingError("no spatial map", rule="spatial")
    assert issubclass(MappingError, MaestroInputError)
