"""`footfall-agent score` end to end through its own argument parser: CSV in, CSV out."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import math
import multiprocessing
import random
import sys
from pathlib import Path

import pytest

from agent.anomaly import score_workers, scoring
from agent.cli import score as score_command

T0 = dt.datetime(2024, 1, 1)  # a Monday


def counts_for(sensor: int, hours: int, seed: int = 1) -> list[int]:
    """A weekly pattern per sensor plus noise; sensor 1 is twice as busy as sensor 0."""
    rng = random.Random(seed * 100 + sensor)
    out = []
    for h in range(hours):
        hour = h % 24
        base = 2.0 if hour < 7 or hour > 21 else 40.0 + 160.0 * math.exp(-((hour - 13) ** 2) / 12.0)
        if (h // 24) % 7 == 5:
            base *= 1.4
        out.append(max(0, round(rng.gauss(base * (1 + sensor), math.sqrt(base * (1 + sensor)) * 1.5))))
    return out


def stamp(h: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return (T0 + dt.timedelta(hours=h)).strftime(fmt)


def table(sensors: int = 2, hours: int = 5 * 168, interleaved: bool = True) -> list[tuple[str, str, str]]:
    cols = {s: counts_for(s, hours) for s in range(sensors)}
    if interleaved:
        return [(stamp(h), f"door-{s}", str(cols[s][h])) for h in range(hours) for s in range(sensors)]
    return [(stamp(h), f"door-{s}", str(cols[s][h])) for s in range(sensors) for h in range(hours)]


def to_csv(rows: list[tuple[str, ...]], header: str = "timestamp,sensor,count") -> str:
    return header + "\n" + "".join(",".join(r) + "\n" for r in rows)


def score(
    text: str, *argv: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """Run `score` on `text` fed through stdin; returns (exit status, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="footfall-agent score")
    score_command.add_arguments(parser)
    args = parser.parse_args(list(argv))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))
    status = score_command.run(args)
    out, err = capsys.readouterr()
    return status, out, err


