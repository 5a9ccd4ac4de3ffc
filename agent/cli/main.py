"""The `footfall-agent` command: one entry point, one subcommand per job, each in its own module here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from agent import __version__

# (name, module, help): each module has `add_arguments(parser)` and `run(args) -> exit status`.
COMMANDS: list[tuple[str, str, dict[str, str]]] = [
    ("run", "agent.cli.run", {"help": "run the agent (with no --config: a built-in demo that needs no hardware)"}),
    (
        "check-config",
        "agent.cli.check_config",
        {"help": "validate config files; exit 2 naming each bad key and line"},
    ),
    ("schema", "agent.cli.schema", {"help": "print the JSON Schema of the config or of an MQTT payload"}),
    (
        "score",
        "agent.cli.score",
        {
            "help": "score a CSV of counts with the live anomaly detector (backtest your own history)",
            "description": "Read CSV `timestamp,count` or `timestamp,sensor,count` (FILE or stdin) and write "
            "`timestamp,sensor,count,expected,z,anomaly` with exactly the detector the agent runs live.",
        },
    ),
    (
        "replay",
        "agent.cli.replay",
        {
            "help": "run recorded detections, or a clip through a camera sensor, through the tracker and "
            "counters; print ins and outs",
        },
    ),
    (
        "snapshot",
        "agent.cli.snapshot",
        {"help": "grab one camera frame and draw the lines (with in-arrows), zones and detections on it"},
    ),
    (
        "doctor",
        "agent.cli.doctor",
        {
            "help": "check this machine, the config's ports, cameras and broker: ok, warn or fail with what to do",
            "description": "Check what an installation needs: Python and packages, CPU, memory, temperature and "
            "throttling, the clock and time zone, and with a config the store's disk, every serial port, every "
            "camera and the broker (DNS, TCP, TLS, login). Exit status 1 when anything failed.",
        },
    ),
    (
        "monitor",
        "agent.cli.monitor",
        {
            "help": "live view of one or many devices from the broker, refreshing in place",
            "description": "Live view of the devices publishing to a broker. Every clock time is in this machine's "
            "time zone, named in the header; ages count from the time each device stamped on its message.",
        },
    ),
    (
        "dashboard",
        "agent.cli.dashboard",
        {"help": "serve the fleet dashboard web page (MQTT over WebSockets) locally, or print where it is"},
    ),
]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full command line. Only the module of the subcommand `argv` names is imported, for its options:
    `--help` needs no module at all, and `run` and `check-config` of an agent with serial counters only do not
    load numpy and OpenCV with `replay` and `snapshot`."""
    parser = argparse.ArgumentParser(
        prog="footfall-agent",
        description="Edge people counting: serial counters and cameras to interval counts over MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"footfall-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    wanted = words[0] if words else None
    for name, module_name, texts in COMMANDS:
        command = sub.add_parser(name, **texts)
        if wanted == name:
            module: ModuleType = importlib.import_module(module_name)
            module.add_arguments(command)
            command.set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
