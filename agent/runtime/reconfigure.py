"""Re-wiring a running agent to a new config: what `reload` (SIGHUP or the `reload` command) does.

`agent.runtime.reload` decides purely what may change; this applies it on the interval loop's thread: closes
what is due, stops and starts the sources that changed, carries each kept sensor's counts over, and follows
new broker and discovery settings. Built before anything stops, new sources that cannot be made leave the
running config untouched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agent.config.agent import AgentConfig
from agent.config.errors import ConfigError
from agent.mqtt.commands import CommandFailed
from agent.runtime.health import SourceHealth
from agent.runtime.reload import ReloadPlan, plan_reload
from agent.sources.base import Source
from agent.sources.build import build_source

if TYPE_CHECKING:
    from agent.runtime.agent import Agent

log = logging.getLogger("agent.runtime.agent")
SOURCE_STOP_S = 1.0


def reload_from_disk(agent: Agent) -> dict[str, Any]:
    """Re-read the config and apply it; a broken or restart-only change is refused and nothing changes."""
    if agent._reload_config is None:
        log.error("reload rejected: the demo runs on built-in settings, there is no config file to re-read")
        raise CommandFailed("no config file to reload (the demo runs on built-in settings)")
    try:
        new = agent._reload_config()
    except ConfigError as exc:
        for error in exc.errors:
            log.error("reload rejected: %s", error)
        log.error("reload rejected: the running config stays in effect")
        raise CommandFailed("; ".join(exc.errors)) from None
    plan = plan_reload(agent.cfg, new)
    if plan.restart_required:
        for reason in plan.restart_required:
            log.error("reload rejected: %s, which needs a restart; the running config stays in effect", reason)
        raise CommandFailed("; ".join(plan.restart_required) + " (needs a restart)")
    if not plan.changes_anything:
        log.info("config reloaded: nothing changed")
        return plan.result()
    by_id = {s.id: s for s in new.sensors}
    # Built before anything stops, so a source that cannot be made leaves the running config untouched.
    sources = {sid: build_source(by_id[sid], agent, agent.tz, agent.clock) for sid in (*plan.changed, *plan.added)}
    _apply(agent, new, plan, sources)
    log.info("config reloaded: %s", plan.summary())
    return plan.result()


def _apply(agent: Agent, new: AgentConfig, plan: ReloadPlan, sources: dict[str, Source]) -> None:
    old = agent.cfg
    now = agent.clock()
    agent.close_due(now)
    for sid in (*plan.removed, *plan.changed):
        agent.sources[sid].stop(SOURCE_STOP_S)
    saved = agent.store.load_states() if plan.added else {}
    agent.cfg = new
    by_id = {s.id: s for s in new.sensors}
    with agent._persist:
        with agent._lock:
            # Removed sensors keep their last state in the store: counting resumes if they come back.
            states = {sid: agent.aggregators.pop(sid).snapshot() for sid in plan.removed}
            for sid in plan.removed:
                del agent.health[sid]
                agent._dirty.discard(sid)
            for sid in plan.changed:
                # The same counts continue under the new settings; the restarted source reports up again.
                agent.aggregators[sid] = agent._new_aggregator(by_id[sid], agent.aggregators[sid].snapshot(), now)
            for sid in plan.added:
                agent.aggregators[sid] = agent._new_aggregator(by_id[sid], saved.get(sid), now)
                agent.health[sid] = SourceHealth()
            agent.aggregators = {s.id: agent.aggregators[s.id] for s in new.sensors}
            agent.health = {s.id: agent.health[s.id] for s in new.sensors}
            states.update({sid: agg.snapshot() for sid, agg in agent.aggregators.items()})
        agent.persistence.save(states, now, "saving a reload")
    agent.sources = {s.id: sources[s.id] if s.id in sources else agent.sources[s.id] for s in new.sensors}
    for sid in sources:
        agent.sources[sid].start()
    for sid in plan.removed:
        agent.states.forget(sid)
        agent.scoring.remove(sid)
    for sid in plan.added:
        agent._add_anomaly(sid)
    if plan.anomaly:
        agent.scoring.retune(old.scores_anomalies, new.scores_anomalies, new.anomaly, agent.aggregators)
    if plan.log_level:
        logging.getLogger().setLevel(new.log_level.upper())
    if plan.health:
        agent._next_health = now
    _rewire_mqtt(agent, old, new, plan)
    if agent.publisher is not None:
        for sid in plan.removed:
            agent.publisher.publish_retained(agent.topics.state(sid), b"")
        for sensor in agent.aggregators:
            agent._publish_state(sensor, now)


def _rewire_mqtt(agent: Agent, old: AgentConfig, new: AgentConfig, plan: ReloadPlan) -> None:
    """Follow new broker and discovery settings: withdraw from the old, announce to the new."""
    if plan.homeassistant and old.homeassistant.enabled:
        agent._withdraw(old)
    if plan.mqtt:
        previous, agent.publisher = agent.publisher, None
        if previous is not None:
            previous.stop(2.0)
        if new.mqtt.enabled:
            agent.publisher = agent._new_publisher(new)
            agent._seen_connections = 0
            agent.publisher.start()
            log.info("MQTT: connecting with the new settings to %s:%d", new.mqtt.host, new.mqtt.effective_port())
    elif plan.homeassistant and new.homeassistant.enabled and agent.publisher is not None:
        for topic_filter in agent.home_assistant.filters(new.homeassistant.discovery_prefix):
            agent.publisher.subscribe(topic_filter, qos=1)
    if new.homeassistant.enabled:
        agent._announce()
