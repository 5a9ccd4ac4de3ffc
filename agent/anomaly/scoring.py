"""`footfall-agent score`: backtest the anomaly detector on a CSV of counts.

Reads `timestamp,count` or `timestamp,sensor,count` (FILE, or stdin), runs the very detector the live
agent runs (`agent.anomaly.detector.AnomalyDetector.score_into`, one detector per sensor) and writes
`timestamp,sensor,count,expected,z,anomaly` to stdout: one row per input row, in input order, the same
output for the same input. The result for a row depends only on the rows before it, so the output can
be compared against what the agent would have published live.

Speed matters (years of data for dozens of sensors), so the input is read in blocks of whole lines and
handled column by column: the rows of a block are split, their timestamps and counts converted through
caches keyed by the text (interleaved sensors repeat timestamps, counts repeat anyway), each sensor's
rows are scored in one call that writes the verdicts back at their input positions, numbers are
formatted by table look-up, and the output cells are interleaved into one string per block. Only the
detector's loop runs per row in Python, so with several CPUs the sensors are dealt to helper processes
(`--jobs`): they score their sensors' rows of a block while this process scores its own, writes the
previous block and reads the next. A sensor stays with one process, so the output does not depend on it.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from agent.anomaly.detector import WEEK_S, AnomalyDetector
from agent.anomaly.score_workers import Helper, score_sensor
from agent.anomaly.settings import AnomalySettings

# Small enough that a block's columns (a few thousand rows) stay in the CPU cache between the passes over
# them: 256 KiB blocks score about 10 % faster than 2 MiB ones on hourly sensor data.
_CHUNK_CHARS = 1 << 18
_TS_CACHE_MAX = 200_000
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class InputError(Exception):
    """A problem with the input, reported as `line N: ...` with exit status 2."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


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
    """Per-sensor detector (or the helper process that holds it) and the last instant seen (for the order
    check)."""

    detector: AnomalyDetector | None
    helper: Helper | None = None
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


@dataclass
class _Block:
    """A chunk's rows between reading and writing: its columns, who scores which rows, and the verdicts."""

    stamps: list[str]
    names: list[str] | None
    ctexts: list[str]
    times: list[int]
    slots: list[int]
    counts: list[float | None]
    line_of: Callable[[int], int]

    def __post_init__(self) -> None:
        n = len(self.stamps)
        self.out_e: list[float | None] = [None] * n
        self.out_z: list[float | None] = [None] * n
        self.out_a = [False] * n
        self.out_f: list[str | None] = [None] * n
        self.bad: dict[str, int] = {}
        self.sensors: list[tuple[str, Sequence[int], _Sensor]] = []
        self.shares: dict[Helper, list[tuple[str, Sequence[int]]]] = {}


