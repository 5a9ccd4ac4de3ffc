"""`footfall-agent doctor` as a process against real parts: a Mosquitto broker (plain, and with TLS and a
password file, the right and a wrong password, a CA that did not sign it), a socat pseudo-terminal as the serial
counter, a port that is missing and one without permission, and a real video file as the camera."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import clips
from tests.integration.conftest import Broker, PtyPair, free_port
from tests.integration.test_mqtt_security import PASSWORD, SecureBroker, make_ca_and_server_cert, secure_broker

REPO = Path(__file__).resolve().parents[2]
__all__ = ["secure_broker"]  # the fixture, used by name


def config(tmp_path: Path, mqtt: str, sensors: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(f"site: test\ndevice: d1\nstore:\n  path: {tmp_path / 'data'}\n{mqtt}sensors:\n{sensors}")
    return path


def doctor(cfg: Path, preexec: list[str] | None = None) -> tuple[int, dict[str, tuple[str, str, str]], str]:
    """Exit status, the findings by name as (status, detail, advice), and the whole output."""
    done = subprocess.run(
        [*(preexec or []), sys.executable, "-m", "agent", "doctor", "--config", str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings: dict[str, tuple[str, str, str]] = {}
    last = ""
    for line in done.stdout.splitlines()[1:-1]:
        if line.startswith(" "):
            status, detail, _ = findings[last]
            findings[last] = (status, detail, line.strip().removeprefix("-> "))
            continue
        status, rest = line[:4].strip(), line[6:]
        last, detail = rest[:20].strip(), rest[21:]
        findings[last] = (status, detail, "")
    return done.returncode, findings, done.stdout + done.stderr


def serial_only(tmp_path: Path, port: Path) -> Path:
    return config(tmp_path, "mqtt:\n  enabled: false\n", f"  - id: door\n    type: serial-lines\n    port: {port}\n")


def plain(broker: Broker | tuple[str, int]) -> str:
    host, port = (broker.host, broker.port) if isinstance(broker, Broker) else broker
    return f"mqtt:\n  host: {host}\n  port: {port}\n"


def test_a_working_installation_passes(tmp_path: Path, broker: Broker, pty_pair: PtyPair) -> None:
    clip = tmp_path / "door.avi"
    clips.write_walk(clip, fps=20)
    sensors = (
        f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n    baudrate: 38400\n"
        f"  - id: cam\n    type: camera\n    source: {clip}\n    fps: 5\n    counting:\n      lines:\n"
        f"        - {{name: door, points: {clips.LINE}, in_direction: right}}\n"
    )
    code, found, out = doctor(config(tmp_path, plain(broker), sensors))
    assert code == 0, out
    assert found["serial door"] == ("ok", f"{pty_pair.device} opens (38400 8N1)", "")
    assert found["camera cam"][0] == "ok" and f"{clip}: 640x400 at 20 fps" in found["camera cam"][1]
    assert found["detector cam"][0] == "ok" and "nanodet int8" in found["detector cam"][1], "the default detector"
    assert found["broker dns"][0] == found["broker tcp"][0] == found["broker login"][0] == "ok"
    assert found["broker login"][1] == f"{broker.host}:{broker.port} accepted the login without a user name"
    assert {"python", "packages", "cpu", "memory", "clock", "time zone", "store", "config"} <= set(found)


def test_missing_port_and_refused_broker_fail(tmp_path: Path) -> None:
    missing = tmp_path / "ttyUSB7"
    sensors = f"  - id: door\n    type: modbus\n    port: {missing}\n    in_register: 0\n    out_register: 2\n"
    code, found, out = doctor(config(tmp_path, plain(("127.0.0.1", free_port())), sensors))
    assert code == 1, out
    assert found["serial door"][:2] == ("fail", f"{missing}: no such device node")
    assert "ls -l /dev/serial/by-id/" in found["serial door"][2]
    assert (
        found["broker tcp"][0] == "fail" and "refused the connection: nothing listens there" in found["broker tcp"][1]
    )
    assert "broker login" not in found, "no login is tried where nothing answers"


def without_override() -> list[str]:
    """Root may open anything: run as root, doctor runs without the capability that lets it (setpriv)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("as root, a denied permission needs setpriv to drop CAP_DAC_OVERRIDE")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


