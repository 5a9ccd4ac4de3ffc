"""The health report of a running agent, read from its sources, the machine, the store and the publisher."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent import __version__
from agent.aggregation.clock import local_iso
from agent.runtime.health import (
    HealthPayload,
    MqttReport,
    SourceReport,
    health_payload,
    read_store,
    read_system,
)

if TYPE_CHECKING:
    from agent.runtime.agent import Agent


def health_report(agent: Agent, now: float) -> HealthPayload:
    """The health report as of `now`, read from the sources, the machine, the store and the publisher."""
    with agent._lock:
        seen = {sid: (h.up, h.since, h.reason, h.rejected) for sid, h in agent.health.items()}
    sources = {}
    for sid, (up, since, reason, rejected) in seen.items():
        source = agent.sources.get(sid)
        sources[sid] = SourceReport(
            state="up" if up else "down",
            since=local_iso(since, agent.tz) if since else None,
            reason=reason or None,
            rejected_lines=rejected,
            **(source.readings() if source is not None else {}),
        )
    depth, oldest, used = agent.persistence.store_stats()
    mqtt = None
    if agent.publisher is not None:
        stats = agent.publisher.stats()
        mqtt = MqttReport(
            connected=stats.connected,
            reconnects=stats.reconnects,
            connect_failures=stats.connect_failures,
            last_error=stats.last_error,
        )
    return health_payload(
        now=now,
        started=agent.started,
        tz=agent.tz,
        site=agent.cfg.site,
        device=agent.cfg.device,
        version=__version__,
        sources=sources,
        system=read_system(),
        store=read_store(agent.store.directory, used, agent.store.max_bytes),
        faults=agent.persistence.guard.faults(),
        clock=agent.wall_clock.readings() if agent.wall_clock is not None else None,
        outbox_depth=depth,
        outbox_oldest=oldest,
        mqtt=mqtt,
    )
