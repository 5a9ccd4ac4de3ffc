"""A chain's broker tier with the shipped configs: a store's Mosquitto bridged to a central Mosquitto.

Both brokers run the files in firmware-config/mosquitto/ (store.conf, central.conf and its acl) with only
what cannot be shipped put in: free loopback ports, the test's directories and passwords. A real agent
publishes to the store broker; the central broker is stopped while the agent goes on, and started again:
every interval the agent stored reaches a subscriber on the central tier, none lost.
"""

from __future__ import annotations

import getpass
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.integration.agent_process import AgentProcess, read_intervals, read_pending_ids
from tests.integration.browser import fleet_agent_config, simulated_door, wait_until
from tests.integration.mosquitto import Broker, Subscriber, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "firmware-config" / "mosquitto"
SITE = "store-042"  # the site id the shipped store.conf is written for
BRIDGE_PASSWORD = "bridge-Pa55"
USERS = {SITE: BRIDGE_PASSWORD, f"{SITE}/door-9": "agent-Pa55", "ops.dashboard": "dash-Pa55"}


def adapt(text: str, replace: dict[str, str | None], append: str = "") -> str:
    """A shipped config with the lines starting with each key of `replace` replaced (None: removed)."""
    out = []
    for line in text.splitlines():
        directive = line.split(" ", 1)[0]
        if directive in replace:
            if replace[directive] is not None:
                out.append(str(replace[directive]))
            continue
        out.append(line)
    return "\n".join(out) + "\n" + append


class ShippedBroker(Broker):
    """A mosquitto running the config `make_conf(workdir, port)` returns, stoppable and restartable."""

    def __init__(self, workdir: Path, make_conf: Callable[[Path, int], str]) -> None:
        workdir.mkdir()
        super().__init__(workdir)
        self.conf.write_text(f"user {getpass.getuser()}\nlog_dest stderr\n" + make_conf(workdir, self.port))

    def log(self) -> str:
        return (self.workdir / "mosquitto.log").read_text(errors="replace")


def central_conf(workdir: Path, port: int) -> str:
    passwd = workdir / "passwd"
    passwd.write_text("")
    for name, password in USERS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), name, password], check=True)
    (workdir / "acl").write_text((SHIPPED / "acl").read_text())
    return adapt(
        (SHIPPED / "central.conf").read_text(),
        {
            "listener": None,
            "protocol": None,
            "password_file": f"password_file {passwd}",
            "acl_file": f"acl_file {workdir / 'acl'}",
            "persistence_location": f"persistence_location {workdir}/",
        },
        f"listener {port} 127.0.0.1\nlistener {free_port()} lo\nprotocol websockets\n",
    )


def store_conf(central: Broker, workdir: Path, port: int) -> str:
    return adapt(
        (SHIPPED / "store.conf").read_text(),
        {
            "listener": f"listener {port} 127.0.0.1",
            "persistence_location": f"persistence_location {workdir}/",
            "address": f"address 127.0.0.1:{central.port}",
            "remote_password": f"remote_password {BRIDGE_PASSWORD}",
            # The shipped backoff starts at 2 s; a quicker first retry keeps the test short.
            "restart_timeout": "restart_timeout 1 2",
        },
    )


@dataclass
class Tier:
    central: ShippedBroker
    store: ShippedBroker


@pytest.fixture
def tier(tmp_path: Path) -> Iterator[Tier]:
    central = ShippedBroker(tmp_path / "central", central_conf)
    store = ShippedBroker(tmp_path / "store", partial(store_conf, central))
    central.start()
    store.start()
    try:
        yield Tier(central, store)
    finally:
        store.stop()
        central.stop()


def test_shipped_configs_are_complete() -> None:
    """The store's file names one site, the one its comments tell to replace; the central tier wants users."""
    store = (SHIPPED / "store.conf").read_text()
    assert set(re.findall(r"store-\d+", store)) == {SITE}
    assert "local_cleansession false" in store and "cleansession false" in store
    central = (SHIPPED / "central.conf").read_text()
    assert "allow_anonymous false" in central and "protocol websockets" in central


