"""`footfall-agent run`: the agent itself, on a config file or (with none) the built-in demo."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config.agent import AgentConfig
    from agent.runtime.log_format import Secrets

EXIT_CONFIG = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, help="YAML config file")
    parser.add_argument("--data-dir", type=Path, help="override store.path (the local database directory)")
    parser.add_argument(
        "--broker",
        type=broker_address,
        metavar="HOST[:PORT]",
        help="override mqtt.host (and mqtt.port); the demo's broker (default localhost:1883)",
    )
    parser.add_argument(
        "--console", action="store_true", help="print closed intervals on stdout (always on in the demo)"
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override log_level")


def broker_address(text: str) -> tuple[str, int | None]:
    """`host`, `host:port` or `[v6-address]:port` as (host, port or None)."""
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or (port is not None and not (port.isdigit() and 1 <= int(port) <= 65535)):
        raise argparse.ArgumentTypeError(f"expected HOST or HOST:PORT (port 1-65535), got {text!r}")
    return host, int(port) if port is not None else None


def _configure_logging(level: str) -> Secrets:
    """One line per event with a level prefix (a syslog priority under journald); see agent.runtime.log_format."""
    from agent.runtime.log_format import configure

    return configure(level)


def _demo_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "footfall-agent" / "demo"


def run(args: argparse.Namespace) -> int:
    from agent.runtime.allocator import fix_mmap_threshold, limit_arenas

    limit_arenas()  # before any thread of the agent starts (see agent.runtime.allocator)
    fix_mmap_threshold()
    from agent.config.demo import demo_config
    from agent.config.errors import ConfigError
    from agent.config.loader import load_config
    from agent.config.summary import summary
    from agent.runtime.agent import Agent
    from agent.runtime.console import Console
    from agent.runtime.log_format import config_secrets, error_lines

    unreadable: list[str] = []
    mistakes: list[str] = []

    def load() -> AgentConfig:
        """The config file as it is now with the command line's overrides: at start and on every reload."""
        loaded = load_config(args.config, unreadable, mistakes)
        if args.data_dir is not None:
            loaded.store.path = args.data_dir
        if args.broker is not None:
            loaded.mqtt.host, port = args.broker
            loaded.mqtt.port = port if port is not None else loaded.mqtt.port
        if args.log_level is not None:
            loaded.log_level = args.log_level
        return loaded

    try:
        if args.config is None:
            host, port = args.broker or ("localhost", None)
            cfg = demo_config(args.data_dir or _demo_data_dir(), host, port or 1883)
        else:
            cfg = load()
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
        for warning in mistakes:
            logging.getLogger("agent").warning("%s", warning)
        mistakes.clear()

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
            f"(topics under {cfg.mqtt.topic_prefix.format(site=cfg.site, device=cfg.device)}/);\n"
            "         no Home Assistant discovery, and what it retains there is deleted when it stops\n"
            "  Ctrl-C to stop. Run with --config FILE for real sensors.",
            flush=True,
        )
    else:
        logging.getLogger("agent").info("config %s: %s", args.config, summary(cfg))
    from agent.runtime.sd_notify import Notifier
    from agent.store.lock import StoreLocked

    console = Console() if (args.config is None or args.console) else None
    if console is not None:
        console.guard_logging()
    try:
        agent = Agent(
            cfg,
            console=console,
            notifier=Notifier(),
            reload_config=reload_config if args.config is not None else None,
        )
    except StoreLocked as e:
        # Exit 2 like a config error: systemd must not restart into the same conflict.
        logging.getLogger("agent").error("%s", e)
        return EXIT_CONFIG

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("agent").info("%s received, flushing", signal.Signals(signum).name)
        agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # systemd's ExecReload: the interval loop re-reads the config; the handler only raises the flag.
    signal.signal(signal.SIGHUP, lambda signum, frame: agent.request_reload())
    agent.run()
    if args.config is None:
        _demo_goodbye(cfg)
    return 0


def _demo_goodbye(cfg: AgentConfig) -> None:
    """Leave nothing retained on the demo's broker, and say so (see agent.runtime.demo)."""
    from agent.runtime.demo import remove_retained

    where = f"{cfg.mqtt.host}:{cfg.mqtt.effective_port()}"
    cleared = remove_retained(cfg)
    if cleared is None:
        print(f"footfall-agent demo: no broker at {where}, nothing retained there", flush=True)
    else:
        print(
            f"footfall-agent demo: deleted its {len(cleared)} retained message(s) from {where}; nothing of the demo "
            "is left there",
            flush=True,
        )
