"""The MQTT broker, step by step as a connection goes: the name resolves, the port answers, TLS verifies, the
broker accepts the user. The first step that fails is the finding; the steps after it are not tried.

The connection uses a client id of its own (`<client id>-doctor`): with the agent's, the broker would drop the
running agent. Nothing is published. The password is sent, never shown.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from typing import Any

from agent.config.agent import AgentConfig
from agent.config.errors import ConfigError
from agent.config.mqtt import MqttConfig
from agent.doctor.checks import Check, fail, ok, warn

TIMEOUT_S = 5.0


def broker(cfg: AgentConfig, timeout: float = TIMEOUT_S) -> list[Check]:
    mqtt = cfg.mqtt
    if not mqtt.enabled:
        return [ok("broker", "MQTT disabled: counts are only stored")]
    host, port = mqtt.host, mqtt.effective_port()
    where = f"{host}:{port}"
    found = [_dns(host, port)]
    if found[-1].status == "fail":
        return found
    found.append(_tcp(host, port, timeout))
    if found[-1].status == "fail":
        return found
    if mqtt.tls is not None:
        found.append(_tls(mqtt, timeout))
        if found[-1].status == "fail":
            return found
    found.append(_mqtt(mqtt, cfg.mqtt.client_id or f"footfall-{cfg.site}-{cfg.device}", where, timeout))
    return found


def _dns(host: str, port: int) -> Check:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return ok("broker dns", f"{host} is an address, nothing to look up")
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        return fail("broker dns", f"{host} does not resolve: {e.strerror}", "check mqtt.host and the DNS (resolvectl)")
    addresses = sorted({str(info[4][0]) for info in infos})
    return ok("broker dns", f"{host} is {', '.join(addresses)}")


def _tcp(host: str, port: int, timeout: float) -> Check:
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        return fail(
            "broker tcp",
            f"{host}:{port} refused the connection: nothing listens there",
            "is the broker running (systemctl status mosquitto)? is the port right (1883; 8883 for TLS)?",
        )
    except TimeoutError:
        return fail(
            "broker tcp", f"no answer from {host}:{port} within {timeout:g} s", "check the host and any firewall"
        )
    except OSError as e:
        return fail("broker tcp", f"{host}:{port}: {e.strerror or e}", "check the network route to the broker")
    return ok("broker tcp", f"{host}:{port} answers ({(time.monotonic() - started) * 1000:.0f} ms)")


def _tls_context(mqtt: MqttConfig) -> ssl.SSLContext:
    """The TLS settings the agent's publisher uses, as a context of our own."""
    tls = mqtt.tls
    assert tls is not None
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file is not None else None)
    if tls.cert_file is not None:
        context.load_cert_chain(
            str(tls.cert_file),
            str(tls.key_file) if tls.key_file is not None else None,
            password=tls.resolved_key_password(),
        )
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _tls(mqtt: MqttConfig, timeout: float) -> Check:
    host, port = mqtt.host, mqtt.effective_port()
    try:
        context = _tls_context(mqtt)
    except (OSError, ssl.SSLError, ConfigError) as e:
        return fail(
            "broker tls", f"the TLS files do not load: {_reason(e)}", "check mqtt.tls (ca_file, cert_file, key_file)"
        )
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            version, cert = tls.version(), tls.getpeercert()
    except ssl.SSLCertVerificationError as e:
        return fail(
            "broker tls",
            f"the broker's certificate is not trusted: {e.verify_message}",
            "mqtt.tls.ca_file must be the CA that signed the broker's certificate, for the name in mqtt.host",
        )
    except (ssl.SSLError, OSError) as e:
        return fail("broker tls", f"no TLS with {host}:{port}: {_reason(e)}", "is this the broker's TLS port (8883)?")
    subject = dict(item for rdn in (cert or {}).get("subject", ()) for item in rdn).get("commonName", "?")
    if not mqtt.tls.verify:  # type: ignore[union-attr]
        return warn("broker tls", f"{version}, certificate NOT verified (tls.verify: false)", "set tls.verify: true")
    return ok("broker tls", f"{version}, certificate of {subject} verified")


def _reason(e: BaseException) -> str:
    if isinstance(e, ConfigError):
        return "; ".join(e.errors)
    if isinstance(e, ssl.SSLError):
        return e.reason or str(e)
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return str(e)


def _mqtt(mqtt: MqttConfig, client_id: str, where: str, timeout: float) -> Check:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    user = f" as user {mqtt.username}" if mqtt.username else " without a user name"
    try:
        password = mqtt.resolved_password()
    except ConfigError as e:
        return warn(
            "broker login",
            f"the password cannot be read here ({e.errors[0]}): login not tried",
            "a relative password_file is a systemd credential only the service gets; see its log: "
            "journalctl -u footfall-agent | grep MQTT",
        )
    protocol = MQTTProtocolVersion.MQTTv5 if mqtt.protocol == "5" else MQTTProtocolVersion.MQTTv311
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{client_id}-doctor", protocol=protocol
    )
    answer: list[Any] = []
    client.on_connect = lambda c, userdata, flags, reason, props: answer.append(reason)
    if mqtt.username is not None:
        client.username_pw_set(mqtt.username, password)
    if mqtt.tls is not None:
        client.tls_set_context(_tls_context(mqtt))
        client.tls_insecure_set(not mqtt.tls.verify)
    try:
        client.connect(mqtt.host, mqtt.effective_port(), keepalive=10)
        deadline = time.monotonic() + timeout
        while not answer and time.monotonic() < deadline:
            client.loop(0.1)
    except (OSError, ssl.SSLError) as e:
        return fail("broker login", f"{where}: {_reason(e)}", "check the broker's log")
    finally:
        client.disconnect()
    if not answer:
        return fail(
            "broker login", f"{where} did not answer the MQTT connect within {timeout:g} s", "is it an MQTT broker?"
        )
    reason = answer[0]
    if reason.is_failure:
        return fail(
            "broker login",
            f"{where} refused the login{user}: {reason}",
            "check mqtt.username and the password (file) against the broker's password file and ACL",
        )
    return ok("broker login", f"{where} accepted the login{user}")