def test_intervals_published_in_a_store_reach_the_central_tier_through_an_outage_none_lost(
    tier: Tier, tmp_path: Path
) -> None:
    central = Subscriber(tier.central, "footfall/#", "central-consumer", username="ops.dashboard", password="dash-Pa55")
    agent = None
    try:
        link = f"footfall/{SITE}/bridge-connection"
        assert wait_until(lambda: (link, b"1") in {(t, p) for t, p, _ in central.snapshot()}, 15), tier.store.log()
        config = fleet_agent_config(
            tmp_path / "agent",
            tier.store,
            site=SITE,
            device="door-1",
            timezone="Europe/Berlin",
            sensors=simulated_door(),
        )
        agent = AgentProcess(config, tmp_path / "agent.log")
        assert wait_until(lambda: len(central.json_payloads()) >= 3, 20), agent.log_text()

        tier.central.stop()
        outage_start = time.time()
        db = tmp_path / "agent" / "data" / "footfall.db"
        time.sleep(6)
        assert len([start for _, start in read_intervals(db) if start >= outage_start]) >= 4
        # The store broker took them: they wait in its queue for the bridge, not in the agent's outbox.
        assert len(read_pending_ids(db)) <= 2
        tier.central.start()
        restored = time.time()
        assert wait_until(lambda: any(p["start_ts"] > restored for p in central.json_payloads()), 30), tier.store.log()
        assert agent.stop() == 0
        agent.log.close()
        stored = {json.loads(p)["id"] for p in read_intervals(db).values()}
        assert wait_until(lambda: stored <= {p["id"] for p in central.json_payloads()}, 30), (
            f"missing at the central tier: {sorted(stored - {p['id'] for p in central.json_payloads()})[:5]}"
        )
        received = [p["id"] for p in central.json_payloads()]
        in_outage = [p for p in central.json_payloads() if p["start_ts"] >= outage_start]
        assert len(in_outage) >= 5, "intervals closed during the outage came through"
        assert set(received) == stored, "nothing reached the central tier that the agent did not store"
        starts = [p["start_ts"] for p in central.json_payloads()]
        assert starts == sorted(starts), "the store's queue is delivered in order"
        statuses = [p for t, p, _ in central.snapshot() if t == f"footfall/{SITE}/door-1/status"]
        assert statuses[-1] == b"offline", "the agent's clean shutdown is forwarded too"
        print(
            f"\n{len(stored)} intervals stored, all {len(set(received))} at the central tier ({len(received)} messages)"
        )
    finally:
        if agent is not None:
            agent.kill()
        central.close()


def _client(broker: Broker, username: str | None, password: str | None) -> tuple[mqtt.Client, list[int]]:
    """A connected client and the reason codes of its CONNACKs."""
    codes: list[int] = []
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, u, f, reason, p: codes.append(reason.value)
    if username is not None:
        client.username_pw_set(username, password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    wait_until(lambda: codes, 5)
    return client, codes


def test_the_central_acl_lets_each_user_write_only_its_own_subtree(tier: Tier) -> None:
    watcher = Subscriber(tier.central, "footfall/#", "acl-watcher", username="ops.dashboard", password="dash-Pa55")
    clients = []
    try:
        attempts = {
            (f"{SITE}/door-9", "agent-Pa55"): [f"footfall/{SITE}/door-9/health", f"footfall/{SITE}/door-8/health"],
            (SITE, BRIDGE_PASSWORD): [f"footfall/{SITE}/door-7/health", "footfall/store-043/door-1/health"],
            ("ops.dashboard", "dash-Pa55"): [f"footfall/{SITE}/door-1/command"],
        }
        for (user, password), topics in attempts.items():
            client, codes = _client(tier.central, user, password)
            clients.append(client)
            assert codes == [0], f"{user} could not connect: {codes}"
            for topic in topics:
                client.publish(topic, f"from {user}", qos=1).wait_for_publish(5)
        for user, password in ((None, None), ("ops.dashboard", "wrong")):
            client, codes = _client(tier.central, user, password)
            clients.append(client)
            assert codes and codes[0] != 0, f"{user} with {password} was let in"
        time.sleep(1.0)
        got = {(t, p.decode()) for t, p, _ in watcher.snapshot() if not t.endswith("/bridge-connection")}
        assert got == {
            (f"footfall/{SITE}/door-9/health", f"from {SITE}/door-9"),
            (f"footfall/{SITE}/door-7/health", f"from {SITE}"),
        }
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        watcher.close()
