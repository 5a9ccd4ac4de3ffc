"""The `footfall-agent` command in-process: exit codes and output of the non-running subcommands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_check_config_accepts_every_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    examples = sorted((ROOT / "firmware-config").glob("*.yaml"))
    assert examples
    assert main(["check-config", *map(str, examples)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(examples) and all(": OK: " in line for line in out)


HEAVY = ("numpy", "cv2", "onnxruntime", "scipy")


def test_a_serial_agent_loads_no_camera_libraries(tmp_path: Path) -> None:
    """`check-config` and `run` of an agent without cameras import none of the camera's heavy libraries."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("site: s\ndevice: d\nsensors:\n  - id: a\n    type: serial-lines\n    port: /dev/ttyUSB0\n")
    code = (
        "import sys\n"
        "from agent.cli.main import main\n"
        f"assert main(['check-config', {str(cfg)!r}]) == 0\n"
        "import agent.runtime.agent\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_a_camera_subcommand_still_gets_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    assert "--detections" in capsys.readouterr().out


def test_check_config_exit_2_names_key_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: /dev/ttyUSB0\n    baud: 9600\n")
    assert main(["check-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "sensors[0].baud" in err and "line 6" in err


def test_check_config_warns_of_credential_files_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped TLS example names a systemd credential and a CA path of the device: both are only warned of."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    example = ROOT / "firmware-config" / "mqtt-tls.yaml"
    assert main(["check-config", str(example)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{example}: OK: ")
    warnings = err.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith(f"warning: {example}: mqtt.password_file: cannot read mqtt-password: ")
    assert warnings[0].endswith("a relative name is a systemd credential when the service runs (LoadCredential=)")
    assert warnings[1].startswith(f"warning: {example}: mqtt.tls.ca_file: cannot read /etc/footfall-agent/")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("pw\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert main(["check-config", str(example)]) == 0
    assert "password_file" not in capsys.readouterr().err, "found where the service will find it"


def test_schema_prints_valid_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert "sensors" in config["properties"]
    assert main(["schema", "all"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"config", "payloads"} and "interval" in doc["payloads"]
    assert {"state", "health", "command_republish", "command_response"} <= set(doc["payloads"])
    assert "homeassistant" in doc["config"]["properties"] and "health" in doc["config"]["properties"]
    assert main(["schema", "interval"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Interval"


def test_schema_markdown_is_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    from agent.config.reference import reference_markdown

    assert main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out == reference_markdown()


def test_score_subcommand_runs_the_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "counts.csv"
    csv.write_text("timestamp,sensor,count\n2024-01-01 10:00,a,5\n2024-01-01 11:00,a,\n2024-01-01 11:00,b,7\n")
    assert main(["score", str(csv)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "timestamp,sensor,count,expected,z,anomaly"
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["2024-01-01 10:00", "a", "5"],
        ["2024-01-01 11:00", "a", ""],
        ["2024-01-01 11:00", "b", "7"],
    ]


@pytest.mark.parametrize(
    ("text", "address"),
    [("broker.lan", ("broker.lan", None)), ("127.0.0.1:1884", ("127.0.0.1", 1884)), ("[::1]:8883", ("::1", 8883))],
)
def test_broker_override_accepts_host_and_port(text: str, address: tuple[str, int | None]) -> None:
    from agent.cli.run import broker_address

    assert broker_address(text) == address


@pytest.mark.parametrize("text", ["host:port", ":1883", "host:0", "host:70000"])
def test_broker_override_refuses_what_is_no_address(text: str) -> None:
    import argparse

    from agent.cli.run import broker_address

    with pytest.raises(argparse.ArgumentTypeError, match="expected HOST or HOST:PORT"):
        broker_address(text)


def test_doctor_checks_the_services_config_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli import doctor

    monkeypatch.setattr(doctor, "SERVICE_CONFIG", tmp_path / "absent.yaml")
    assert main(["doctor"]) in (0, 1)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("footfall-agent ") and " doctor on " in out[0]
    assert out[1].startswith("ok    config               none given: ports, cameras and the broker not checked")
    assert {line[6:26].strip() for line in out[1:-1] if not line.startswith(" ")} >= {"python", "clock", "memory"}
    assert out[-1].endswith("failure(s)")

    service = tmp_path / "config.yaml"
    service.write_text(
        f"site: s\nstore:\n  path: {tmp_path}\nmqtt:\n  enabled: false\nsensors:\n  - {{id: a, type: simulated}}\n"
    )
    monkeypatch.setattr(doctor, "SERVICE_CONFIG", service)
    main(["doctor"])
    out = capsys.readouterr().out
    assert f"ok    config               {service}: site s" in out and "MQTT disabled" in out
