"""The running agent's anomaly scorers, one per sensor: restored from the store in the background, scoring
each closed interval into its payload and events, retuned on reload.

A detector bug must never stop counting, so every failure here is contained: the interval is then committed
without a score.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import tzinfo
from typing import Any

from agent.aggregation.records import ClosedInterval
from agent.anomaly.detector import OrderError
from agent.anomaly.sensor import SensorAnomaly
from agent.anomaly.settings import AnomalySettings
from agent.mqtt.payloads import IntervalAnomaly, anomaly_event_payload, metric_score
from agent.mqtt.topics import Topics
from agent.store.database import Store

log = logging.getLogger(__name__)


class AnomalyScoring:
    """Scorers by sensor id. Detector states stay in the store also while no detector scores their sensor
    (detection turned off, sensor removed by a reload), so that they resume where they were."""

    def __init__(
        self,
        store: Store,
        interval_s: int,
        tz: tzinfo,
        site: str,
        device: str,
        topics: Topics,
        unexpected: Callable[[str, Exception], None],
    ) -> None:
        self.store = store
        self.interval_s = interval_s
        self.tz = tz
        self.site = site
        self.device = device
        self.topics = topics
        self._unexpected = unexpected
        self.scorers: dict[str, SensorAnomaly] = {}
        self._restoring: dict[str, threading.Thread] = {}

    def add(self, sensor: str, settings: AnomalySettings) -> None:
        """Start scoring `sensor`, from its committed detector state if there is a usable one."""
        args = (sensor, settings, self.interval_s, self.tz)
        try:
            scorer = SensorAnomaly(*args, state=self.store.load_anomaly(sensor))
            if scorer.slot_shift:
                log.warning(
                    "%s: the anomaly detector learned in time zone %s and now runs in %s; what it learned is "
                    "moved by %+g h to the same local hours",
                    sensor,
                    scorer.saved_tz_name,
                    scorer.tz_name,
                    scorer.slot_shift * scorer.interval_s / 3600,
                )
        except ValueError as e:
            log.error("%s: saved anomaly detector state unusable (%s); its warm-up starts afresh", sensor, e)
            scorer = SensorAnomaly(*args)
        self.scorers[sensor] = scorer
        # Expanding a saved detector into its week of slots (10080 per count at 1-minute intervals) is done
        # meanwhile, so that it neither delays the start nor the first close. Only `score` waits for it.
        thread = threading.Thread(target=_prepare, args=(scorer,), name=f"anomaly-{sensor}", daemon=True)
        self._restoring[sensor] = thread
        thread.start()

    def remove(self, sensor: str) -> None:
        self.scorers.pop(sensor, None)

    def score(self, c: ClosedInterval) -> tuple[IntervalAnomaly | None, list[tuple[str, bytes]]]:
        """The scores for `c`'s payload and its event messages; None and none when detection is off or failed."""
        scorer = self.scorers.get(c.sensor)
        if scorer is None:
            return None, []
        restoring = self._restoring.pop(c.sensor, None)
        if restoring is not None:
            restoring.join()
        try:
            verdict = scorer.score(c)
            ins, outs = (metric_score(verdict.scores[m]) for m in ("ins", "outs"))
            messages = []
            for event in verdict.events:
                doc = anomaly_event_payload(event, self.site, self.device, self.tz)
                messages.append((self.topics.anomaly(c.sensor), doc.model_dump_json().encode()))
            return IntervalAnomaly(ins=ins, outs=outs), messages
        except OrderError:
            # The detector has seen later intervals than this one: the clock was set back past what it learned
            # (a wrong clock at some time). It would refuse every interval until the clock caught up again.
            log.warning("%s: the clock went back before what the anomaly detector has seen; it starts afresh", c.sensor)
            self.scorers[c.sensor] = SensorAnomaly(c.sensor, scorer.settings, scorer.interval_s, self.tz)
        except Exception as exc:  # noqa: BLE001 - the interval is committed without a score
            self._unexpected(f"scoring an interval of {c.sensor}", exc)
        return None, []

    def changes(self, sensors: Iterable[str]) -> dict[str, Any]:
        """What each scorer of `sensors` learned since it was last saved, to commit with its intervals."""
        changes = {}
        for sensor in sensors:
            scorer = self.scorers.get(sensor)
            if scorer is None:
                continue
            try:
                changes[sensor] = scorer.changes()
            except Exception as exc:  # noqa: BLE001 - the intervals are committed with the last good detector state
                self._unexpected(f"saving the anomaly detector of {sensor}", exc)
        return changes

    def saved(self, changes: dict[str, Any]) -> None:
        for sensor, change in changes.items():
            self.scorers[sensor].saved(change)

    def retune(
        self, enabled_before: bool, enabled_now: bool, settings: AnomalySettings, sensors: Iterable[str]
    ) -> None:
        """Follow new anomaly settings; what was learned is kept (see `agent.runtime.reload`)."""
        for thread in self._restoring.values():
            thread.join()
        self._restoring.clear()
        if not enabled_now:
            # Everything scored is committed (the reload closed what was due): the store keeps it for later.
            self.scorers.clear()
        elif not enabled_before:
            for sensor in sensors:
                if sensor not in self.scorers:
                    self.add(sensor, settings)
        else:
            for scorer in self.scorers.values():
                scorer.retune(settings)


def _prepare(scorer: SensorAnomaly) -> None:
    """Restore a scorer's detectors ahead of its first interval; an unusable state leaves fresh ones."""
    try:
        scorer.detectors  # noqa: B018 - the property restores on first use
    except Exception as e:  # noqa: BLE001 - the scorer carries on with fresh detectors
        log.error("%s: saved anomaly detector state unusable (%s); its warm-up starts afresh", scorer.sensor, e)
