"""`footfall-agent replay`: its options, the counting setup from the command line, and the printed tables.

Usage errors, an unreadable file and malformed rows exit with status 2 and name the offending line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.config.counting import CountingConfig, LineConfig
from agent.vision.pipeline import CountingPipeline
from agent.vision.replay import (
    EXIT_USAGE,
    LINE_NAME,
    ReplayError,
    camera_setup,
    counting_setup,
    replay,
    replay_video,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `replay` subcommand (shared by `footfall-agent replay` and `python -m agent.cli.replay`)."""
    parser.add_argument(
        "--detections",
        type=Path,
        metavar="DETS.csv",
        help="CSV of detections with header frame,x1,y1,x2,y2,score (pixels, frames from 0, sorted)",
    )
    parser.add_argument(
        "--video",
        type=Path,
        metavar="CLIP",
        help="a recorded clip to run through a camera sensor of the agent config given with --config",
    )
    parser.add_argument("--sensor", metavar="ID", help="the camera sensor of the agent config (if there are several)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate of the detections (default 25)")
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        metavar="FILE",
        help="the agent config with the camera sensor (its lines, zones and interval length); with --detections "
        "also a file with only a counting: section",
    )
    parser.add_argument(
        "--line",
        metavar="X1,Y1,X2,Y2[,X3,Y3...]",
        help="a counting line in pixels instead of a config, named 'line' (more points: a polyline; "
        "write --line=... if the first number is negative)",
    )
    parser.add_argument("--in-side", metavar="X,Y", help="a point on the inside of --line: crossing towards it is 'in'")
    parser.add_argument(
        "--anchor",
        choices=["bottom-center", "center", "top-center"],
        default="bottom-center",
        help="box point that must cross --line (default bottom-center; center for overhead cameras)",
    )
    parser.add_argument(
        "--min-distance",
        type=float,
        default=0.0,
        metavar="PX",
        help="hysteresis band of --line in pixels (default 0: only the box-relative band)",
    )
    parser.add_argument(
        "--min-distance-box",
        type=float,
        default=0.15,
        metavar="FRACTION",
        help="hysteresis band of --line as a fraction of the box height (default 0.15)",
    )
    parser.add_argument("--frame-size", metavar="WxH", help="image size, needed for configs in normalized units")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print one JSON document, the same in both modes: {"ins", "outs", "lines": {NAME: {"in", "out"}}, '
        '"zones": {...}, "intervals": [{"start", "end", "ins", "outs", "lines", "zones"}, ...]}',
    )


