"""Line dialects of serial counters: every preset and custom regexes, including the garbage they must refuse."""

from __future__ import annotations

import pytest

from agent.sources.line_protocol import (
    IMPLAUSIBLE,
    PRESETS,
    Increment,
    LineParser,
    Totals,
    compile_pattern,
    max_total,
)

IN_VALUES = ["IN", "I", "ENTER", "E", "+"]
OUT_VALUES = ["OUT", "O", "EXIT", "X", "-"]

PRESET_CASES: list[tuple[str, str, Increment | Totals | None]] = [
    ("event", "IN 1", Increment(1, 0)),
    ("event", "OUT 2", Increment(0, 2)),
    ("event", "in", Increment(1, 0)),
    ("event", "OUT", Increment(0, 1)),
    ("event", "  IN 3  ", Increment(3, 0)),
    ("event", "IN 1\r", Increment(1, 0)),
    ("event", "out 4\r\n", Increment(0, 4)),
    ("event", "Enter", Increment(1, 0)),
    ("event", "exit 2", Increment(0, 2)),
    ("event", "+", Increment(1, 0)),
    ("event", "-", Increment(0, 1)),
    ("event", "+ 5", Increment(5, 0)),
    ("event", "IN:2", Increment(2, 0)),
    ("event", "IN 0", Increment(0, 0)),
    ("event", "SIDEWAYS 1", None),
    ("event", "IN -1", None),
    ("event", "IN 1 2", None),
    ("event", "IN x", None),
    ("event", "", None),
    ("event", "   ", None),
    ("event", "\x00\x13IN", None),
    ("cumulative-kv", "in=1042,out=1017", Totals(1042, 1017)),
    ("cumulative-kv", "IN:1042;OUT:1017", Totals(1042, 1017)),
    ("cumulative-kv", "in=1042 out=1017", Totals(1042, 1017)),
    ("cumulative-kv", "out=1017,in=1042", Totals(1042, 1017)),
    ("cumulative-kv", "  in = 5 , out = 6 \r", Totals(5, 6)),
    ("cumulative-kv", "id=7,in=1042,out=1017,temp=21", Totals(1042, 1017)),
    ("cumulative-kv", "in=1042", None),
    ("cumulative-kv", "in=abc,out=1", None),
    ("cumulative-kv", "login=5,timeout=6", None),
    ("cumulative-kv", "in=12a,out=3", None),
    ("cumulative-kv", "IN 1", None),
    ("cumulative-csv", "1042,1017", Totals(1042, 1017)),
    ("cumulative-csv", " 1042 , 1017 \r", Totals(1042, 1017)),
    ("cumulative-csv", "1042;1017", Totals(1042, 1017)),
    ("cumulative-csv", "0,0", Totals(0, 0)),
    ("cumulative-csv", "1042", None),
    ("cumulative-csv", "1042,1017,5", None),
    ("cumulative-csv", "-1,5", None),
    ("cumulative-csv", "a,b", None),
    ("cumulative-json", '{"in": 1042, "out": 1017}', Totals(1042, 1017)),
    ("cumulative-json", '{"out": 1017, "in": 1042}', Totals(1042, 1017)),
    ("cumulative-json", '{"uptime": 5, "out":1017,"fw":"1.4","in":1042}', Totals(1042, 1017)),
    ("cumulative-json", '{"in_total": 9, "in": 1, "out": 2}', Totals(1, 2)),
    ("cumulative-json", '{"in": "1042", "out": "1017"}', Totals(1042, 1017)),
    ("cumulative-json", '  {"in": 1, "out": 2}\r', Totals(1, 2)),
    ("cumulative-json", '{"in": 1042}', None),
    ("cumulative-json", '{"in": 1042, "out": 1017', None),
    ("cumulative-json", '{"in": -1, "out": 2}', None),
    ("cumulative-json", "in=1,out=2", None),
]


@pytest.mark.parametrize(("preset", "line", "expected"), PRESET_CASES)
def test_presets(preset: str, line: str, expected: Increment | Totals | None) -> None:
    assert LineParser(PRESETS[preset], IN_VALUES, OUT_VALUES).parse(line) == expected


def test_every_preset_is_exercised() -> None:
    assert {preset for preset, _, _ in PRESET_CASES} == set(PRESETS)


