"""The `footfall-agent score` subcommand: its options, and the run that reports bad input with exit status 2."""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
from typing import Any, TextIO

from pydantic import ValidationError

from agent.anomaly.score_workers import HelperLost
from agent.anomaly.scoring import InputError, Scorer
from agent.anomaly.settings import AnomalySettings

EXIT_INPUT = 2
_DEFAULT_JOBS_MAX = 4
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _parse_interval(text: str) -> int:
    """`--interval` value: seconds, or a number with ms/s/m/h/d; must divide a day into whole seconds."""
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 3600, 15m, 1h)")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds < 1 or seconds != int(seconds) or 86400 % int(seconds):
        raise argparse.ArgumentTypeError(f"interval {text!r} must be whole seconds dividing a day (e.g. 15m, 1h)")
    return int(seconds)


def _parse_jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be a whole number >= 1, not {text!r}")
    return jobs


def default_jobs() -> int:
    """Usable CPUs (the affinity mask, as a container or systemd may narrow it), at most _DEFAULT_JOBS_MAX:
    beyond that, handing out the blocks costs this process more than the helpers save."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(_DEFAULT_JOBS_MAX, cpus))


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
    parser.add_argument(
        "--jobs",
        type=_parse_jobs,
        default=None,
        metavar="N",
        help="processes that score sensors in parallel (default: the usable CPUs, at most "
        f"{_DEFAULT_JOBS_MAX}); the output does not depend on it",
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
    jobs = args.jobs if args.jobs is not None else default_jobs()
    scorer = Scorer(settings, args.interval, args.sensor, args.faults, jobs)
    name = args.file or "<stdin>"
    try:
        with source:
            try:
                scorer.run(source, sys.stdout)
            finally:
                scorer.close()
        sys.stdout.flush()
    except InputError as e:
        sys.stdout.flush()
        print(f"score: {name}: {e}", file=sys.stderr)
        return EXIT_INPUT
    except UnicodeDecodeError as e:
        sys.stdout.flush()
        print(f"score: {name}: not UTF-8 text: {e.reason}", file=sys.stderr)
        return EXIT_INPUT
    except HelperLost as e:
        sys.stdout.flush()
        print(f"score: {e}; the rows written so far are complete, the rest are missing", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0