class Scorer:
    def __init__(
        self, settings: AnomalySettings, interval_s: int, default_sensor: str, faults: bool, jobs: int = 1
    ) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self.default_sensor = default_sensor
        self.faults = faults
        self.jobs = jobs
        self.helpers: list[Helper | None] = [None] * (jobs - 1)
        self.clock = _Clock(interval_s)
        self.sensors: dict[str, _Sensor] = {}
        self.three = False
        self.name_ids: dict[str, int] = {}
        self.count_cache: dict[str, float | None] = {}
        self.mids: dict[str, str] = {}
        self.pending: _Block | None = None

    def sensor(self, name: str) -> _Sensor:
        """The sensor's state. New sensors are dealt in turn to this process once and to each helper
        twice, as this process also reads, converts and writes every row."""
        st = self.sensors.get(name)
        if st is None:
            helpers = self.jobs - 1
            turn = len(self.sensors) % (2 * helpers + 1)
            if turn == 0:
                st = _Sensor(AnomalyDetector(self.settings, self.interval_s))
            else:
                k = (turn - 1) % helpers
                helper = self.helpers[k]
                if helper is None:
                    helper = self.helpers[k] = Helper(self.settings, self.interval_s)
                st = _Sensor(None, helper)
            self.sensors[name] = st
        return st

    def close(self) -> None:
        """Stop the helper processes (at the end, or after an error)."""
        for helper in self.helpers:
            if helper is not None:
                helper.close()
        self.helpers = [None] * (self.jobs - 1)

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
                self._flush(out)
                return
            # Cut after the last complete line ("\n", or a lone "\r" that is not the last character, as it
            # may be the first half of "\r\n"); the rest is carried into the next block.
            cut = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
            carry = text[cut:]
            if cut:
                lineno += self._chunk(text[:cut], lineno, out)

    # -- one chunk ------------------------------------------------------------------------------------------

    def _chunk(self, text: str, first: int, out: TextIO) -> int:
        """Parse a chunk of whole lines (`first` = line number of its first line), hand its rows to the
        detectors, then write the previous chunk; returns how many lines it had. The helpers thus score
        this chunk while this process writes the last one and reads the next. On bad input the rows
        before the bad line are still scored and written, then InputError is raised.

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
        names: list[str] | None = None
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
        block = _Block(stamps, names, ctexts, times, slots, counts, line_of)
        for name, rows_of in self._groups(names, n):
            st = self.sensor(name)
            block.sensors.append((name, rows_of, st))
            if st.helper is not None:
                block.shares.setdefault(st.helper, []).append((name, rows_of))

        # The helpers must have answered for the previous chunk before they take this one.
        previous = self.pending
        if previous is not None:
            self._collect(previous)
        for helper, share in block.shares.items():
            helper.send(times, counts, slots, share)
        columns = (block.out_e, block.out_z, block.out_a, block.out_f)
        for name, rows_of, st in block.sensors:
            if st.detector is not None:
                index = score_sensor(st.detector, times, counts, slots, rows_of, columns)
                if index is not None:
                    block.bad[name] = index
        self.pending = block
        if previous is not None:
            self._write(previous, out)
        return nlines

    def _groups(self, names: list[str] | None, n: int) -> list[tuple[str, Sequence[int]]]:
        """Rows of each sensor (in input order), as index lists into the chunk's columns."""
        if names is None:
            return [(self.default_sensor, range(n))]
        if names.count(names[0]) == n:
            return [(names[0], range(n))]
        if (k := _cycle(names)) is not None:
            # The usual layout: every timestamp lists the same sensors in the same order.
            return [(names[j], range(j, n, k)) for j in range(k)]
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
        return [(by_id[int(sorted_ids[a])], rows[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]

    def _collect(self, block: _Block) -> None:
        """Take the helpers' verdicts on a chunk into its output columns."""
        columns_out = (block.out_e, block.out_z, block.out_a, block.out_f)
        for helper, share in block.shares.items():
            for (name, rows_of), (columns, index) in zip(share, helper.receive(), strict=True):
                if index is not None:
                    block.bad[name] = index
                for column, values in zip(columns_out, columns, strict=True):
                    if isinstance(rows_of, range):
                        column[rows_of.start : rows_of.stop : rows_of.step] = values
                    else:
                        for i, value in zip(rows_of, values, strict=True):
                            column[i] = value
        block.shares = {}

    def _flush(self, out: TextIO) -> None:
        """Write the chunk still pending (at the end of the input, or before a bad line)."""
        block = self.pending
        if block is not None:
            self._collect(block)
            self.pending = None
            self._write(block, out)

    def _write(self, block: _Block, out: TextIO) -> None:
        """Write a scored chunk's rows in input order, up to a row out of time order (then raise)."""
        stamps, names, ctexts, counts, times, line_of = (
            block.stamps,
            block.names,
            block.ctexts,
            block.counts,
            block.times,
            block.line_of,
        )
        out_e, out_z, out_a, out_f = block.out_e, block.out_z, block.out_a, block.out_f
        n = len(stamps)
        stop = n
        message = ""
        for name, rows_of, st in block.sensors:
            index = block.bad.get(name)
            if index is None:
                st.last = times[rows_of[-1]]
                st.last_line = line_of(rows_of[-1])
            elif index < stop:
                stop = index
                pos = list(rows_of).index(index)
                before = line_of(rows_of[pos - 1]) if pos else st.last_line
                previous = times[rows_of[pos - 1]] if pos else st.last
                kind = "duplicate" if times[index] == previous else "backwards"
                message = (
                    f"{kind} timestamp {stamps[index]} for sensor {name!r} (previous row of that sensor: line {before})"
                )

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
        """Score and write the lines before the bad one (after the pending chunk), then raise."""
        self._flush(out)
        keep = error.line - first
        if keep > 0:
            self._chunk("".join(lines[:keep]), first, out)
            self._flush(out)
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
