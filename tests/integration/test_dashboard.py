"""The fleet dashboard in headless Chromium against a real broker and real agents of a small chain.

One Mosquitto with the chain's password file and the shipped ACL (firmware-config/mosquitto/acl), with a
WebSocket listener for the page; `footfall-agent dashboard` serves the page; agents in three time zones
publish as their own users. The page is driven as an operator would: user and password typed in, Connect
clicked. What it shows is checked against what a plain MQTT subscriber received at the same time.
"""

from __future__ import annotations

import json
import signal
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

# The agent's payload models, for the two messages the test publishes itself: the only imports from the agent.
from agent import __version__
from agent.mqtt.payloads import AnomalyEventPayload, IntervalPayload, LineCounts, SensorState, ZoneCounts
from tests.integration.agent_process import AgentProcess
from tests.integration.browser import (
    DashboardServer,
    TimedSubscriber,
    WsBroker,
    fleet_agent_config,
    missing_browser,
    simulated_door,
    start_chromium,
    wait_until,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser())),
]

ROOT = Path(__file__).resolve().parents[2]
ACL = (ROOT / "firmware-config" / "mosquitto" / "acl").read_text()
DASHBOARD_USER, DASHBOARD_PASSWORD = "ops.dashboard", "dash-Pa55"
CAMERA_USER, CAMERA_PASSWORD = "lyon-2/cam-1", "pw-cam-1"

# site, device, time zone, sensors, interval length
AGENTS = {
    "berlin": ("berlin-1", "door-a", "Europe/Berlin", simulated_door("door", 1), "1s"),
    "nyc": ("nyc-7", "door-b", "America/New_York", simulated_door("door", 2), "1s"),
    "victim": ("nyc-7", "door-k", "America/New_York", simulated_door("door", 3), "1s"),
    # A serial counter whose port does not exist: its source never comes up, so the first 1-minute interval
    # that closes has no data, and the agent's anomaly detector reports a `no-data` fault event for it.
    "pune": (
        "pune-3",
        "door-c",
        "Asia/Kolkata",
        simulated_door("door", 4) + "  - id: side\n    type: serial-lines\n    port: {tmp}/no-such-tty\n",
        "1m",
    ),
}


