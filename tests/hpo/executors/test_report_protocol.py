"""The command report protocol: writing lines, reading them back as they grow."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hpo._protocol import ProtocolError, ReportReader, format_report, parse_report, write_report


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_report(path, 0, {"loss": 0.5, "acc": 1})
    write_report(path, None, {"a": math.nan, "b": math.inf, "c": -math.inf})
    with ReportReader(path) as reader:
        first, second = reader.read()
    assert (first.line_number, first.step, first.metrics) == (1, 0, {"loss": 0.5, "acc": 1.0})
    assert second.step is None
    assert math.isnan(second.metrics["a"]) and second.metrics["b"] == math.inf
    assert second.metrics["c"] == -math.inf
    assert path.read_text().splitlines()[1] == '{"a": "nan", "b": "inf", "c": "-inf"}'


def test_reader_keeps_partial_lines_until_complete(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    reader = ReportReader(path)
    assert reader.read() == []  # no file yet
    with open(path, "w") as f:
        f.write('{"step": 1, "loss": 1}\n\n{"lo')
        f.flush()
        assert [r.metrics for r in reader.read()] == [{"loss": 1.0}]
        f.write('ss": 2}\n{"loss": 3}')
        f.flush()
        (line,) = reader.read()
        assert (line.line_number, line.metrics) == (3, {"loss": 2.0})
        assert reader.read() == []
        assert [r.metrics for r in reader.read(final=True)] == [{"loss": 3.0}]
    reader.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"loss": }', "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"step": -1, "loss": 1}', "'step' must be a non-negative integer"),
        ('{"step": 1.5, "loss": 1}', "'step' must be a non-negative integer"),
        ('{"loss": "high"}', "metric 'loss' must be a number"),
        ('{"loss": true}', "metric 'loss' must be a number"),
    ],
)
def test_malformed_lines(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_report(line)


def test_reader_error_names_line_and_keeps_good_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"loss": 1}\n{"loss": ' + "9" * 300 + ",}\n")
    with ReportReader(path) as reader, pytest.raises(ProtocolError) as caught:
        reader.read()
    assert caught.value.line_number == 2
    assert str(caught.value).startswith('malformed report line 2: \'{"loss": 999')
    assert "..." in str(caught.value)
    assert [r.metrics for r in caught.value.before] == [{"loss": 1.0}]


def test_accepted_spellings() -> None:
    step, metrics = parse_report('{"step": 2.0, "a": null, "b": "Infinity", "c": NaN, "d": 3}')
    assert step == 2
    assert math.isnan(metrics["a"]) and metrics["b"] == math.inf and math.isnan(metrics["c"])
    assert metrics["d"] == 3.0


def test_format_rejects_step_as_metric_name() -> None:
    with pytest.raises(ValueError, match="reserved"):
        format_report(None, {"step": 1.0})
