"""`footfall-agent score`: backtest the anomaly detector on a CSV of counts.

Reads `timestamp,count` or `timestamp,sensor,count` (FILE, or stdin), runs the very detector the live
agent runs (`agent.anomaly.AnomalyDetector.score_into`, one detector per sensor) and writes
`timestamp,sensor,count,expected,z,anomaly` to stdout: one row per input row, in input order, the same
output for the same input. The result for a row depends only on the rows before it, so the output can
be compared against what the agent would have published live.

Speed matters (years of data for dozens of sensors), so the input is read in blocks of whole lines and
handled column by column: the rows of a block are split, their timestamps and counts converted through
caches keyed by the text (interleaved sensors repeat timestamps, counts repeat anyway), each sensor's
rows are scored in one call that writes the verdicts back at their input positions, numbers are
formatted by table look-up, and the output cells are interleaved into one string per block. Only the
detector's loop runs per row in Python.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import io
import math
import operator
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
from pydantic import ValidationError

from agent.anomaly import WEEK_S, AnomalyDetector, AnomalySettings, OrderError

EXIT_INPUT = 2
# Small enough that a block's columns (a few thousand rows) stay in the CPU cache between the passes over
# them: 256 KiB blocks score about 10 % faster than 2 MiB ones on hourly sensor data.
_CHUNK_CHARS = 1 << 18
_TS_CACHE_MAX = 200_000
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class InputError(Exception):
    """A problem with the input, reported as `line N: ...` with exit status 2."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _parse_interval(text: str) -> int:
    """`--interval` value: seconds, or a number with ms/s/m/h/d; must divide a day into whole seconds."""
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 3600, 15m, 1h)")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds < 1 or seconds != int(seconds) or 86400 % int(seconds):
        raise argparse.ArgumentTypeError(f"interval {text!r} must be whole seconds dividing a day (e.g. 15m, 1h)")
    return int(seconds)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `score`: the input, the interval grid and every detector setting (same names as in the
    config's `anomaly:` section, with dashes)."""
    parser.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="CSV with a header row: timestamp,count or timestamp,sensor,count (default: stdin)",
    )
    parser.add_argument(
        "--interval",
        type=_parse_interval,
        default=3600,
        metavar="DURATION",
        help="interval length of the data, e.g. 15m or 1h (default: 1h); timestamps must lie on its grid",
    )
    parser.add_argument(
        "--sensor",
        default="",
        metavar="NAME",
        help="sensor name written for timestamp,count input (default: empty)",
    )
    parser.add_argument(
        "--faults",
        action="store_true",
        help="add a seventh column `fault` (stuck-zero, flat-line, no-data, or empty)",
    )
    group = parser.add_argument_group("detector settings")
    for name, info in AnomalySettings.model_fields.items():
        if name == "enabled":
            continue
        kind = info.annotation if info.annotation in (int, float) else float
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=kind,
            default=None,
            metavar="N",
            help=f"{info.description} (default: {info.default})",
        )


def _settings(args: argparse.Namespace) -> AnomalySettings:
    overrides: dict[str, Any] = {}
    for name in AnomalySettings.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return AnomalySettings(**overrides)


class _Clock:
    """Timestamp text -> (instant for ordering, interval-of-week slot), validated against the grid.

    Accepted: `YYYY-MM-DD HH:MM`, `YYYY-MM-DDTHH:MM[:SS]` and any other ISO-8601 form that
    `datetime.fromisoformat` reads, with or without a UTC offset. The slot comes from the wall clock as
    written (so local opening hours keep their slot across daylight saving when the offset is given);
    the order check uses the instant, naive times being taken as they are.
    """

    def __init__(self, interval_s: int) -> None:
        self.interval_s = interval_s
        self._days: dict[str, int] = {}
        self._tods: dict[str, int] = {}
        self.instants: dict[str, int] = {}
        self.slots: dict[str, int] = {}

    def parse(self, text: str) -> tuple[int, int]:
        n = len(text)
        if (n == 16 or (n == 19 and text[16] == ":")) and text[10] in " T" and text[13] == ":":
            day = self._days.get(text[:10])
            if day is None:
                day = (dt.date.fromisoformat(text[:10]).toordinal() - _EPOCH_ORDINAL) * 86400
                self._days[text[:10]] = day
            tod = self._tods.get(text[11:])
            if tod is None:
                hh = int(text[11:13])
                mm = int(text[14:16])
                ss = int(text[17:19]) if n == 19 else 0
                if not (0 <= hh < 24 and 0 <= mm < 60 and 0 <= ss < 60):
                    raise ValueError("time of day out of range")
                tod = self._tods[text[11:]] = hh * 3600 + mm * 60 + ss
            wall = day + tod
            instant = wall
        else:
            stamp = dt.datetime.fromisoformat(text)
            naive = stamp.replace(tzinfo=None)
            tod = naive.hour * 3600 + naive.minute * 60 + naive.second
            wall = (naive.toordinal() - _EPOCH_ORDINAL) * 86400 + tod
            if naive.microsecond:
                raise ValueError("fractions of a second are not on any interval grid")
            instant = wall if stamp.tzinfo is None else int(stamp.timestamp())
        if tod % self.interval_s:
            raise _OffGrid()
        return instant, ((wall + 3 * 86400) % WEEK_S) // self.interval_s