def parse_floats(text: str, count: int | None, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ReplayError(f"{option}: expected comma-separated numbers, got {text!r}") from None
    if (count is not None and len(values) != count) or not all(math.isfinite(v) for v in values):
        raise ReplayError(f"{option}: expected {count or 'an even number of'} finite numbers, got {text!r}")
    return values


def _frame_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.lower().split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise ReplayError(f"--frame-size: expected WxH such as 1280x720, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise ReplayError(f"--frame-size: width and height must be positive, got {text!r}")
    return w, h


def build_config(args: argparse.Namespace) -> tuple[CountingConfig, float | None, str | None]:
    """The counting setup asked for on the command line (a --config file, or a single --line), the interval
    length to split the replay into (None: one interval) and the line whose crossings are the ins and outs."""
    if args.config is not None and args.line is not None:
        raise ReplayError("give either --config or --line, not both")
    if args.config is not None:
        return counting_setup(args.config, args.sensor)
    if args.line is None:
        raise ReplayError("give --config FILE or --line X1,Y1,X2,Y2 with --in-side X,Y")
    if args.in_side is None:
        raise ReplayError("--line needs --in-side X,Y (a point on the inside)")
    coords = parse_floats(args.line, None, "--line")
    if len(coords) < 4 or len(coords) % 2:
        raise ReplayError(f"--line: expected X1,Y1,X2,Y2 (and more pairs for a polyline), got {args.line!r}")
    points = list(zip(coords[0::2], coords[1::2], strict=True))
    in_point = parse_floats(args.in_side, 2, "--in-side")
    try:
        line = LineConfig(
            name=LINE_NAME,
            points=points,
            in_point=(in_point[0], in_point[1]),
            anchor=args.anchor,
            min_distance=args.min_distance,
            min_distance_box=args.min_distance_box,
        )
    except ValidationError as e:
        messages = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
        raise ReplayError(f"--line: {messages}") from None
    return CountingConfig(lines=[line]), None, None


def _fmt_seconds(v: float | int | None) -> str:
    return "-" if v is None else f"{float(v):.1f} s"


def _print_table(result: dict[str, Any], fps: float) -> None:
    counts = result["counts"]
    print(
        f"replay: {result['frames']} frames ({result['frames'] / fps:.1f} s at {fps:g} fps), "
        f"{result['detections']} detections, {result['tracks']} tracks started"
    )
    if counts["lines"]:
        width = max(4, *(len(n) for n in counts["lines"]))
        print(f"{'line':<{width}}  {'in':>6}  {'out':>6}")
        for name, c in counts["lines"].items():
            print(f"{name:<{width}}  {c['in']:>6}  {c['out']:>6}")
    if counts["zones"]:
        width = max(4, *(len(n) for n in counts["zones"]))
        print(
            f"{'zone':<{width}}  {'in':>6}  {'out':>6}  {'now':>5}  {'dwell median':>12}  {'dwell mean':>10}  {'n':>5}"
        )
        for name, z in counts["zones"].items():
            print(
                f"{name:<{width}}  {z['in']:>6}  {z['out']:>6}  {z['occupancy']:>5}  "
                f"{_fmt_seconds(z['dwell_median_s']):>12}  {_fmt_seconds(z['dwell_mean_s']):>10}  "
                f"{z['dwell_count']:>5}"
            )


def _print_intervals(counts: dict[str, Any]) -> None:
    print(f"{'from':>8}  {'to':>8}  {'in':>6}  {'out':>6}  lines")
    for row in counts["intervals"]:
        lines = ", ".join(f"{name} {c['in']}/{c['out']}" for name, c in row["lines"].items())
        print(f"{row['start']:>7.1f}s  {row['end']:>7.1f}s  {row['ins']:>6}  {row['outs']:>6}  {lines}")
    print(f"{'total':>18}  {counts['ins']:>6}  {counts['outs']:>6}")


def run_video(args: argparse.Namespace) -> int:
    """`replay --config AGENT.yaml --video CLIP`: 0 on success, 2 on a usage, config or input error."""
    try:
        if args.detections is not None:
            raise ReplayError("give either --video or --detections, not both")
        cfg, sensor = camera_setup(args.config, args.sensor)
        counts = replay_video(sensor, args.video, cfg.intervals.length)
    except ReplayError as e:
        print(f"replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(counts))
    else:
        _print_intervals(counts)
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of the subcommand: 0 on success, 2 on a usage, config or input error."""
    if args.video is not None:
        return run_video(args)
    try:
        if args.detections is None:
            raise ReplayError("give --detections DETS.csv (or --video CLIP with an agent --config)")
        if not (math.isfinite(args.fps) and args.fps > 0):
            raise ReplayError(f"--fps must be a positive number, got {args.fps}")
        config, interval_s, count_line = build_config(args)
        try:
            pipeline = CountingPipeline(config, _frame_size(args.frame_size))
        except ValueError as e:
            raise ReplayError(f"{e} (give --frame-size WxH)" if config.units == "normalized" else str(e)) from None
        result = replay(pipeline, args.detections, args.fps, interval_s, count_line)
    except ReplayError as e:
        print(f"replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(result["counts"]))
    else:
        _print_table(result, args.fps)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m agent.cli.replay ...`, the same options as `footfall-agent replay`."""
    parser = argparse.ArgumentParser(
        prog="footfall-agent replay",
        description="Run pre-computed detections through the tracker and counters; print ins and outs.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
