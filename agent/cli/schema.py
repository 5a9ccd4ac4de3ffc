"""`footfall-agent schema [NAME]`: the JSON Schema of the config or of an MQTT payload, or the config reference."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agent.mqtt.payloads import PAYLOAD_MODELS

    parser.add_argument("name", nargs="?", default="config", choices=["config", "all", *PAYLOAD_MODELS])
    parser.add_argument("--markdown", action="store_true", help="print the config reference as markdown instead")


def run(args: argparse.Namespace) -> int:
    from agent.config.agent import AgentConfig
    from agent.config.reference import reference_markdown
    from agent.mqtt.payloads import payload_schemas

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
