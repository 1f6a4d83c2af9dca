"""Compact records (observe/compact.py): the same JSON lines as their dicts."""

import json

from upstart.observe import jsonlog
from upstart.observe.compact import FINISHED, HANDLED, QUEUED, as_dict, encode_lines


def _dict_lines(records):
    return jsonlog.encode_lines([as_dict(r) if type(r) is tuple else r for r in records])


BY = {"uid": 1000, "pid": 4242, "cmd": "initctl emit \u00e9t\u00e9 \"q\"", "type": "emit"}
CASES = [
    (QUEUED, 1, 12.5, 1765000000.123456, 1, "go", [], BY),
    (QUEUED, 2, 0.000001, 1e-06, 2, "na\u00efve/\u2028\"x\"\\", ["A=1", "B=\n\r\t\x00", "C=\u00ff"],
     {"type": "job", "job": "j", "instance": "", "goal_cause": None, "start_cause": None}),
    (HANDLED, 3, 123456.654321, 1765000000.5, 2, "go"),
    (FINISHED, 4, 1e16, 1765000000.000001, 2, "go", ["A=1"], True),
    (FINISHED, 5, 3.0, 4.0, 1, "\U0001f600", [], False),
]


def test_compact_lines_are_the_dicts_lines_byte_for_byte():
    records = list(CASES) + [{"seq": 6, "mono": 1.0, "wall": 2.0, "kind": "state",
                              "job": "j", "instance": "", "state": "waiting"}] + list(CASES)
    assert encode_lines(records) == _dict_lines(records)
    for line, rec in zip(encode_lines(records), records):
        want = as_dict(rec) if type(rec) is tuple else rec
        assert json.loads(line) == json.loads(json.dumps(want))


def test_a_value_it_cannot_format_is_encoded_from_its_dict():
    odd = [(QUEUED, 1, 1.0, 2.0, 1, "go", ("A=1",), BY),        # a tuple env
           (FINISHED, 2, 1.0, 2.0, 1, "go", [], 1),                # not a bool
           (HANDLED, 3, float("nan"), 2.0, 1, "go"),
           (HANDLED, 4, 1.0, 2.0, 1, "go")]
    assert encode_lines(odd) == _dict_lines(odd)


def test_a_record_that_cannot_be_serialised_is_left_out():
    loop: dict = {"type": "init"}
    loop["self"] = loop
    records = [(HANDLED, 1, 1.0, 2.0, 1, "a"), (QUEUED, 2, 1.0, 2.0, 2, "b", [], loop),
               (HANDLED, 3, 1.0, 2.0, 2, "b")]
    lines = encode_lines(records)
    assert [json.loads(x)["seq"] for x in lines] == [1, 3]