class _OffGrid(ValueError):
    pass


def _parse_count(text: str) -> float | None:
    if text == "":
        return None
    try:
        value: float = int(text)
    except ValueError:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"count {text!r} is not a number") from None
    if value < 0:
        raise ValueError(f"count {text!r} is negative")
    return value


def _quote(name: str) -> str:
    if any(ch in name for ch in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


@dataclass
class _Sensor:
    """Per-sensor detector and the last instant seen (for the order check)."""

    detector: AnomalyDetector
    last: int | None = None
    last_line: int = 0


def _positions(values: list[Any], target: object) -> list[int]:
    """Indices of `target` in `values`, found by C-level scans (it is rare: warm-up, gaps, anomalies)."""
    found: list[int] = []
    i = -1
    index = values.index
    try:
        while True:
            i = index(target, i + 1)
            found.append(i)
    except ValueError:
        return found


def _no_line(row: int) -> int:
    return row


def _cycle(names: list[str]) -> int | None:
    """Period k if `names` repeats its first k (distinct) names throughout, else None."""
    try:
        k = names.index(names[0], 1)
    except ValueError:
        return None
    if len(set(names[:k])) != k or names[k:] != names[:-k]:
        return None
    return k


class _Tables:
    """Number formatting by table look-up: formatting floats one by one costs more than the detector.

    Values are scaled to integers with numpy (rint), looked up in tables of ready-made strings (numpy
    object arrays, so the look-up is one `take`), and the rare value outside the tables is formatted
    directly. Built on first use, not at import.
    """

    _TENTHS_MAX = 100_000  # expected counts up to 9999.9 by table
    _HUNDREDTHS_MAX = 10_000  # |z| up to 99.99 by table

    def __init__(self) -> None:
        self._tenths: np.ndarray | None = None
        self._hundredths: np.ndarray | None = None
        self._suffixed: dict[str, np.ndarray] = {}

    @property
    def tenths(self) -> np.ndarray:
        if self._tenths is None:
            self._tenths = np.array([f",{i // 10}.{i % 10}" for i in range(self._TENTHS_MAX)], dtype=object)
        return self._tenths

    @property
    def hundredths(self) -> np.ndarray:
        if self._hundredths is None:
            half = self._HUNDREDTHS_MAX
            neg = [f",-{i // 100}.{i % 100:02d}" for i in range(half, 0, -1)]
            pos = [f",{i // 100}.{i % 100:02d}" for i in range(half)]
            self._hundredths = np.array(neg + pos, dtype=object)
        return self._hundredths

    def hundredths_then(self, suffix: str) -> np.ndarray:
        """The hundredths table with `suffix` after every entry."""
        table = self._suffixed.get(suffix)
        if table is None:
            table = self._suffixed[suffix] = self.hundredths + suffix
        return table

    def format(self, values: list[float], scale: int, table: np.ndarray, fallback: str) -> list[str]:
        """Strings of `values` at 1/scale resolution (rounded half to even, like the fallback format), each
        with a leading comma."""
        offset = self._HUNDREDTHS_MAX if scale == 100 else 0
        idx = np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64) + offset
        out_of_range = (idx < 0) | (idx >= len(table))
        if out_of_range.any():
            idx[out_of_range] = 0
            strings: list[str] = table.take(idx).tolist()
            for i in np.flatnonzero(out_of_range).tolist():
                strings[i] = fallback % values[i]
            return strings
        return table.take(idx).tolist()