def test_a_port_without_permission_names_the_group(tmp_path: Path, pty_pair: PtyPair) -> None:
    preexec = without_override()
    node = Path(os.path.realpath(pty_pair.device))
    mode = node.stat().st_mode
    node.chmod(0)  # the owner (this user) has no permission left either
    try:
        code, found, out = doctor(serial_only(tmp_path, pty_pair.device), preexec)
    finally:
        node.chmod(mode & 0o7777)
    assert code == 1, out
    status, detail, advice = found["serial door"]
    assert status == "fail" and "may not read and write it (it belongs to group" in detail
    assert advice.startswith("sudo usermod -aG ")


def test_a_config_this_user_cannot_read_asks_for_sudo(tmp_path: Path) -> None:
    cfg = serial_only(tmp_path, tmp_path / "ttyUSB0")
    cfg.chmod(0)
    code, found, out = doctor(cfg, without_override())
    assert code == 1, out
    advice = "run doctor with sudo (as the service reads it)"
    assert found["config"] == ("fail", f"{cfg} is not readable by this user", advice)


def test_a_port_the_agent_holds_is_busy_not_broken(tmp_path: Path, pty_pair: PtyPair) -> None:
    import serial

    holder = serial.Serial(str(pty_pair.device), exclusive=True)
    try:
        code, found, _ = doctor(serial_only(tmp_path, pty_pair.device))
    finally:
        holder.close()
    assert code == 0 and found["serial door"][0] == "warn" and "in use by another program" in found["serial door"][1]


def tls_mqtt(broker: SecureBroker, ca: Path, password_file: Path) -> str:
    return (
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  username: {broker.user}\n"
        f"  password_file: {password_file}\n  tls:\n    ca_file: {ca}\n"
    )


SIMULATED = "  - id: door\n    type: simulated\n"


def test_tls_and_login_against_a_secured_broker(tmp_path: Path, secure_broker: SecureBroker) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    code, found, out = doctor(config(tmp_path, tls_mqtt(secure_broker, secure_broker.ca, secret), SIMULATED))
    assert code == 0, out
    assert found["broker tls"][0] == "ok" and "certificate of 127.0.0.1 verified" in found["broker tls"][1]
    assert found["broker login"] == ("ok", f"127.0.0.1:{secure_broker.port} accepted the login as user door-1", "")
    assert PASSWORD not in out


def test_a_wrong_password_fails_the_login_and_is_never_shown(tmp_path: Path, secure_broker: SecureBroker) -> None:
    wrong = "not-the-h0rse-battery"
    secret = tmp_path / "mqtt-password"
    secret.write_text(wrong + "\n")
    code, found, out = doctor(config(tmp_path, tls_mqtt(secure_broker, secure_broker.ca, secret), SIMULATED))
    assert code == 1, out
    status, detail, advice = found["broker login"]
    assert status == "fail" and "refused the login as user door-1" in detail and "password" in advice
    assert wrong not in out and PASSWORD not in out


def test_a_ca_that_did_not_sign_the_broker_fails_tls(tmp_path: Path, secure_broker: SecureBroker) -> None:
    other = tmp_path / "other"
    other.mkdir()
    stranger, _, _ = make_ca_and_server_cert(other, "stranger")
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    code, found, out = doctor(config(tmp_path, tls_mqtt(secure_broker, stranger, secret), SIMULATED))
    assert code == 1, out
    status, detail, advice = found["broker tls"]
    assert status == "fail" and "certificate is not trusted" in detail and "mqtt.tls.ca_file" in advice
    assert "broker login" not in found