def parse(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


@pytest.fixture
def sc(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def call(text: str, *argv: str) -> tuple[int, str, str]:
        return score(text, *argv, capsys=capsys, monkeypatch=monkeypatch)

    return call


# -- shapes and layout ------------------------------------------------------------------------------------------


def test_two_column_input(sc) -> None:  # type: ignore[no-untyped-def]
    hours = 4 * 168
    values = counts_for(0, hours)
    status, out, err = sc(to_csv([(stamp(h), str(values[h])) for h in range(hours)], "timestamp,count"))
    assert status == 0, err
    rows = parse(out)
    assert out.splitlines()[0] == "timestamp,sensor,count,expected,z,anomaly"
    assert len(rows) == hours
    assert [r["count"] for r in rows] == [str(v) for v in values]
    assert {r["sensor"] for r in rows} == {""}
    assert rows[0]["expected"] == "" and rows[0]["z"] == ""
    assert all(r["z"] != "" for r in rows[3 * 168 :])
    assert {r["anomaly"] for r in rows[3 * 168 :]} <= {"true", "false"}


def test_sensor_name_option_and_file_argument(sc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "counts.csv"
    path.write_text(to_csv([(stamp(h), "5") for h in range(30)], "timestamp,count"))
    status, out, _ = sc("", str(path), "--sensor", "front door")
    assert status == 0
    assert {r["sensor"] for r in parse(out)} == {"front door"}


def test_blocks_and_interleaving_give_the_same_per_sensor_results(sc) -> None:  # type: ignore[no-untyped-def]
    _, inter, _ = sc(to_csv(table(3, interleaved=True)))
    _, blocks, _ = sc(to_csv(table(3, interleaved=False)))
    by_sensor = lambda out: {  # noqa: E731
        (r["sensor"], r["timestamp"]): (r["expected"], r["z"], r["anomaly"]) for r in parse(out)
    }
    assert by_sensor(inter) == by_sensor(blocks)
    rows = parse(inter)
    assert [r["sensor"] for r in rows[:6]] == ["door-0", "door-1", "door-2"] * 2  # input order kept
    assert len({r["expected"] for r in rows[-3:]}) == 3  # each sensor has its own model


def test_irregular_interleaving_gives_the_same_per_sensor_results(sc) -> None:  # type: ignore[no-untyped-def]
    blocks = table(3, interleaved=False)
    inter = table(3, interleaved=True)
    gone = inter.pop(1501)  # one sensor skips one hour: the rows no longer repeat one cycle of sensors
    inter[3:6] = [inter[4], inter[3], inter[5]]  # and one hour lists its sensors in another order
    _, mixed, _ = sc(to_csv(inter))
    _, block, _ = sc(to_csv([r for r in blocks if r != gone]))
    by_sensor = lambda out: {  # noqa: E731
        (r["sensor"], r["timestamp"]): (r["expected"], r["z"], r["anomaly"]) for r in parse(out)
    }
    assert by_sensor(mixed) == by_sensor(block)
    assert [r["sensor"] for r in parse(mixed)[3:6]] == ["door-1", "door-0", "door-2"]


def test_sensor_cycle() -> None:
    assert scoring._cycle(["a", "b", "c", "a", "b", "c", "a"]) == 3
    assert scoring._cycle(["a", "b", "a", "b"]) == 2
    assert scoring._cycle(["a", "b", "c", "a", "c", "b"]) is None
    assert scoring._cycle(["a", "b", "b", "a", "b", "b"]) is None
    assert scoring._cycle(["a", "b", "c"]) is None


def test_empty_count_is_echoed_without_expected_or_z(sc) -> None:  # type: ignore[no-untyped-def]
    rows = table(1, hours=4 * 168)
    gap = 3 * 168 + 12
    rows[gap] = (rows[gap][0], rows[gap][1], "")
    status, out, _ = sc(to_csv(rows), "--faults")
    assert status == 0
    got = parse(out)[gap]
    assert (got["count"], got["expected"], got["z"], got["anomaly"], got["fault"]) == ("", "", "", "", "no-data")
    assert parse(out)[gap + 1]["z"] != ""


@pytest.mark.parametrize(
    "fmt",
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S+13:00", "%Y-%m-%d %H:%M:%S"],
)
def test_timestamp_formats_agree(sc, fmt: str) -> None:  # type: ignore[no-untyped-def]
    hours = 4 * 168
    values = counts_for(1, hours)
    _, plain, _ = sc(to_csv([(stamp(h), str(values[h])) for h in range(hours)], "timestamp,count"))
    _, iso, _ = sc(to_csv([(stamp(h, fmt), str(values[h])) for h in range(hours)], "timestamp,count"))
    strip = lambda out: [(r["expected"], r["z"], r["anomaly"]) for r in parse(out)]  # noqa: E731
    assert strip(iso) == strip(plain)


def reference_clock(text: str, interval_s: int) -> tuple[int, int]:
    """(instant, slot) of a timestamp the slow way, through datetime: the slot from the wall clock as
    written, the instant from the offset when there is one."""
    stamp = dt.datetime.fromisoformat(text)
    wall = int(stamp.replace(tzinfo=dt.UTC).timestamp())
    instant = wall if stamp.tzinfo is None else int(stamp.timestamp())
    return instant, ((wall + 3 * 86400) % (7 * 86400)) // interval_s


def test_clock_fast_path_agrees_with_datetime() -> None:
    stamps = [
        "2024-01-01 00:00",
        "2024-01-01T13:15",
        "2024-02-29 23:45",
        "2024-02-29T23:45:00",
        "2031-12-31 23:45:00",
        "1999-03-01T07:30",
        # Pacific/Auckland: 02:00-02:59 on 2021-04-04 happened twice (+13:00, then +12:00); same wall
        # clock, so the same slot, but two instants an hour apart.
        "2021-04-04T02:00:00+13:00",
        "2021-04-04T02:00:00+12:00",
        "2021-09-26T03:00:00+13:00",
        "2024-06-01T09:15:00-04:00",
        "2024-06-01T09:15:00Z",
        "2024-06-01 09:15:00+05:45",
    ]
    for interval in (900, 3600):
        clock = scoring._Clock(interval)
        for text in stamps * 2:  # the second round comes from the caches
            if int(text[14:16]) * 60 % interval:
                with pytest.raises(ValueError):
                    clock.parse(text)
                continue
            assert clock.parse(text) == reference_clock(text, interval), text
    clock = scoring._Clock(3600)
    clock.parse("2024-01-01 12:00")
    for bad in ("2024-01-01 24:00", "2024-01-01 12:60", "2024-01-01 1a:00", "2024-01-01T12:00:60", "2024-13-01 12:00"):
        with pytest.raises(ValueError):
            clock.parse(bad)
    assert clock.parse("2024-01-02 12:00") == reference_clock("2024-01-02 12:00", 3600)


def test_quotes_crlf_blank_lines_and_decimal_counts(sc) -> None:  # type: ignore[no-untyped-def]
    rows = [(stamp(h), '"Queen St, north"', f"{h % 7}.0") for h in range(50)]
    text = to_csv(rows).replace("\n", "\r\n") + "\r\n"
    status, out, err = sc(text)
    assert status == 0, err
    got = parse(out)
    assert len(got) == 50 and {r["sensor"] for r in got} == {"Queen St, north"}
    assert got[10]["count"] == "3.0"


# -- errors ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "line", "words"),
    [
        (lambda rows: rows.__setitem__(7, (rows[6][0], rows[7][1], "3")), 9, "duplicate"),
        (lambda rows: rows.__setitem__(9, (stamp(1), rows[9][1], "3")), 11, "backwards"),
        (lambda rows: rows.__setitem__(4, (stamp(4)[:-2] + "30", rows[4][1], "3")), 6, "grid"),
        (lambda rows: rows.__setitem__(5, ("yesterday", rows[5][1], "3")), 7, "timestamp"),
        (lambda rows: rows.__setitem__(3, (rows[3][0], rows[3][1], "-4")), 5, "negative"),
        (lambda rows: rows.__setitem__(3, (rows[3][0], rows[3][1], "many")), 5, "many"),
        (lambda rows: rows.__setitem__(6, (rows[6][0], rows[6][1] + ",extra", "3")), 8, "fields"),
    ],
)
def test_bad_rows_exit_2_naming_the_line(sc, mutate, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    rows = [(stamp(h), "door", "5") for h in range(20)]
    mutate(rows)
    status, out, err = sc(to_csv(rows))
    assert status == 2
    assert f"line {line}:" in err and words in err
    assert len(parse(out)) == line - 2  # every row before the bad one is scored


def test_duplicate_within_one_sensor_only(sc) -> None:  # type: ignore[no-untyped-def]
    rows = [(stamp(0), "a", "1"), (stamp(0), "b", "1"), (stamp(1), "b", "2"), (stamp(1), "b", "3")]
    status, out, err = sc(to_csv(rows))
    assert status == 2 and "line 5:" in err and "'b'" in err and "line 4" in err
    assert len(parse(out)) == 3


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("", ()),
        ("time,count\n2024-01-01 00:00,1\n", ()),
        ("timestamp,count\n2024-01-01 00:00,1\n", ("--threshold", "-1")),
    ],
)
def test_unusable_input_or_options_exit_2(sc, text: str, argv: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    status, _, err = sc(text, *argv)
    assert status == 2 and err.startswith("score:")


def test_missing_file_exits_2(sc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    status, _, err = sc("", str(tmp_path / "nope.csv"))
    assert status == 2 and "nope.csv" in err


# -- streaming and determinism -----------------------------------------------------------------------------------


def test_output_of_a_row_does_not_depend_on_later_rows(sc) -> None:  # type: ignore[no-untyped-def]
    rows = table(2)
    _, full, _ = sc(to_csv(rows))
    cut = len(rows) * 2 // 3
    _, prefix, _ = sc(to_csv(rows[:cut]))
    altered = rows[:cut] + [(t, s, str(int(c) * 5 + 17)) for t, s, c in rows[cut:]]
    _, changed, _ = sc(to_csv(altered))
    assert full.splitlines()[: cut + 1] == prefix.splitlines()
    assert changed.splitlines()[: cut + 1] == prefix.splitlines()
    assert changed != full


def test_same_input_same_output(sc) -> None:  # type: ignore[no-untyped-def]
    text = to_csv(table(2))
    assert sc(text)[1] == sc(text)[1]


def test_chunking_does_not_change_the_output(sc, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    rows = table(3, hours=4 * 168)
    rows[1000] = (rows[1000][0], rows[1000][1], "")
    text = to_csv(rows)
    _, whole, _ = sc(text, "--faults")
    monkeypatch.setattr(scoring, "_CHUNK_CHARS", 700)
    _, chunked, _ = sc(text, "--faults")
    assert chunked == whole
    bad = rows[:1500] + [rows[1497]] + rows[1500:]  # sensor door-0 again at its previous timestamp
    status, out, err = sc(to_csv(bad), "--faults")
    assert status == 2 and "line 1502: duplicate" in err and "line 1499" in err
    assert out.splitlines() == whole.splitlines()[:1501]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("chunk", [5, 64, 700])
def test_line_endings_and_block_cuts_do_not_change_the_output(  # type: ignore[no-untyped-def]
    sc, monkeypatch: pytest.MonkeyPatch, ending: str, chunk: int
) -> None:
    rows = table(2, hours=4 * 168)
    _, whole, _ = sc(to_csv(rows), "--faults")
    text = to_csv(rows).replace("\n", ending)
    monkeypatch.setattr(scoring, "_CHUNK_CHARS", chunk)
    status, out, err = sc(text, "--faults")
    assert status == 0, err
    assert out == whole
    status, out, err = sc(text.rstrip(ending), "--faults")  # no line break after the last row
    assert status == 0, err
    assert out == whole
    bad = rows[:900] + [(rows[900][0], rows[900][1], "-1")] + rows[901:]
    status, out, err = sc(to_csv(bad).replace("\n", ending), "--faults")
    assert status == 2 and "line 902: count '-1' is negative" in err
    assert out.splitlines() == whole.splitlines()[:901]


# -- parallel scoring -------------------------------------------------------------------------------------------


class CountingHelper(score_workers.Helper):
    """The real helper process, counting the blocks it was given (so a test knows it did score)."""

    jobs = 0

    def send(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        CountingHelper.jobs += 1
        super().send(*args, **kwargs)


def irregular_table(sensors: int) -> list[tuple[str, str, str]]:
    rows = table(sensors, hours=4 * 168)
    rows.pop(1501)  # one sensor skips one hour, so the rows stop repeating one cycle of sensors
    rows[3 * sensors : 3 * sensors + 2] = [rows[3 * sensors + 1], rows[3 * sensors]]
    rows[1000] = (rows[1000][0], rows[1000][1], "")
    return rows


@pytest.mark.parametrize("jobs", ["2", "3", "5"])
@pytest.mark.parametrize("chunk", [700, 1 << 18])
def test_jobs_do_not_change_the_output(sc, monkeypatch: pytest.MonkeyPatch, jobs: str, chunk: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(scoring, "_CHUNK_CHARS", chunk)
    monkeypatch.setattr(scoring, "Helper", CountingHelper)
    for rows in (table(5), irregular_table(5), table(5, interleaved=False)):
        text = to_csv(rows)
        status, alone, err = sc(text, "--faults", "--jobs", "1")
        assert status == 0, err
        CountingHelper.jobs = 0
        status, out, err = sc(text, "--faults", "--jobs", jobs)
        assert status == 0, err
        assert out == alone
        assert CountingHelper.jobs > 0  # helpers scored some of the sensors
    assert not multiprocessing.active_children()  # and were stopped at the end


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        # door-1 and door-2 are scored by a helper, door-0 by the main process.
        (lambda rows: rows.insert(2401, rows[2398]), "duplicate timestamp"),
        (lambda rows: rows.insert(2402, (stamp(3), "door-2", "9")), "backwards timestamp"),
        (lambda rows: rows.insert(2400, (stamp(5), "door-0", "9")), "backwards timestamp"),
        (lambda rows: rows.__setitem__(2403, (rows[2403][0], "door-0", "-2")), "is negative"),
    ],
)
def test_jobs_do_not_change_the_errors(sc, monkeypatch: pytest.MonkeyPatch, mutate, words: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(scoring, "_CHUNK_CHARS", 2000)  # the bad row is many blocks in
    rows = table(3, hours=6 * 168)
    mutate(rows)
    text = to_csv(rows)
    alone = sc(text, "--jobs", "1")
    status, out, err = alone
    assert status == 2 and words in err
    assert len(parse(out)) > 2000  # the rows before the bad one are written
    for jobs in ("2", "3"):
        assert sc(text, "--jobs", jobs) == alone
    assert not multiprocessing.active_children()


def test_jobs_must_be_a_positive_number() -> None:
    parser = argparse.ArgumentParser()
    score_command.add_arguments(parser)
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--jobs", bad])
    assert parser.parse_args([]).jobs is None
    assert 1 <= score_command.default_jobs() <= 4


def test_detector_options_change_the_verdict(sc) -> None:  # type: ignore[no-untyped-def]
    text = to_csv(table(1))
    _, default, _ = sc(text)
    _, strict, _ = sc(text, "--threshold", "0.5", "--sustained-hours", "100")
    flags = lambda out: sum(r["anomaly"] == "true" for r in parse(out))  # noqa: E731
    assert flags(strict) > flags(default)
