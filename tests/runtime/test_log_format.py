"""Log lines on a terminal and in the journal: one line per event, priorities for journald, secrets masked."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config.loader import parse_config
from agent.runtime.log_format import (
    MASK,
    LineFormatter,
    Secrets,
    config_secrets,
    configure,
    error_lines,
    is_journal_stream,
    syslog_priority,
)


def record(level: int, message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("line one\nline two")
        except ValueError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("agent.runtime", level, __file__, 1, message, args, info)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_terminal_lines_keep_the_level_name_format() -> None:
    line = LineFormatter(journal=False).format(record(logging.WARNING, "%s: source down", "door"))
    assert line == "WARNING agent.runtime: door: source down"


@pytest.mark.parametrize(
    ("level", "priority"),
    [(logging.DEBUG, 7), (logging.INFO, 6), (logging.WARNING, 4), (logging.ERROR, 3), (logging.CRITICAL, 2)],
)
def test_journal_lines_carry_the_syslog_priority(level: int, priority: int) -> None:
    assert syslog_priority(level) == priority
    line = LineFormatter(journal=True).format(record(level, "reload rejected: x"))
    assert line == f"<{priority}>{logging.getLevelName(level)} agent.runtime: reload rejected: x"


def test_a_traceback_is_one_line() -> None:
    line = LineFormatter(journal=True).format(record(logging.ERROR, "reload failed", exc=True))
    assert "\n" not in line and line.startswith("<3>ERROR agent.runtime: reload failed | Traceback")
    assert "ValueError: line one | line two" in line


def test_secrets_are_masked_longest_first_and_short_values_ignored() -> None:
    secrets = Secrets(["hunter2", None, "", "ab"])
    secrets.add(["hunter2-long"])
    formatter = LineFormatter(journal=False, secrets=secrets)
    line = formatter.format(record(logging.ERROR, "auth failed for %s / %s (ab)", "hunter2-long", "hunter2"))
    assert line == f"ERROR agent.runtime: auth failed for {MASK} / {MASK} (ab)"


def test_config_secrets_resolves_passwords(tmp_path: Path) -> None:
    sim = "sensors:\n  - id: a\n    type: simulated\n"
    key_pw = tmp_path / "key-pw"
    key_pw.write_text("tls-secret\n")
    tls = f"  tls:\n    cert_file: {tmp_path / 'client.pem'}\n    key_password_file: {key_pw}\n"
    cfg = parse_config(f"site: s\nmqtt:\n  username: u\n  password: hunter2\n{tls}{sim}", "c.yaml")
    assert sorted(config_secrets(cfg)) == ["hunter2", "tls-secret"]
    assert config_secrets(parse_config("site: s\n" + sim, "c.yaml")) == []


def test_journal_stream_is_recognised_by_device_and_inode(tmp_path: Path) -> None:
    with open(tmp_path / "stream", "w") as stream, open(tmp_path / "other", "w") as other:
        st = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert is_journal_stream(stream, env)
        assert not is_journal_stream(other, env), "a variable inherited by a process writing elsewhere"
        assert not is_journal_stream(stream, {})
        assert not is_journal_stream(stream, {"JOURNAL_STREAM": "garbage"})
        assert not is_journal_stream(io.StringIO(), env)


def test_configure_writes_journal_lines_to_the_journal_stream(tmp_path: Path, restore_logging: None) -> None:
    with open(tmp_path / "journal", "w") as stream:
        st = os.fstat(stream.fileno())
        secrets = configure("info", stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        secrets.add(["s3cr3t-password"])
        logging.getLogger("agent.test").debug("not written at info")
        logging.getLogger("agent.test").warning("broker said: bad password s3cr3t-password\nsecond line")
    expected = f"<4>WARNING agent.test: broker said: bad password {MASK} | second line\n"
    assert (tmp_path / "journal").read_text() == expected


def test_errors_printed_before_logging_get_error_priority_in_the_journal(tmp_path: Path) -> None:
    text = "c.yaml: sensors[0].port: field required (line 4)\nc.yaml: site: field required"
    with open(tmp_path / "journal", "w") as stream:
        st = os.fstat(stream.fileno())
        journal = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert error_lines(text, stream, journal).splitlines() == [f"<3>{line}" for line in text.splitlines()]
        assert error_lines(text, stream, {}) == text
