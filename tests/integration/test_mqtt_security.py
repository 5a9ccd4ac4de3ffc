"""A real agent against a real broker that wants TLS and a password, as a production broker does.

The broker is mosquitto with a listener on 127.0.0.1 that only speaks TLS (a server certificate signed by a
CA made for the test with the openssl command line) and only lets in the user of its password file. The
agent gets the CA from `mqtt.tls.ca_file` and its password from a file found through systemd's
`$CREDENTIALS_DIRECTORY`, as the shipped unit hands it over.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.agent_process import afternoon_timezone
from tests.integration.conftest import AgentProcess, agent_config, read_intervals
from tests.integration.mosquitto import Subscriber, free_port, wait_for_port

PASSWORD = "c0rrect-h0rse-battery"
SIMULATED = "  - id: door\n    type: simulated\n    peak_per_hour: 36000\n    opening: '00:00'\n    closing: '23:59'\n"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca_and_server_cert(d: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signed for 127.0.0.1: (ca, cert, key)."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name} CA",
             "-keyout", f"{name}-ca.key", "-out", f"{name}-ca.pem", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", f"{name}-server.key", "-out", f"{name}-server.csr", cwd=d)  # fmt: skip
    _openssl("x509", "-req", "-in", f"{name}-server.csr", "-CA", f"{name}-ca.pem", "-CAkey", f"{name}-ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", f"{name}-server.pem", cwd=d)  # fmt: skip
    return d / f"{name}-ca.pem", d / f"{name}-server.pem", d / f"{name}-server.key"


@dataclass
class SecureBroker:
    host: str
    port: int
    ca: Path
    user: str
    proc: subprocess.Popen[bytes]


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    if shutil.which("openssl") is None or shutil.which("mosquitto_passwd") is None:
        pytest.fail("the TLS broker test needs openssl and mosquitto_passwd (apt-get install -y openssl mosquitto)")
    d = tmp_path / "broker"
    d.mkdir()
    ca, cert, key = make_ca_and_server_cert(d, "site")
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(d / "passwd"), "door-1", PASSWORD], check=True)
    port = free_port()
    conf = d / "mosquitto.conf"
    conf.write_text(
        f"user {getpass.getuser()}\n"
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"password_file {d / 'passwd'}\n"
        f"listener {port} 127.0.0.1\n"
        f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        "tls_version tlsv1.2\n"
        "log_dest stderr\n"
    )
    log = open(d / "mosquitto.log", "ab")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_for_port(port)
        yield SecureBroker("127.0.0.1", port, ca, "door-1", proc)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def secure_subscriber(broker: SecureBroker, topic: str) -> Subscriber:
    """The test's own client: the same TLS and password, so it sees what the agent published."""
    return Subscriber(broker, topic, "test-secure-sub", username=broker.user, password=PASSWORD, ca=broker.ca)


@dataclass
class ServiceAgent:
    """`footfall-agent run` started as the systemd unit starts it, with its credential directory."""

    process: AgentProcess
    config: Path
    password_file: Path
    db: Path

    def stored(self) -> int:
        """Intervals committed so far (none before the database exists)."""
        return len(read_intervals(self.db)) if self.db.exists() else 0


def start_agent(tmp_path: Path, broker: SecureBroker, password: str | None, ca: Path) -> ServiceAgent:
    """An agent that trusts `ca` and reads `password` (None: no file yet) from its systemd credential."""
    config = agent_config(tmp_path, broker=None, sensors=SIMULATED, timezone=afternoon_timezone())
    mqtt = (
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  keepalive: 5\n"
        "  reconnect_min: 0.2\n  reconnect_max: 1\n"
        f"  username: {broker.user}\n  password_file: mqtt-password\n"
        f"  tls:\n    ca_file: {ca}\n"
    )
    config.write_text(config.read_text().replace("mqtt:\n  enabled: false\n", mqtt))
    creds = tmp_path / "credentials"
    creds.mkdir()
    if password is not None:
        (creds / "mqtt-password").write_text(password + "\n")
    env = {**os.environ, "CREDENTIALS_DIRECTORY": str(creds)}
    process = AgentProcess(config, tmp_path / "agent.log", env=env)
    return ServiceAgent(process, config, creds / "mqtt-password", tmp_path / "data" / "footfall.db")


def wait_until(condition: Callable[[], bool], agent: ServiceAgent, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, agent.process.log_text()
        time.sleep(0.2)


def test_publishes_over_tls_with_a_password_from_a_systemd_credential(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    sub = secure_subscriber(secure_broker, "footfall/test/d1/#")
    agent = start_agent(tmp_path, secure_broker, PASSWORD, secure_broker.ca)
    try:
        wait_until(lambda: len(sub.json_payloads()) >= 3, agent, 30)
        assert agent.process.stop() == 0
    finally:
        agent.process.kill()
        sub.close()
    intervals = sub.json_payloads()
    assert {p["sensor"] for p in intervals} == {"door"} and sum(p["ins"] for p in intervals) > 0
    assert PASSWORD not in agent.process.log_text()


def test_a_wrong_password_is_reported_counting_goes_on_and_the_corrected_file_is_read_without_a_restart(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    wrong = "not-the-password"
    agent = start_agent(tmp_path, secure_broker, wrong, secure_broker.ca)
    sub = secure_subscriber(secure_broker, "footfall/test/d1/#")
    try:
        wait_until(lambda: "refused the connection" in agent.process.log_text() and agent.stored() >= 3, agent)
        assert not sub.json_payloads(), "nothing gets through with the wrong password"
        counted_while_refused = {json.loads(p)["start_ts"] for p in read_intervals(agent.db).values()}
        agent.password_file.write_text(PASSWORD + "\n")
        wait_until(lambda: len(sub.json_payloads()) >= agent.stored() > 3, agent, 30)
        assert agent.process.stop() == 0
    finally:
        agent.process.kill()
        sub.close()
    log = agent.process.log_text().lower()
    assert "not authorised" in log or "not authorized" in log or "bad user name" in log, log
    assert PASSWORD not in log and wrong not in log
    published = [p["start_ts"] for p in sub.json_payloads()]
    assert counted_while_refused <= set(published), "what was counted while refused is published, none lost"
    assert published == sorted(set(published)), "in order, each once"


def test_a_broker_certificate_from_another_ca_is_refused(tmp_path: Path, secure_broker: SecureBroker) -> None:
    other = tmp_path / "other"
    other.mkdir()
    other_ca, _, _ = make_ca_and_server_cert(other, "other")
    agent = start_agent(tmp_path, secure_broker, PASSWORD, other_ca)
    try:
        wait_until(lambda: "certificate verify failed" in agent.process.log_text() and agent.stored() > 0, agent)
        assert agent.process.stop() == 0
    finally:
        agent.process.kill()
    assert PASSWORD not in agent.process.log_text()


def test_a_missing_password_file_is_named_at_start_and_read_once_it_is_there(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    agent = start_agent(tmp_path, secure_broker, None, secure_broker.ca)
    sub = secure_subscriber(secure_broker, "footfall/test/d1/#")
    try:
        wait_until(lambda: agent.stored() >= 2, agent)
        assert (
            f"{agent.config}: mqtt.password_file: cannot read mqtt-password: No such file or directory (line 16); "
            "MQTT cannot connect until it can be read" in agent.process.log_text()
        )
        agent.password_file.write_text(PASSWORD + "\n")
        wait_until(lambda: len(sub.json_payloads()) >= 2, agent, 30)
        assert agent.process.stop() == 0
    finally:
        agent.process.kill()
        sub.close()
