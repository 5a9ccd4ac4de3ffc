"""`footfall-agent snapshot --config FILE -o out.jpg`: the installer's picture of the counting set-up."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent.vision.replay import EXIT_USAGE, ReplayError, camera_sensor
from agent.vision.snapshot import snapshot

if TYPE_CHECKING:
    pass


EXIT_NO_FRAME = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `snapshot` subcommand."""
    parser.add_argument("--config", "-c", type=Path, required=True, metavar="FILE", help="agent config file")
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        required=True,
        metavar="OUT.jpg",
        help="image file to write (the format follows the extension: .jpg, .png)",
    )
    parser.add_argument("--sensor", metavar="ID", help="the camera sensor to use (if there are several)")
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="how long to wait for a frame (default 10)"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point: 0 written, 1 no frame, 2 usage or config error."""
    try:
        sensor = camera_sensor(args.config, args.sensor)
    except ReplayError as e:
        print(f"snapshot: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        people = snapshot(sensor, args.output, args.timeout)
    except ReplayError as e:
        print(f"snapshot: {e}", file=sys.stderr)
        return EXIT_NO_FRAME
    print(f"snapshot: {args.output} ({people} {'person' if people == 1 else 'people'} detected)")
    return 0
