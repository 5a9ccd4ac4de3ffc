"""`footfall-agent check-config FILE...`: validate configs; exit 2 naming each bad key and its line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CONFIG = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")


def run(args: argparse.Namespace) -> int:
    from agent.config.errors import ConfigError
    from agent.config.loader import load_config
    from agent.config.summary import summary

    failed = False
    for path in args.files:
        unreadable: list[str] = []
        mistakes: list[str] = []
        try:
            cfg = load_config(path, unreadable, mistakes)
        except ConfigError as e:
            print(str(e), file=sys.stderr)
            failed = True
            continue
        print(f"{path}: OK: {summary(cfg)}", flush=True)
        for warning in [*unreadable, *mistakes]:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
    return EXIT_CONFIG if failed else 0
