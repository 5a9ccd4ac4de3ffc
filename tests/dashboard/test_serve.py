"""`footfall-agent dashboard`: the static file server, its generated config.js, and the files it ships."""

from __future__ import annotations

import fnmatch
import hashlib
import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.dashboard.serve import STATIC_DIR, broker_url, config_script, make_server, server_url, topic_filter

ROOT = Path(__file__).resolve().parents[2]
# The page's own scripts, in the order index.html loads them (each uses only those before it).
PAGE_SCRIPTS = (
    "format.js",
    "dom.js",
    "fleet-state.js",
    "stats.js",
    "view-state.js",
    "event-feed.js",
    "fleet-view.js",
    "charts.js",
    "site-view.js",
    "connection.js",
    "frame.js",
    "page.js",
)


@pytest.fixture
def served() -> Iterator[tuple[str, int]]:
    server = make_server("127.0.0.1", 0, "wss://broker.example.com:8884/mqtt", "chain/#", connect=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[:2]  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


def get(where: tuple[str, int], path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*where, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_the_page_and_its_files_are_served_with_their_types(served: tuple[str, int]) -> None:
    status, headers, body = get(served, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'id="fleet"' in body
    assert "connect-src 'self' ws: wss:" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    for path, kind in (
        *((f"/{script}", "text/javascript") for script in PAGE_SCRIPTS),
        ("/style.css", "text/css"),
        ("/vendor/mqtt.min.js", "text/javascript"),
        ("/vendor/uPlot.iife.min.js", "text/javascript"),
    ):
        status, headers, body = get(served, path)
        assert status == 200 and headers["content-type"].startswith(kind), path
        assert body == (STATIC_DIR / path.lstrip("/")).read_bytes()


def test_config_js_carries_the_broker_and_filter_given_on_the_command_line(served: tuple[str, int]) -> None:
    status, headers, body = get(served, "/config.js?v=1")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    settings = json.loads(re.fullmatch(rb"window\.FOOTFALL_CONFIG = (.*);\n", body).group(1))  # type: ignore[union-attr]
    assert settings == {"broker": "wss://broker.example.com:8884/mqtt", "filter": "chain/#", "connect": True}
    assert headers["cache-control"] == "no-store"


def test_no_directory_listing_and_nothing_outside_the_static_files(served: tuple[str, int]) -> None:
    assert get(served, "/vendor/")[0] == 404
    assert get(served, "/../serve.py")[0] == 404
    assert get(served, "/%2e%2e/serve.py")[0] == 404
    assert get(served, "/no-such-file.js")[0] == 404


def test_config_script_cannot_close_its_script_element() -> None:
    body = config_script("ws://h:9001/</script><script>alert(1)//", "footfall/#", False).decode()
    assert "</script>" not in body and "\\u003c/script>" in body
    assert json.loads(body.split(" = ", 1)[1].rstrip(";\n"))["broker"].endswith("alert(1)//")


@pytest.mark.parametrize("url", ["ws://127.0.0.1:9001", "wss://broker.example.com:8884/mqtt", " ws://h:1/ "])
def test_websocket_broker_urls_are_accepted(url: str) -> None:
    assert broker_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://h:9001", "use ws://HOST:PORT or wss://HOST:PORT"),
        ("mqtt://h:1883", "use ws://HOST:PORT"),
        ("ws://:9001", "no host"),
        ("ws://h:99999", "out of range"),
    ],
)
def test_other_broker_urls_are_refused_saying_why(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        broker_url(url)


@pytest.mark.parametrize("good", ["footfall/#", "#", "footfall/+/+/health", "chain/store-042/#"])
def test_valid_topic_filters(good: str) -> None:
    assert topic_filter(good) == good


@pytest.mark.parametrize("bad", ["", "footfall/#/x", "footfall#", "foot+/x", "a/b+"])
def test_invalid_topic_filters(bad: str) -> None:
    with pytest.raises(ValueError):
        topic_filter(bad)


def test_every_file_the_page_loads_is_shipped() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"#:]+)"', html)
    assert {"config.js", "style.css", "vendor/mqtt.min.js", "vendor/uPlot.iife.min.js", *PAGE_SCRIPTS} <= set(refs)
    for ref in refs:
        assert (STATIC_DIR / ref).is_file(), ref


def test_the_page_loads_every_script_of_its_own_as_a_deferred_classic_script_in_order() -> None:
    """Classic scripts, not modules: the page also works opened from disk (`file://`), where modules do not load."""
    html = (STATIC_DIR / "index.html").read_text()
    tags = re.findall(r"<script [^>]*>", html)
    own = [re.search(r'src="([^"]+)"', tag).group(1) for tag in tags if 'src="vendor/' not in tag]  # type: ignore[union-attr]
    assert own == ["config.js", *PAGE_SCRIPTS]
    assert all(" defer" in tag and "module" not in tag for tag in tags if 'src="config.js"' not in tag)
    shipped = {p.name for p in STATIC_DIR.glob("*.js")} - {"config.js"}
    assert shipped == set(PAGE_SCRIPTS), "every script in static/ is loaded by the page"


def test_the_package_data_covers_every_static_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["agent.dashboard"]
    package = STATIC_DIR.parent
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            name = path.relative_to(package).as_posix()
            assert any(fnmatch.fnmatchcase(name, p) and name.count("/") == p.count("/") for p in patterns), name


def test_vendored_files_match_their_readme_and_carry_their_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    readme = (vendor / "README.md").read_text()
    listed = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M))
    assert set(listed) == {"mqtt.min.js", "uPlot.iife.min.js", "uPlot.min.css"}
    for name, digest in listed.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, f"{name} differs from its README"
    assert "MIT License" in (vendor / "mqtt.LICENSE.md").read_text()
    assert "MIT License" in (vendor / "uPlot.LICENSE").read_text()
    assert re.search(r"`mqtt@5\.16\.0` \| `[0-9a-f]{40}` \| `sha512-", readme)
    assert re.search(r"`uplot@1\.6\.32` \| `[0-9a-f]{40}` \| `sha512-", readme)


def test_print_path_names_the_directory_of_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--print-path"]) == 0
    where = Path(capsys.readouterr().out.strip())
    assert (where / "index.html").is_file() and (where / "vendor" / "mqtt.min.js").is_file()


def test_a_bad_broker_url_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--broker", "http://central:9001"]) == 2
    assert "dashboard: broker URL 'http://central:9001': use ws://" in capsys.readouterr().err


def test_server_url_of_an_ipv4_server() -> None:
    server = make_server("127.0.0.1", 0)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server_url(server))
    finally:
        server.server_close()


def test_the_command_serves_until_sigterm_and_exits_0() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "dashboard", "--port", "0", "--broker", "ws://127.0.0.1:9001"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        status, _, body = get(("127.0.0.1", int(found.group(1))), "/config.js")
        assert status == 200 and b'"broker": "ws://127.0.0.1:9001"' in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
