"""The `footfall-agent` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING

from agent import __version__

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.log_format import Secrets

EXIT_CONFIG = 2


def _configure_logging(level: str) -> Secrets:
    """One line per event with a level prefix (a syslog priority under journald); see agent.log_format."""
    from agent.log_format import configure

    return configure(level)


def _demo_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "footfall-agent" / "demo"


def cmd_run(args: argparse.Namespace) -> int:
    from agent.config import ConfigError, demo_config, load_config, summary
    from agent.console import Console
    from agent.log_format import config_secrets, error_lines
    from agent.runtime import Agent

    unreadable: list[str] = []

    def load() -> AgentConfig:
        """The config file as it is now with the command line's overrides: at start and on every reload."""
        loaded = load_config(args.config, unreadable)
        if args.data_dir is not None:
            loaded.store.path = args.data_dir
        if args.log_level is not None:
            loaded.log_level = args.log_level
        return loaded

    try:
        cfg = demo_config(args.data_dir or _demo_data_dir()) if args.config is None else load()
    except ConfigError as e:
        print(error_lines(str(e)), file=sys.stderr)
        return EXIT_CONFIG
    secrets = _configure_logging(args.log_level or cfg.log_level)
    secrets.add(config_secrets(cfg))

    def report_unreadable() -> None:
        # Counting goes on and is kept for later; only the connection waits for these files.
        for warning in unreadable:
            logging.getLogger("agent").error("%s; MQTT cannot connect until it can be read", warning)
        unreadable.clear()

    report_unreadable()

    def reload_config() -> AgentConfig:
        loaded = load()
        secrets.add(config_secrets(loaded))
        report_unreadable()
        return loaded

    if args.config is None:
        print(
            "footfall-agent demo: a simulated door of a shop open around the clock, with a daily traffic profile "
            "(lunch and evening peaks, quiet nights), 1-minute intervals.\n"
            f"  store: {cfg.store.path}\n"
            f"  mqtt:  publishing to {cfg.mqtt.host}:{cfg.mqtt.effective_port()} whenever a broker is there "
            f"(topics under {cfg.mqtt.topic_prefix.format(site=cfg.site, device=cfg.device)}/)\n"
            "  Ctrl-C to stop. Run with --config FILE for real sensors.",
            flush=True,
        )
    else:
        logging.getLogger("agent").info("config %s: %s", args.config, summary(cfg))
    from agent.sd_notify import Notifier

    agent = Agent(
        cfg,
        console=Console() if (args.config is None or args.console) else None,
        notifier=Notifier(),
        reload_config=reload_config if args.config is not None else None,
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("agent").info("%s received, flushing", signal.Signals(signum).name)
        agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # systemd's ExecReload: the interval loop re-reads the config; the handler only raises the flag.
    signal.signal(signal.SIGHUP, lambda signum, frame: agent.request_reload())
    agent.run()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from agent.config import ConfigError, load_config, summary

    failed = False
    for path in args.files:
        unreadable: list[str] = []
        try:
            cfg = load_config(path, unreadable)
        except ConfigError as e:
            print(str(e), file=sys.stderr)
            failed = True
            continue
        print(f"{path}: OK: {summary(cfg)}", flush=True)
        for warning in unreadable:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
    return EXIT_CONFIG if failed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from agent.config import AgentConfig, reference_markdown
    from agent.payloads import payload_schemas

    if args.markdown:
        print(reference_markdown(), end="")
        return 0
    payloads = payload_schemas()
    if args.name == "config":
        doc = AgentConfig.model_json_schema()
    elif args.name == "all":
        doc = {"config": AgentConfig.model_json_schema(), "payloads": payloads}
    else:
        doc = payloads[args.name]
    print(json.dumps(doc, indent=2, sort_keys=False))
    return 0


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full command line; of the subcommands defined in their own modules, only the one `argv` names is
    imported (all of them when it names none, as for `--help`), so that `run` and `check-config` of an agent
    with serial counters only do not load numpy and OpenCV with `replay` and `snapshot`."""
    from agent.payloads import PAYLOAD_MODELS

    parser = argparse.ArgumentParser(
        prog="footfall-agent",
        description="Edge people counting: serial counters and cameras to interval counts over MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"footfall-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the agent (with no --config: a built-in demo that needs no hardware)")
    run.add_argument("--config", "-c", type=Path, help="YAML config file")
    run.add_argument("--data-dir", type=Path, help="override store.path (the local database directory)")
    run.add_argument("--console", action="store_true", help="print closed intervals on stdout (always on in the demo)")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override log_level")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate config files; exit 2 naming each bad key and line")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(func=cmd_check_config)

    schema = sub.add_parser("schema", help="print the JSON Schema of the config or of an MQTT payload")
    schema.add_argument("name", nargs="?", default="config", choices=["config", "all", *PAYLOAD_MODELS])
    schema.add_argument("--markdown", action="store_true", help="print the config reference as markdown instead")
    schema.set_defaults(func=cmd_schema)

    module_commands: list[tuple[str, str, dict[str, str]]] = [
        (
            "score",
            "agent.scoring",
            {
                "help": "score a CSV of counts with the live anomaly detector (backtest your own history)",
                "description": "Read CSV `timestamp,count` or `timestamp,sensor,count` (FILE or stdin) and write "
                "`timestamp,sensor,count,expected,z,anomaly` with exactly the detector the agent runs live.",
            },
        ),
        (
            "replay",
            "agent.replay",
            {
                "help": "run recorded detections, or a clip through a camera sensor, through the tracker and "
                "counters; print ins and outs",
            },
        ),
        (
            "snapshot",
            "agent.snapshot",
            {"help": "grab one camera frame and draw the lines (with in-arrows), zones and detections on it"},
        ),
        (
            "monitor",
            "agent.monitor",
            {"help": "live view of one or many devices from the broker, refreshing in place"},
        ),
        # The fleet dashboard (agent/dashboard/): a static page served locally, or the path of its files.
        (
            "dashboard",
            "agent.dashboard.serve",
            {"help": "serve the fleet dashboard web page (MQTT over WebSockets) locally, or print where it is"},
        ),
    ]
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    wanted = words[0] if words else None
    known = {*sub.choices, *(name for name, _, _ in module_commands)}
    for name, module_name, texts in module_commands:
        command = sub.add_parser(name, **texts)
        if wanted in (None, name) or wanted not in known:
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