def utc_label(zone: str) -> str:
    """How the page names a zone's offset now: `UTC+01:00`."""
    offset = datetime.now(ZoneInfo(zone)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def publish_as(fleet: Fleet, user: str, password: str, messages: list[tuple[str, Any, bool]]) -> None:
    """Publish payload models as the broker user `user`, QoS 1, each acknowledged before returning."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"as-{user}")
    client.username_pw_set(user, password)
    client.connect(fleet.broker.host, fleet.broker.port)
    client.loop_start()
    try:
        for topic, model, retain in messages:
            client.publish(topic, model.model_dump_json(), qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


@dataclass
class Fleet:
    broker: WsBroker
    agents: dict[str, AgentProcess]
    subscriber: TimedSubscriber
    driver: Any
    url: str
    artefacts: Path

    @staticmethod
    def prefix_of(name: str) -> str:
        site, device = AGENTS[name][:2]
        return f"footfall/{site}/{device}"

    def prefix(self, name: str) -> str:
        return self.prefix_of(name)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def row(self, name: str) -> dict[str, Any] | None:
        """The fleet table's row of an agent: its cells' text and class by column, and its interval id."""
        return self.js(
            """const tr = document.querySelector(`#fleet tbody tr[data-key="${arguments[0]}"]`);
            if (!tr) return null;
            const out = {intervalId: tr.dataset.intervalId || null, hidden: tr.hidden, cls: tr.className};
            for (const td of tr.cells) out[td.dataset.col] = {text: td.textContent, cls: td.className};
            return out;""",
            self.prefix(name),
        )

    def intervals(self, name: str) -> list[tuple[float, dict]]:
        """Interval payloads of an agent as the subscriber received them, with their arrival times."""
        topic = f"{self.prefix(name)}/sensors/"
        return [
            (t, json.loads(p))
            for t, top, p, _ in self.subscriber.timed()
            if top.startswith(topic) and "/interval" in top
        ]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("dashboard")
    users = {DASHBOARD_USER: DASHBOARD_PASSWORD}
    users.update({f"{site}/{device}": f"pw-{device}" for site, device, *_ in AGENTS.values()})
    users[CAMERA_USER] = CAMERA_PASSWORD
    (tmp / "broker").mkdir()
    broker = WsBroker(tmp / "broker", users=users, acl=ACL)
    broker.start()
    agents: dict[str, AgentProcess] = {}
    subscriber = None
    dashboard = None
    driver = None
    try:
        subscriber = TimedSubscriber(
            broker, "footfall/#", "dashboard-test-subscriber", username=DASHBOARD_USER, password=DASHBOARD_PASSWORD
        )

        def start(name: str) -> None:
            site, device, zone, sensors, interval = AGENTS[name]
            config = fleet_agent_config(
                tmp / name,
                broker,
                site=site,
                device=device,
                timezone=zone,
                sensors=sensors.format(tmp=tmp),
                interval=interval,
                username=f"{site}/{device}",
                password=f"pw-{device}",
            )
            agents[name] = AgentProcess(config, tmp / f"{name}.log")

        early = [name for name in AGENTS if name != "pune"]
        for name in early:
            start(name)
        # The page connects after these agents are online, so that their status reaches it as retained.
        online = {f"{Fleet.prefix_of(name)}/status" for name in early}
        assert wait_until(
            lambda: online <= {t for t, p, _ in subscriber.snapshot() if t.endswith("/status") and p == b"online"},
            30,
        ), {name: agent.log_text()[-2000:] for name, agent in agents.items()}
        dashboard = DashboardServer(tmp / "dashboard.log", "--broker", broker.ws_url)
        driver = start_chromium(tmp / "chromium")
        driver.get(dashboard.url)
        driver.find_element("id", "username").send_keys(DASHBOARD_USER)
        driver.find_element("id", "password").send_keys(DASHBOARD_PASSWORD)
        driver.find_element("id", "connect").click()
        fleet = Fleet(broker, agents, subscriber, driver, dashboard.url, tmp)
        assert wait_until(
            lambda: fleet.js("return document.getElementById('conn-state').textContent") == "connected", 15
        )
        # Events are not retained: the agent whose fault event the page must show starts once it is listening.
        start("pune")
        yield fleet
    finally:
        if driver is not None:
            driver.quit()
        if dashboard is not None:
            dashboard.stop()
        for agent in agents.values():
            agent.kill()
        if subscriber is not None:
            subscriber.close()
        broker.stop()


def test_the_page_lists_every_device_with_intervals_in_its_own_local_time(fleet: Fleet) -> None:
    names = [n for n in AGENTS if n != "pune"]  # pune closes its first interval only at the next full minute
    assert wait_until(lambda: all((fleet.row(n) or {}).get("intervalId") for n in names), 15), fleet.js(
        "return document.querySelector('#fleet').outerHTML"
    )
    assert wait_until(lambda: fleet.js("return document.querySelectorAll('#fleet tbody tr').length") == len(AGENTS), 15)
    offsets = set()
    for name in names:
        row = fleet.row(name)
        assert row is not None
        site, device = AGENTS[name][:2]
        assert (row["site"]["text"], row["device"]["text"]) == (site, device)
        assert row["status"]["text"] == "online"
        assert "retained" in row["status"]["cls"], "the status came from the broker's retained copy"
        shown = {p["id"]: p for _, p in fleet.intervals(name)}[row["intervalId"]]
        offset = shown["end"][19:]
        offsets.add(offset)
        assert row["interval"]["text"] == f"{shown['end'][11:19]} UTC{offset}", "the device's wall clock"
    assert {f"UTC{o}" for o in offsets} == {utc_label("Europe/Berlin"), utc_label("America/New_York")}
    assert wait_until(lambda: (fleet.row("pune") or {}).get("status", {}).get("text") == "online", 15)
    assert "live" in (fleet.row("pune") or {})["status"]["cls"], "this agent came online while the page watched"
    assert fleet.js("return localStorage.length") == 0, "nothing is stored unless 'remember' is ticked"


def test_a_new_interval_shows_within_2_s_of_its_publication(fleet: Fleet) -> None:
    def news(seen: set[str]) -> list[tuple[float, dict]]:
        return [(t, p) for t, p in fleet.intervals("berlin") if p["id"] not in seen]

    def shown_at(interval_id: str) -> float | None:
        logged = fleet.js("return window.footfallDashboard.stats().intervals")
        return next((shown for i, _, shown in logged if i == interval_id), None)

    latencies = []
    for _ in range(5):
        new = wait_until(partial(news, {p["id"] for _, p in fleet.intervals("berlin")}), 5)
        assert new, "the agent stopped publishing intervals"
        arrived, payload = new[0]
        shown = wait_until(partial(shown_at, payload["id"]), 5)
        assert shown is not None, f"{payload['id']} never shown"
        latencies.append(shown / 1000 - arrived)
        now_shown = (fleet.row("berlin") or {}).get("intervalId")
        assert now_shown in {p["id"] for _, p in fleet.intervals("berlin") if p["start_ts"] >= payload["start_ts"]}
    print(f"\ninterval shown after its arrival at a subscriber: median {statistics.median(latencies) * 1000:.0f} ms")
    assert max(latencies) <= 2.0, latencies


def test_a_sigkilled_agent_is_marked_offline_through_its_last_will(fleet: Fleet) -> None:
    row = fleet.row("victim")
    assert row is not None and row["status"]["text"] == "online"
    fleet.agents["victim"].signal(signal.SIGKILL)
    fleet.agents["victim"].wait(10)
    # keepalive 5 s: the broker gives up on the silent connection after 7.5 s and publishes the will.
    assert wait_until(lambda: (fleet.row("victim") or {})["status"]["text"] == "offline", 20)
    row = fleet.row("victim")
    assert row is not None
    assert "offline" in row["status"]["cls"] and "live" in row["status"]["cls"], row["status"]
    assert "is-offline" in row["cls"]
    assert (fleet.row("nyc") or {})["status"]["text"] == "online", "only the killed device is offline"


def test_a_traffic_anomaly_and_a_real_fault_event_appear_in_the_feeds(fleet: Fleet) -> None:
    # A real traffic anomaly needs weeks of warm-up at 1-minute intervals or more, so this event is built
    # by the agent's own payload model and published with the Berlin agent's credentials, as its agent would.
    zone = ZoneInfo("Europe/Berlin")
    start_ts = float(int(time.time()) // 60 * 60)
    start = datetime.fromtimestamp(start_ts, zone).isoformat()
    traffic = AnomalyEventPayload(
        id=f"berlin-1/door-a/door/ins/traffic/{start}/start",
        site="berlin-1",
        device="door-a",
        sensor="door",
        metric="ins",
        phase="start",
        kind="traffic",
        fault=None,
        start=start,
        start_ts=start_ts,
        end=None,
        end_ts=None,
        peak_z=6.2,
        peak_count=140.0,
        peak_expected=41.5,
        intervals=1,
        agent_version=__version__,
    )
    publish_as(
        fleet, "berlin-1/door-a", "pw-door-a", [(f"{fleet.prefix('berlin')}/sensors/door/anomaly", traffic, False)]
    )
    feed = "return [...document.querySelectorAll('#fleet-feed li')].map(li => [li.dataset.eventId, li.textContent])"
    assert wait_until(lambda: any(i == traffic.id for i, _ in fleet.js(feed)), 5)
    text = next(t for i, t in fleet.js(feed) if i == traffic.id)
    assert "berlin-1/door-a/door ins: traffic anomaly started" in text and "peak z +6.2" in text
    assert f"{start[11:19]} {utc_label('Europe/Berlin')}" in text
    assert (fleet.row("berlin") or {})["anomalies"]["text"] == "door ins z +6.2"

    # The Pune agent's serial counter has no port: its first full minute closes with no data, and the agent
    # publishes a real `no-data` fault event.
    def fault_ids() -> list[str]:
        return [i for i, _ in fleet.js(feed) if i.startswith("pune-3/door-c/side/") and "/no-data/" in i]

    assert wait_until(fault_ids, 75, interval=0.5), fleet.agents["pune"].log_text()[-3000:]
    real = [p for _, top, p, _ in fleet.subscriber.timed() if top == f"{fleet.prefix('pune')}/sensors/side/anomaly"]
    assert {json.loads(p)["id"] for p in real} >= set(fault_ids()), "the page shows what the agent published"
    assert wait_until(lambda: "side: no-data" in (fleet.row("pune") or {})["faults"]["text"], 5)


def test_the_site_view_shows_counts_health_and_todays_intervals(fleet: Fleet) -> None:
    fleet.js("window.footfallDashboard.openSite('berlin-1')")
    card = "document.querySelector('#site-devices .device-card')"
    assert wait_until(lambda: fleet.js(f"return {card} && {card}.querySelector('canvas') !== null"), 10)
    text = fleet.js(f"return {card}.textContent")
    assert "door-a" in text and "agent v" in text and utc_label("Europe/Berlin") in text
    figures = dict(
        fleet.js(
            f"return [...{card}.querySelectorAll('.figure')].map(f => [f.querySelector('.k').textContent, "
            "f.querySelector('.v').textContent])"
        )
    )
    topic = f"{fleet.prefix('berlin')}/sensors/door/state"
    states = [json.loads(p) for _, t, p, _ in fleet.subscriber.timed() if t == topic]
    assert int(figures["inside now"]) in {s["occupancy"] for s in states[-3:]}, "occupancy from the latest state"
    rows = fleet.js(f"return {card}.querySelectorAll('table.intervals tr').length")
    assert rows >= 2, "today's intervals are listed"
    feed = fleet.js("return [...document.querySelectorAll('#site-feed li')].map(li => li.dataset.eventId)")
    assert any("/traffic/" in i for i in feed), "the site's events"
    shot = fleet.artefacts / "dashboard-site.png"
    fleet.driver.save_screenshot(str(shot))
    fleet.js("document.getElementById('tab-fleet').click()")
    time.sleep(0.3)
    fleet.driver.save_screenshot(str(fleet.artefacts / "dashboard-fleet.png"))
    print(f"\nscreenshots: {shot} and {fleet.artefacts / 'dashboard-fleet.png'}")
    assert shot.stat().st_size > 10_000


def test_the_fleet_table_sorts_and_filters_by_site(fleet: Fleet) -> None:
    fleet.js("document.getElementById('tab-fleet').click()")
    shown = (
        "return [...document.querySelectorAll('#fleet tbody tr')].filter(tr => !tr.hidden)"
        ".map(tr => tr.cells[0].textContent)"
    )
    sites = fleet.js(shown)
    assert sites == sorted(sites) and len(set(sites)) >= 3
    fleet.js("document.querySelector('#fleet th[data-col=site]').click()")
    assert wait_until(lambda: fleet.js(shown) == sorted(sites, reverse=True), 3), fleet.js(shown)
    fleet.js("document.querySelector('#fleet th[data-col=site]').click()")
    assert wait_until(lambda: fleet.js(shown) == sorted(sites), 3)
    set_filter = (
        "const f = document.getElementById('site-filter'); f.value = arguments[0]; f.dispatchEvent(new Event('input'))"
    )
    fleet.js(set_filter, "NYC")
    assert wait_until(lambda: fleet.js(shown) == ["nyc-7", "nyc-7"], 3), fleet.js(shown)
    fleet.js(set_filter, "")
    assert wait_until(lambda: fleet.js(shown) == sorted(sites), 3)


def test_a_camera_sensor_shows_its_lines_and_zones_in_the_site_view(fleet: Fleet) -> None:
    # A camera agent needs a video source: this camera's interval and state are built by the agent's own
    # payload models and published with the camera device's credentials, as its agent would publish them.
    zone = ZoneInfo("Europe/Paris")
    end_ts = float(int(time.time()) // 60 * 60)
    start, end = (datetime.fromtimestamp(t, zone).isoformat() for t in (end_ts - 60, end_ts))
    site, device, sensor = "lyon-2", "cam-1", "entrance"
    interval = IntervalPayload(
        id=f"{site}/{device}/{sensor}/{start}",
        site=site,
        device=device,
        sensor=sensor,
        start=start,
        end=end,
        start_ts=end_ts - 60,
        duration_s=60.0,
        ins=7,
        outs=5,
        occupancy=9,
        total_in=1007,
        total_out=998,
        coverage_s=60.0,
        coverage=1.0,
        rejected_lines=0,
        disconnects=0,
        counter_resets=0,
        lines={"door": LineCounts(ins=7, outs=4), "side": LineCounts(ins=0, outs=1)},
        zones={
            "queue": ZoneCounts(entries=4, exits=3, occupancy=2, dwell_count=3, dwell_median_s=95.0, dwell_mean_s=110.2)
        },
        agent_version=__version__,
    )
    state = SensorState.model_validate(
        {
            "site": site,
            "device": device,
            "sensor": sensor,
            "ts": end_ts,
            "at": end,
            "source_up": True,
            "occupancy": 9,
            "zone_occupancy": {"queue": 3},
            "day_start": datetime.fromtimestamp(end_ts, zone).replace(hour=4, minute=0, second=0).isoformat(),
            "ins_today": 120,
            "outs_today": 111,
            "last_interval": {"start": start, "end": end, "ins": 7, "outs": 5, "coverage": 1.0},
        }
    )
    prefix = f"footfall/{site}/{device}/sensors/{sensor}"
    publish_as(
        fleet, CAMERA_USER, CAMERA_PASSWORD, [(f"{prefix}/state", state, True), (f"{prefix}/interval", interval, False)]
    )
    assert wait_until(
        lambda: fleet.js("return document.querySelector('#fleet tbody tr[data-key=\"footfall/lyon-2/cam-1\"]')"), 5
    )
    fleet.js("window.footfallDashboard.openSite('lyon-2')")
    rows = (
        "return [...document.querySelectorAll(arguments[0] + ' tr')].slice(1)"
        ".map(tr => [...tr.cells].map(td => td.textContent))"
    )
    assert wait_until(lambda: fleet.js(rows, "#site-devices table.lines"), 5)
    assert fleet.js(rows, "#site-devices table.lines") == [["door", "7", "4"], ["side", "0", "1"]]
    # Occupancy now from the state, the interval's entries, exits and dwell times.
    assert fleet.js(rows, "#site-devices table.zones") == [["queue", "3", "4", "3", "1m35s", "1m50s"]]
    fleet.js("document.getElementById('tab-fleet').click()")


def test_a_wrong_password_is_refused_and_said_so_without_retrying(fleet: Fleet) -> None:
    driver = fleet.driver
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        driver.get(fleet.url)
        driver.find_element("id", "username").send_keys(DASHBOARD_USER)
        driver.find_element("id", "password").send_keys("not-the-password")
        driver.find_element("id", "connect").click()
        state = "return ['conn-state', 'conn-detail'].map(id => document.getElementById(id).textContent)"
        assert wait_until(lambda: fleet.js(state)[0] == "error", 10)
        assert "refused the user name or password" in fleet.js(state)[1]
        time.sleep(4)
        assert fleet.js(state)[0] == "error", "no reconnecting with the same refused password"
        assert fleet.js("return document.querySelectorAll('#fleet tbody tr').length") == 0
    finally:
        driver.close()
        driver.switch_to.window(first)
