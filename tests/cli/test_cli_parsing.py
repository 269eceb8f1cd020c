"""The CLI's value parsers: durations and `--param` values (no subprocess, no database)."""

from __future__ import annotations

import math

import pytest

from conveyor.cli.jobs import parse_duration, parse_json_value


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10", 10), ("2.5", 2.5), ("10s", 10), ("5m", 300), ("2h", 7200), ("7d", 604_800), ("1.5h", 5400),
     ("1h30m", 5400), ("1w", 604_800), ("250ms", 0.25), (" 3M ", 180), ("0", 0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert math.isclose(parse_duration(text), seconds)


@pytest.mark.parametrize("text", ["", "s", "10x", "-5s", "5 m s", "1e3", "inf", "nan", "9" * 400])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("1.5", 1.5), ("true", True), ("null", None), ('{"a": [1]}', {"a": [1]}), ('"quoted"', "quoted"),
     ("hello", "hello"), ("", ""), ("NaN", "NaN"), ("Infinity", "Infinity"), ("a=b", "a=b"), ("[1,", "[1,")],
)
def test_param_values_are_json_when_they_parse(text: str, value: object) -> None:
    assert parse_json_value(text) == value