CUSTOM_CASES: list[tuple[str, list[str], list[str], str, Increment | Totals | None]] = [
    (r"EVT;(?P<direction>[A-Z]+);(?P<count>\d+)", ["ENTRY"], ["LEAVE"], "EVT;ENTRY;2", Increment(2, 0)),
    (r"EVT;(?P<direction>[A-Z]+);(?P<count>\d+)", ["ENTRY"], ["LEAVE"], "EVT;LEAVE;1", Increment(0, 1)),
    (r"EVT;(?P<direction>[A-Z]+);(?P<count>\d+)", ["ENTRY"], ["LEAVE"], "EVT;OTHER;1", None),
    (r"EVT;(?P<direction>[A-Za-z]+)", ["entry"], ["leave"], "EVT;ENTRY", Increment(1, 0)),
    (r"EVT;(?P<direction>[A-Za-z]+)", ["ENTRY"], ["LEAVE"], "evt;leave", None),
    (r"(?P<direction>A|B)(?: (?P<count>\d+))?", ["A"], ["B"], "B", Increment(0, 1)),
    (r"(?P<direction>\w+)?!", ["A"], ["B"], "!", None),
    (r"(?P<direction>\w+) (?P<count>\S+)", ["A"], ["B"], "A many", None),
    (r"(?P<direction>\w+) (?P<count>-?\d+)", ["A"], ["B"], "A -3", None),
    (r"T (?P<out>\d+)/(?P<in>\d+)", [], [], "T 7/9", Totals(9, 7)),
    (r"T (?P<out>\d+)/(?P<in>\d+)?", [], [], "T 7/", None),
]


@pytest.mark.parametrize(("pattern", "ins", "outs", "line", "expected"), CUSTOM_CASES)
def test_custom_patterns(
    pattern: str, ins: list[str], outs: list[str], line: str, expected: Increment | Totals | None
) -> None:
    assert LineParser(pattern, ins, outs).parse(line) == expected


BAD_PATTERNS: list[tuple[str, list[str], list[str], str]] = [
    ("(?P<direction>", IN_VALUES, OUT_VALUES, "invalid regex: missing ), unterminated subpattern"),
    (r"(\d+),(\d+)", IN_VALUES, OUT_VALUES, "regex needs named groups"),
    (r"(?P<in>\d+)", IN_VALUES, OUT_VALUES, "no (?P<out>...) group"),
    (r"(?P<out>\d+)", IN_VALUES, OUT_VALUES, "no (?P<in>...) group"),
    (r"(?P<direction>\w+) (?P<in>\d+) (?P<out>\d+)", IN_VALUES, OUT_VALUES, "use one style"),
    (r"(?P<in>\d+),(?P<out>\d+),(?P<count>\d+)", IN_VALUES, OUT_VALUES, "'count' group only makes sense"),
    (r"(?P<direction>\w+)", ["IN", "Both"], ["OUT", "BOTH"], "values listed as both in and out: both"),
    (r"(?P<direction>\w+)", [], OUT_VALUES, "must each name at least one value"),
]


@pytest.mark.parametrize(("pattern", "ins", "outs", "message"), BAD_PATTERNS)
def test_unusable_patterns_raise_value_error(pattern: str, ins: list[str], outs: list[str], message: str) -> None:
    with pytest.raises(ValueError) as info:
        LineParser(pattern, ins, outs)
    assert message in str(info.value)


def test_compile_pattern_returns_the_compiled_regex() -> None:
    assert compile_pattern(PRESETS["cumulative-csv"]).fullmatch("1,2") is not None


@pytest.mark.parametrize(("preset", "events"), [("event", True), ("cumulative-kv", False), ("cumulative-json", False)])
def test_parser_reports_its_style(preset: str, events: bool) -> None:
    assert LineParser(PRESETS[preset], IN_VALUES, OUT_VALUES).events is events


def test_counts_above_the_bound_are_implausible_not_garbage() -> None:
    parser = LineParser(PRESETS["event"], IN_VALUES, OUT_VALUES, max_count=1000)
    assert parser.parse("IN 1000") == Increment(1000, 0)
    assert parser.parse("IN 1001") is IMPLAUSIBLE
    assert parser.parse("IN 999999999999999999999") is IMPLAUSIBLE
    assert parser.parse("OUT " + "9" * 5000) is IMPLAUSIBLE


@pytest.mark.parametrize(
    ("bits", "line", "expected"),
    [
        (16, "in=65535,out=0", Totals(65535, 0)),
        (16, "in=65536,out=0", IMPLAUSIBLE),
        (32, "in=1,out=4294967296", IMPLAUSIBLE),
        (64, "in=9223372036854775807,out=0", Totals(2**63 - 1, 0)),
        (64, "in=9223372036854775808,out=0", IMPLAUSIBLE),
    ],
)
def test_totals_beyond_the_register_or_int64_are_implausible(bits: int, line: str, expected: object) -> None:
    """Nothing larger than a signed 64-bit integer gets anywhere (SQLite and most consumers stop there)."""
    parser = LineParser(PRESETS["cumulative-kv"], IN_VALUES, OUT_VALUES, max_total=max_total(bits))
    assert parser.parse(line) == expected
