"""The fleet dashboard in a real browser: Debian's headless Chromium driven through its chromedriver, a Mosquitto
with a WebSocket listener for the page, `footfall-agent dashboard` serving the files, and agents of any site,
device and time zone. Shared by the integration tests and bench/fleet.py.
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.mosquitto import Broker, Subscriber, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]

# Headless, and quiet on the network: without the last flags Chromium phones home for updates, field trials,
# safe browsing lists and the like, none of which this closed network can answer.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--password-store=basic",
    "--enable-precise-memory-info",
    "--window-size=1500,1000",
)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (no Chromium or no chromedriver), or None."""
    for name in ("chromium", "chromedriver"):
        if shutil.which(name) is None:
            return f"{name} is not installed (apt-get install -y chromium chromium-driver)"
    return None


def start_chromium(profile: Path) -> Any:
    """A headless Chromium with a fresh profile in `profile`, driven by the system's chromedriver (selenium
    is given both paths, so it never looks for a driver or a browser of its own)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile.mkdir(parents=True, exist_ok=True)
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=str(shutil.which("chromedriver")), log_output=str(profile / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_script_timeout(30)
    return driver


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """The first truthy value of `predicate` within `timeout` seconds, or its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class WsBroker(Broker):
    """A real mosquitto with a plain MQTT listener for the agents and a WebSocket listener for the page.

    Mosquitto 2.0 (Debian 12) binds a WebSocket listener to every interface when given an IP address, so
    the listener is bound by interface name (`lo`): loopback only. With `users` it wants a password (a file
    made by mosquitto_passwd) and applies `acl` (an acl_file), as a production broker does.
    """

    def __init__(
        self,
        workdir: Path,
        users: dict[str, str] | None = None,
        acl: str | None = None,
        extra: str = "",
    ) -> None:
        super().__init__(workdir)
        self.ws_port = free_port()
        lines = [f"user {getpass.getuser()}", "per_listener_settings false"]
        if users:
            passwd = workdir / "passwd"
            passwd.write_text("")
            for name, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwd), name, password], check=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if acl is not None:
            (workdir / "acl").write_text(acl)
            lines.append(f"acl_file {workdir / 'acl'}")
        lines += [
            "persistence true",
            f"persistence_location {workdir}/",
            "max_queued_messages 100000",
            "log_dest stderr",
            f"listener {self.port} 127.0.0.1",
            f"listener {self.ws_port} lo",
            "protocol websockets",
        ]
        self.conf.write_text("\n".join(lines) + "\n" + extra)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def start(self) -> None:
        super().start()
        wait_for_port(self.ws_port)


class DashboardServer:
    """`footfall-agent dashboard` as a real subprocess on a free port; `url` is where it serves the page."""

    def __init__(self, log_path: Path, *args: str) -> None:
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "dashboard", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        found = re.search(r"http://[^ ]+/", line)
        if found is None:
            self.stop()
            raise RuntimeError(f"footfall-agent dashboard did not say where it serves: {line!r}")
        self.url = found.group(0)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def fleet_agent_config(
    path: Path,
    broker: Broker,
    *,
    site: str,
    device: str,
    timezone: str,
    sensors: str,
    interval: str = "1s",
    username: str | None = None,
    password: str | None = None,
    health_period: str = "5s",
    extra: str = "",
) -> Path:
    """Config of one agent of a chain: its own site, device, zone and store under `path`, the given broker."""
    path.mkdir(parents=True, exist_ok=True)
    auth = ""
    if username is not None:
        (path / "mqtt-password").write_text(f"{password}\n")
        auth = f"  username: {username}\n  password_file: {path / 'mqtt-password'}\n"
    text = (
        f"site: {site}\n"
        f"device: {device}\n"
        f"timezone: {timezone}\n"
        f"intervals:\n  length: {interval}\n"
        f"store:\n  path: {path / 'data'}\n  checkpoint: 1s\n"
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  keepalive: 5\n"
        f"  reconnect_min: 0.2\n  reconnect_max: 1\n{auth}"
        "homeassistant:\n  enabled: false\n"
        f"health:\n  period: {health_period}\n"
        f"sensors:\n{sensors}"
        f"{extra}"
    )
    config = path / "agent.yaml"
    config.write_text(text)
    return config


def simulated_door(name: str = "door", seed: int = 1) -> str:
    """A simulated door busy around the clock, so every 1-second interval has people in it."""
    return (
        f"  - id: {name}\n    type: simulated\n    peak_per_hour: 36000\n    opening: '00:00'\n"
        f"    closing: '23:59'\n    seed: {seed}\n"
    )


class TimedSubscriber(Subscriber):
    """A `Subscriber` that also notes when each message arrived (wall clock, comparable with the page's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.arrivals: list[tuple[float, str, bytes, bool]] = []
        super().__init__(*args, **kwargs)

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        super()._on_message(client, userdata, msg)
        with self._lock:
            self.arrivals.append((now, msg.topic, bytes(msg.payload), bool(msg.retain)))

    def timed(self) -> list[tuple[float, str, bytes, bool]]:
        with self._lock:
            return list(self.arrivals)
