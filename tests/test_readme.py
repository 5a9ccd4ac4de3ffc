"""The README is the front door: short, with exactly the sections a new user needs, two commands that set up
everything, and links that lead somewhere. The long material is in docs/ (tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config.loader import parse_config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAX_BYTES = 12 * 1024
SECTIONS = [
    "Quick start",
    "Install on a Raspberry Pi",
    "Your first serial counter",
    "Your first camera",
    "Monitoring",
    "Troubleshooting",
    "Development",
]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", text, re.S)


def test_the_readme_is_at_most_12_kb() -> None:
    size = len(README.encode())
    assert size <= MAX_BYTES, f"README.md is {size} bytes: move the long material into docs/"


def test_the_readme_has_exactly_the_sections_a_new_user_needs() -> None:
    assert re.findall(r"^## (.+)$", README, re.M) == SECTIONS
    intro = README.split("\n## ", 1)[0]
    assert intro.startswith("# footfall-agent\n") and "people-counter" in intro, "what it is, before anything else"


def test_the_quick_start_is_two_commands_the_demo_and_the_tests() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    demo, tests = sh_blocks(quick)
    assert "\n" not in demo and "\n" not in tests, "each one command line"
    assert demo.endswith("footfall-agent run"), "the agent's main job on its built-in default: the demo"
    assert tests.endswith("-m pytest -q") and "'.[test]'" in tests
    for package in ("mosquitto", "socat", "openssl", "python3-venv"):
        assert package in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    test_command = sh_blocks(quick)[1]
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines(), "CI must run the README's command"


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("Your first serial counter", ["stty", "cat /dev/", "check-config", "--console", "mosquitto_sub"]),
        ("Your first camera", ["snapshot", "replay", "units: normalized"]),
        ("Monitoring", ["footfall-agent monitor", "Home Assistant"]),
        ("Troubleshooting", ["doctor"]),
        ("Install on a Raspberry Pi", ["install.sh --venv", "dialout", "ttySC", "32-bit"]),
    ],
)
def test_each_section_shows_its_commands(section: str, words: list[str]) -> None:
    text = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    assert [w for w in words if w not in text] == []


def test_yaml_examples_in_the_readme_are_valid_configs_that_mean_what_they_say() -> None:
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if "sensors:" in b]
    assert len(blocks) == 2, "a serial counter and a camera"
    for block in blocks:
        warnings: list[str] = []
        parse_config("site: readme\ndevice: example\n" + block, "README.md", warnings=warnings)
        assert warnings == []


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in target]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(document: Path) -> None:
    """Files and directories exist, and an anchor names a heading of the file it points into."""
    broken = []
    for target in links(document):
        file, _, anchor = target.partition("#")
        path = (document.parent / file).resolve() if file else document
        if not path.exists():
            broken.append(target)
        elif anchor and anchor not in {slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), re.M)}:
            broken.append(target)
    assert broken == []


def test_the_readme_links_every_document_in_docs() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md")}
    assert [p.name for p in DOCUMENTS[1:] if p.resolve() not in linked] == []
