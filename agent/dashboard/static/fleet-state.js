/*
 * The fleet as the MQTT messages describe it: devices, their sensors, today's intervals and the event feeds.
 * Pure state: no DOM and no MQTT client; the page learns what changed through `listener`.
 *
 * A device is a topic prefix (`<prefix>/status|health|sensors/<sensor>/interval|state|anomaly`); its site
 * and device ids come from the payloads, so any `mqtt.topic_prefix` works.
 */
(function (F) {
  'use strict';

  const { offsetMinutes, isoSeconds, localDayStart, num } = F.format;

  const HEALTH_STALE_MIN_S = 180; // three missed reports at the default health.period of 1 min
  const FEED_MAX = 200; // events kept per site and in the fleet-wide feed
  const SEEN_IDS_MAX = 20000; // message ids remembered to drop at-least-once duplicates
  const SENSOR_TOPIC = /^(.+)\/sensors\/([^/]+)\/(interval|state|anomaly)$/;
  // Fields of one interval in a sensor's series (one flat array of numbers, NaN for null).
  const F_START = 0, F_DUR = 1, F_INS = 2, F_OUTS = 3, F_EXP_IN = 4, F_Z_IN = 5, F_EXP_OUT = 6, F_FLAGS = 7;
  const STRIDE = 8;
  const FLAG_ANOMALY = 1, FLAG_FAULT = 2;

  /** What the page does when the state changes; the page wiring sets these. */
  const listener = {
    changed: (d) => {}, // something shown of device `d` changed
    identified: (d, newSite) => {}, // `d` got its site and device ids; `newSite` when its site is new
    interval: (d, s) => {}, // sensor `s` of `d` got a new interval
    event: (entry) => {}, // an anomaly or fault episode started or ended
    ignored: () => {}, // a payload that is not JSON or names no site and device
  };

  class Sensor {
    constructor(name) {
      this.name = name;
      this.state = null;
      this.stateRetained = false;
      this.interval = null; // latest interval payload
      this.series = []; // today's intervals, STRIDE numbers each, in start order
      this.chart = null; // the site view's chart of the series
    }

    /** Add an interval to today's series (replacing a re-sent one), dropping earlier days. */
    addInterval(doc, dayStart) {
      const start = num(doc.start_ts);
      if (!isFinite(start)) return;
      const s = this.series;
      let cut = 0;
      while (cut < s.length && s[cut + F_START] < dayStart) cut += STRIDE;
      if (cut) s.splice(0, cut);
      if (start < dayStart) return;
      const a = doc.anomaly || {};
      const ins = a.ins || {}, outs = a.outs || {};
      const flags = (ins.anomaly || outs.anomaly ? FLAG_ANOMALY : 0) | (ins.fault || outs.fault ? FLAG_FAULT : 0);
      const row = [start, num(doc.duration_s), num(doc.ins), num(doc.outs), num(ins.expected), num(ins.z),
        num(outs.expected), flags];
      let at = s.length;
      while (at > 0 && s[at - STRIDE + F_START] > start) at -= STRIDE;
      if (at > 0 && s[at - STRIDE + F_START] === start) s.splice(at - STRIDE, STRIDE, ...row);
      else s.splice(at, 0, ...row);
    }
  }

  class Device {
    constructor(prefix) {
      this.prefix = prefix;
      this.site = null;
      this.device = null;
      this.status = null;
      this.statusRetained = false;
      this.health = null;
      this.healthRetained = false;
      this.healthPeriod = null; // seconds between the last two reports seen
      this.offset = null; // minutes east of UTC, from the latest payload with an ISO timestamp
      this.sensors = new Map();
      this.last = null; // {end, duration, id, retained, sensor}: the latest interval of any sensor
      this.episodes = new Map(); // open anomaly and fault episodes, by id without the phase
      // Kept here for the fleet table: the device's row, and what it showed at its last update.
      this.row = null;
      this.cells = null;
      this.pendingIds = []; // [interval id, received ms] waiting for the row to show them
      this.complete = false;
      this.faultList = []; // faults() and anomalies() as of the last row update
      this.anomalyList = [];
    }

    get known() { return this.site !== null && this.device !== null; }

    get name() { return `${this.site}/${this.device}`; }

    sensor(name) {
      let s = this.sensors.get(name);
      if (!s) { s = new Sensor(name); this.sensors.set(name, s); }
      return s;
    }

    noteOffset(iso) {
      const m = offsetMinutes(iso);
      if (m !== null) this.offset = m;
    }

    intervalAge(now) {
      return this.last ? now - this.last.end : null;
    }

    intervalStale(now) {
      if (!this.last) return false;
      const d = isFinite(this.last.duration) && this.last.duration > 0 ? this.last.duration : 900;
      return now - this.last.end > 2 * d + 30;
    }

    healthAge(now) {
      return this.health ? now - Number(this.health.ts) : null;
    }

    healthStale(now) {
      if (!this.health) return false;
      return this.healthAge(now) > Math.max(HEALTH_STALE_MIN_S, 3 * (this.healthPeriod || 0));
    }

    faults() {
      const out = new Set();
      const sources = (this.health && this.health.sources) || {};
      for (const [name, src] of Object.entries(sources)) {
        if (src && src.state === 'down') out.add(`${name}: source-down`);
      }
      for (const s of this.sensors.values()) {
        if (s.state && s.state.fault) out.add(`${s.name}: ${s.state.fault}`);
      }
      for (const e of this.episodes.values()) {
        if (e.kind === 'fault') out.add(`${e.sensor}: ${e.fault || 'fault'}`);
      }
      const t = this.health && this.health.system && this.health.system.throttling;
      if (t && t.under_voltage) out.add('under-voltage');
      if (t && t.throttled) out.add('throttled');
      return [...out].sort();
    }

    anomalies() {
      const out = new Set();
      for (const e of this.episodes.values()) {
        if (e.kind === 'traffic') {
          const z = e.peak_z === null || e.peak_z === undefined ? '' : ` z ${e.peak_z > 0 ? '+' : ''}${e.peak_z}`;
          out.add(`${e.sensor} ${e.metric}${z}`);
        }
      }
      for (const s of this.sensors.values()) {
        if (s.state && s.state.anomaly && ![...out].some((t) => t.startsWith(`${s.name} `))) {
          out.add(`${s.name} ins z ${s.state.z}`);
        }
      }
      return [...out].sort();
    }

    sum(field) {
      let total = 0, any = false;
      for (const s of this.sensors.values()) {
        if (s.state && s.state[field] !== undefined && s.state[field] !== null) {
          total += Number(s.state[field]);
          any = true;
        }
      }
      return any ? total : null;
    }

    problem(now) {
      return this.status === 'offline' || this.intervalStale(now) || this.healthStale(now) ||
        this.faultList.length > 0 || this.anomalyList.length > 0;
    }
  }

  const model = {
    devices: new Map(), // by topic prefix
    sites: new Map(), // site id -> Set of devices
    fleetFeed: [],
    siteFeeds: new Map(),
    seenIds: new Set(),
    seenOrder: [],
  };

  /** Forget everything (a new connection starts from what the broker sends). */
  function clear() {
    model.devices.clear();
    model.sites.clear();
    model.fleetFeed.length = 0;
    model.siteFeeds.clear();
    model.seenIds.clear();
    model.seenOrder.length = 0;
  }

  /** First sight of an at-least-once message id; false for a duplicate. */
  function firstSight(id) {
    if (typeof id !== 'string') return true;
    if (model.seenIds.has(id)) return false;
    model.seenIds.add(id);
    model.seenOrder.push(id);
    if (model.seenOrder.length > SEEN_IDS_MAX) model.seenIds.delete(model.seenOrder.shift());
    return true;
  }

  function parseTopic(topic) {
    const m = SENSOR_TOPIC.exec(topic);
    if (m) return { prefix: m[1], kind: m[3], sensor: m[2] };
    if (topic.endsWith('/status')) return { prefix: topic.slice(0, -7), kind: 'status', sensor: null };
    if (topic.endsWith('/health')) return { prefix: topic.slice(0, -7), kind: 'health', sensor: null };
    return null;
  }

  function changed(d) {
    listener.changed(d);
    return true;
  }

  /** Take one message into the model; true when it changed something shown. */
  function apply(topic, payload, retained) {
    const where = parseTopic(topic);
    if (!where) return false;
    let d = model.devices.get(where.prefix);
    if (where.kind === 'status') {
      const text = decode(payload).trim();
      if (text !== 'online' && text !== 'offline') return false;
      if (!d) { d = new Device(where.prefix); model.devices.set(where.prefix, d); }
      d.status = text;
      d.statusRetained = retained;
      return changed(d);
    }
    let doc;
    try {
      doc = JSON.parse(decode(payload));
    } catch (e) {
      listener.ignored();
      return false;
    }
    if (!doc || typeof doc !== 'object' || typeof doc.site !== 'string' || typeof doc.device !== 'string') {
      listener.ignored();
      return false;
    }
    if (!d) { d = new Device(where.prefix); model.devices.set(where.prefix, d); }
    if (d.site !== doc.site || d.device !== doc.device) identify(d, doc.site, doc.device);
    const now = Date.now() / 1000;
    if (where.kind === 'health') {
      if (d.health && isFinite(doc.ts) && doc.ts > d.health.ts) d.healthPeriod = doc.ts - d.health.ts;
      d.health = doc;
      d.healthRetained = retained;
      d.noteOffset(doc.at);
      for (const name of Object.keys(doc.sources || {})) d.sensor(name);
    } else if (where.kind === 'state') {
      const s = d.sensor(where.sensor);
      s.state = doc;
      s.stateRetained = retained;
      d.noteOffset(doc.at);
      const li = doc.last_interval;
      const end = li ? isoSeconds(li.end) : null;
      if (end !== null && (!d.last || end > d.last.end)) {
        const start = isoSeconds(li.start);
        d.last = { end, duration: start === null ? NaN : end - start, id: null, retained, sensor: s.name };
        d.noteOffset(li.end);
      }
    } else if (where.kind === 'interval') {
      if (!firstSight(doc.id)) return false;
      const s = d.sensor(where.sensor);
      d.noteOffset(doc.end);
      s.addInterval(doc, localDayStart(now, d.offset));
      const start = num(doc.start_ts), dur = num(doc.duration_s);
      if (!s.interval || start >= num(s.interval.start_ts)) s.interval = doc;
      const end = start + dur;
      if (!d.last || end >= d.last.end) {
        d.last = { end, duration: dur, id: doc.id, retained, sensor: s.name };
        d.pendingIds.push([doc.id, Date.now()]);
      }
      listener.interval(d, s);
    } else if (where.kind === 'anomaly') {
      if (!firstSight(doc.id)) return false;
      d.noteOffset(doc.start);
      const key = String(doc.id).replace(/\/(start|end)$/, '');
      if (doc.phase === 'start') d.episodes.set(key, doc);
      else d.episodes.delete(key);
      addEvent(d, doc);
    }
    return changed(d);
  }

  function identify(d, site, device) {
    if (d.site !== null) {
      const old = model.sites.get(d.site);
      if (old) old.delete(d);
    }
    d.site = site;
    d.device = device;
    let set = model.sites.get(site);
    const newSite = !set;
    if (!set) {
      set = new Set();
      model.sites.set(site, set);
    }
    set.add(d);
    listener.identified(d, newSite);
  }

  const decoder = new TextDecoder();
  function decode(payload) {
    return typeof payload === 'string' ? payload : decoder.decode(payload);
  }

  function addEvent(d, doc) {
    const entry = { d, doc, at: Date.now() };
    model.fleetFeed.unshift(entry);
    if (model.fleetFeed.length > FEED_MAX) model.fleetFeed.pop();
    let feed = model.siteFeeds.get(d.site);
    if (!feed) { feed = []; model.siteFeeds.set(d.site, feed); }
    feed.unshift(entry);
    if (feed.length > FEED_MAX) feed.pop();
    listener.event(entry);
  }

  F.fleet = {
    model, apply, clear, listener, Device, Sensor, FEED_MAX,
    series: { F_START, F_DUR, F_INS, F_OUTS, F_EXP_IN, F_Z_IN, F_EXP_OUT, F_FLAGS, STRIDE, FLAG_ANOMALY, FLAG_FAULT },
  };
})(window.Footfall = window.Footfall || {});