_TABLES = _Tables()


class _Scorer:
    def __init__(self, settings: AnomalySettings, interval_s: int, default_sensor: str, faults: bool) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self.default_sensor = default_sensor
        self.faults = faults
        self.clock = _Clock(interval_s)
        self.sensors: dict[str, _Sensor] = {}
        self.three = False
        self.name_ids: dict[str, int] = {}
        self.count_cache: dict[str, float | None] = {}
        self.mids: dict[str, str] = {}

    def sensor(self, name: str) -> _Sensor:
        st = self.sensors.get(name)
        if st is None:
            st = self.sensors[name] = _Sensor(AnomalyDetector(self.settings, self.interval_s))
        return st

    def run(self, source: TextIO, out: TextIO) -> None:
        """Score all rows; raises InputError after writing the output of every row before the bad one."""
        header_line = source.readline()
        if not header_line:
            raise InputError(1, "empty input: expected a header row timestamp,count or timestamp,sensor,count")
        header = [h.strip().lower() for h in next(csv.reader([header_line.lstrip("\ufeff")]), [])]
        if header == ["timestamp", "count"]:
            self.three = False
        elif header == ["timestamp", "sensor", "count"]:
            self.three = True
        else:
            got = header_line.strip()
            raise InputError(1, f"header must be timestamp,count or timestamp,sensor,count, not {got!r}")
        columns = "timestamp,sensor,count,expected,z,anomaly"
        out.write(columns + (",fault\n" if self.faults else "\n"))
        lineno = 2
        carry = ""
        while True:
            block = source.read(_CHUNK_CHARS)
            text = carry + block if carry else block
            if not block:
                if text:
                    self._chunk(text, lineno, out)
                return
            # Cut after the last complete line ("\n", or a lone "\r" that is not the last character, as it
            # may be the first half of "\r\n"); the rest is carried into the next block.
            cut = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
            carry = text[cut:]
            if cut:
                lineno += self._chunk(text[:cut], lineno, out)

    # -- one chunk ------------------------------------------------------------------------------------------

    def _chunk(self, text: str, first: int, out: TextIO) -> int:
        """Parse, check, score and write a chunk of whole lines (`first` = line number of its first line)
        and return how many lines it had. On bad input the rows before the bad line are still scored and
        written, then InputError is raised.

        The common case (no quotes, no blank lines, integer counts) is handled column-wise by C-level
        operations; anything else goes through a line-by-line path that names the offending line.
        """
        ncols = 3 if self.three else 2
        parsed = None
        raw = text
        if "\r" in text:
            # Lines end at "\n", "\r" or "\r\n", as when reading the file line by line.
            nlines = len(io.StringIO(text, newline="").readlines())
            text = text.replace("\r", "")
        else:
            nlines = text.count("\n") + (not text.endswith("\n"))
        if '"' not in text and text.count(",") == (ncols - 1) * nlines:
            fields = (text[:-1] if text.endswith("\n") else text).replace("\n", ",").split(",")
            if len(fields) == ncols * nlines:
                stamps = fields[0::ncols]
                names = fields[1::ncols] if self.three else None
                ctexts = fields[ncols - 1 :: ncols]
                parsed = self._parse_columns(stamps, ctexts)
        if parsed is None:
            lines = io.StringIO(raw, newline="").readlines()
            stamps, names, ctexts, linenos, error = self._split_lines(lines, first)
            if error is not None:
                self._partial(lines, first, error, out)
            line_of = linenos.__getitem__
            parsed = self._parse_columns(stamps, ctexts, line_of)
            if isinstance(parsed, InputError):
                self._partial(lines, first, parsed, out)
        else:
            line_of = functools.partial(operator.add, first)
        assert not isinstance(parsed, InputError)
        times, slots, counts = parsed
        n = len(stamps)
        if n == 0:
            return nlines

        # Rows of each sensor (in input order), as index lists into the chunk's columns.
        groups: list[tuple[str, Sequence[int]]]
        if names is None:
            groups = [(self.default_sensor, range(n))]
        elif names.count(names[0]) == n:
            groups = [(names[0], range(n))]
        elif (k := _cycle(names)) is not None:
            # The usual layout: every timestamp lists the same sensors in the same order.
            groups = [(names[j], range(j, n, k)) for j in range(k)]
        else:
            ids = self.name_ids
            for name in set(names).difference(ids):
                ids[name] = len(ids)
            by_id = {v: k for k, v in ids.items()}
            # Small integer ids let numpy's stable sort use a radix sort.
            kind = np.uint8 if len(ids) <= 0xFF else (np.uint16 if len(ids) <= 0xFFFF else np.int64)
            id_arr = np.fromiter(map(ids.__getitem__, names), dtype=kind, count=n)
            order = np.argsort(id_arr, kind="stable")
            sorted_ids = id_arr[order]
            cuts = [0, *(np.flatnonzero(np.diff(sorted_ids)) + 1).tolist(), n]
            rows = order.tolist()
            groups = [(by_id[int(sorted_ids[a])], rows[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]

        out_e: list[float | None] = [None] * n
        out_z: list[float | None] = [None] * n
        out_a = [False] * n
        out_f: list[str | None] = [None] * n
        stop = n
        message = ""
        for name, rows_of in groups:
            st = self.sensor(name)
            try:
                st.detector.score_into(times, counts, slots, rows_of, out_e, out_z, out_a, out_f)
            except OrderError as e:
                if e.index < stop:
                    stop = e.index
                    pos = list(rows_of).index(e.index)
                    before = line_of(rows_of[pos - 1]) if pos else st.last_line
                    previous = times[rows_of[pos - 1]] if pos else st.last
                    kind = "duplicate" if times[e.index] == previous else "backwards"
                    message = (
                        f"{kind} timestamp {stamps[e.index]} for sensor {name!r}"
                        f" (previous row of that sensor: line {before})"
                    )
                continue
            st.last = times[rows_of[-1]]
            st.last_line = line_of(rows_of[-1])

        # Write the rows in input order (up to a bad one).
        if stop < n:
            del stamps[stop:], ctexts[stop:], out_e[stop:], out_z[stop:], out_a[stop:], out_f[stop:]
            counts = counts[:stop]
            if names is not None:
                del names[stop:]
        # Warm-up and missing data: format as if 0, then blank those cells (cheaper than a slow path).
        blank = _positions(out_z, None)
        keep_expected = [out_e[i] is not None and counts[i] is not None for i in blank]
        for i in blank:
            out_z[i] = 0.0
            if out_e[i] is None:
                out_e[i] = 0.0
        rows_out = len(stamps)
        exp_s = _TABLES.format(out_e, 10, _TABLES.tenths, ",%.1f")
        # z and the anomaly flag are one cell: the table holds z with ",false" after it, and the few
        # flagged rows are patched.
        false, true = (",false", ",true") if self.faults else (",false\n", ",true\n")
        zf_s = _TABLES.format(out_z, 100, _TABLES.hundredths_then(false), ",%.2f" + false)
        cut = -len(false)
        for i in _positions(out_a, True):
            zf_s[i] = zf_s[i][:cut] + true
        empty = ",," if self.faults else ",,\n"
        for i, keep in zip(blank, keep_expected, strict=True):
            zf_s[i] = empty
            if not keep:
                exp_s[i] = ","
        # Output cells carry their leading comma (and the last one the newline), so the block's output is
        # one "".join over the columns interleaved by slice assignment, with no per-row join; the sensor
        # cell comes with the commas around it, one string per sensor.
        mid_of = self.mids
        if names is None:
            mids = [mid_of.setdefault(self.default_sensor, "," + _quote(self.default_sensor) + ",")] * rows_out
        else:
            for name in set(names).difference(mid_of):
                mid_of[name] = "," + _quote(name) + ","
            mids = list(map(mid_of.__getitem__, names))
        cols: list[list[str]] = [stamps, mids, ctexts, exp_s, zf_s]
        if self.faults:
            cols.append([",\n" if f is None else "," + f + "\n" for f in out_f])
        if rows_out:
            width = len(cols)
            parts: list[str] = [""] * (width * rows_out)
            for k, col in enumerate(cols):
                parts[k::width] = col
            out.write("".join(parts))
        if stop < n:
            raise InputError(line_of(stop), message)
        return nlines

    def _parse_columns(
        self, stamps: list[str], ctexts: list[str], line_of: Callable[[int], int] | None = None
    ) -> tuple[list[int], list[int], list[float | None]] | InputError | None:
        """Instants, slots and counts of the rows. Without `line_of` (fast path) any problem returns None
        so the caller can retry line by line; with it, the first problem is returned as an InputError."""
        clock = self.clock
        cache_t = clock.instants
        cache_s = clock.slots
        if len(cache_t) > _TS_CACHE_MAX:
            cache_t.clear()
            cache_s.clear()
        # Look-ups first: a miss (new timestamps, in nearly every chunk) costs one failed pass at most.
        try:
            times = list(map(cache_t.__getitem__, stamps))
        except KeyError:
            for stamp in set(stamps).difference(cache_t):
                try:
                    cache_t[stamp], cache_s[stamp] = clock.parse(stamp)
                except ValueError as e:
                    if line_of is None:
                        return None
                    if isinstance(e, _OffGrid):
                        msg = f"timestamp {stamp!r} is not on the {self.interval_s} s interval grid (see --interval)"
                    else:
                        msg = f"cannot read timestamp {stamp!r}: {e}"
                    return InputError(line_of(stamps.index(stamp)), msg)
            times = list(map(cache_t.__getitem__, stamps))
        slots = list(map(cache_s.__getitem__, stamps))
        # Counts repeat a lot too: each distinct text is converted once.
        cache_c = self.count_cache
        if len(cache_c) > _TS_CACHE_MAX:
            cache_c.clear()
        try:
            counts: list[float | None] = list(map(cache_c.__getitem__, ctexts))
        except KeyError:
            for ctext in set(ctexts).difference(cache_c):
                try:
                    cache_c[ctext] = _parse_count(ctext)
                except ValueError as e:
                    if line_of is None:
                        return None
                    return InputError(line_of(ctexts.index(ctext)), str(e))
            counts = list(map(cache_c.__getitem__, ctexts))
        return times, slots, counts

    def _partial(self, lines: list[str], first: int, error: InputError, out: TextIO) -> None:
        """Score the lines before the bad one, then raise."""
        keep = error.line - first
        if keep > 0:
            self._chunk("".join(lines[:keep]), first, out)
        raise error

    def _split_lines(
        self, lines: list[str], first: int
    ) -> tuple[list[str], list[str] | None, list[str], list[int], InputError | None]:
        """Field-by-field split for chunks with quotes, blank lines or malformed rows."""
        ncols = 3 if self.three else 2
        want = "timestamp,sensor,count" if self.three else "timestamp,count"
        stamps: list[str] = []
        names: list[str] = []
        ctexts: list[str] = []
        linenos: list[int] = []
        for k, raw in enumerate(lines):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                fields = next(csv.reader([text])) if '"' in text else text.split(",")
            except csv.Error as e:
                return stamps, names, ctexts, linenos, InputError(first + k, f"malformed CSV: {e}")
            if len(fields) != ncols:
                return (
                    stamps,
                    names,
                    ctexts,
                    linenos,
                    InputError(first + k, f"expected {ncols} fields ({want}), got {len(fields)}: {text!r}"),
                )
            stamps.append(fields[0])
            if self.three:
                names.append(fields[1])
            ctexts.append(fields[-1])
            linenos.append(first + k)
        return stamps, (names if self.three else None), ctexts, linenos, None


def run(args: argparse.Namespace) -> int:
    """Entry point of `footfall-agent score`; 0 on success, 2 on unusable input or options."""
    try:
        settings = _settings(args)
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"])
            print(f"score: --{loc.replace('_', '-')}: {err['msg']}", file=sys.stderr)
        return EXIT_INPUT
    try:
        source: TextIO = (
            open(args.file, encoding="utf-8", newline="")
            if args.file
            else io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="")
        )
    except OSError as e:
        print(f"score: {args.file}: {e.strerror}", file=sys.stderr)
        return EXIT_INPUT
    scorer = _Scorer(settings, args.interval, args.sensor, args.faults)
    name = args.file or "<stdin>"
    try:
        with source:
            scorer.run(source, sys.stdout)
        sys.stdout.flush()
    except InputError as e:
        sys.stdout.flush()
        print(f"score: {name}: {e}", file=sys.stderr)
        return EXIT_INPUT
    except UnicodeDecodeError as e:
        sys.stdout.flush()
        print(f"score: {name}: not UTF-8 text: {e.reason}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0
