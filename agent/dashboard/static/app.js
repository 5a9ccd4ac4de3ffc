/*
 * footfall fleet dashboard: every device and door of a chain, straight from the broker.
 *
 * The page is its own MQTT client (MQTT.js over WebSockets): it subscribes to the agents' topic tree and
 * builds its picture from their messages only, as `footfall-agent monitor` does in a terminal. A device
 * is a topic prefix (`<prefix>/status|health|sensors/<sensor>/interval|state|anomaly`); its site and
 * device ids come from the payloads, so any `mqtt.topic_prefix` works.
 *
 * Messages only change the model and mark their device dirty; the DOM is touched once per animation
 * frame, for the dirty devices only, so a fleet of a thousand devices publishing every minute costs a
 * few row updates per frame, never a full re-render.
 */
(function () {
  'use strict';

  const HEALTH_STALE_MIN_S = 180; // three missed reports at the default health.period of 1 min
  const BACKLOG_AGE_S = 60; // an outbox whose oldest message waits longer is marked
  const FEED_MAX = 200; // events kept per site and in the fleet-wide feed
  const SEEN_IDS_MAX = 20000; // message ids remembered to drop at-least-once duplicates
  const LOG_MAX = 5000; // entries of the timing logs read by the tests and the benchmark
  const REORDER_EVERY_MS = 1000; // a sort by a changing value re-orders the table at most this often
  const STORE_KEY = 'footfall-dashboard';
  const REFUSED = new Set([4, 5, 134, 135]); // CONNACK codes: bad user name or password, not authorised (3.1.1, 5)
  const SENSOR_TOPIC = /^(.+)\/sensors\/([^/]+)\/(interval|state|anomaly)$/;
  // Fields of one interval in a sensor's series (one flat array of numbers, NaN for null).
  const F_START = 0, F_DUR = 1, F_INS = 2, F_OUTS = 3, F_EXP_IN = 4, F_Z_IN = 5, F_EXP_OUT = 6, F_FLAGS = 7;
  const STRIDE = 8;
  const FLAG_ANOMALY = 1, FLAG_FAULT = 2;

  const $ = (id) => document.getElementById(id);

  // -- time: every timestamp is shown in the device's own zone, from the UTC offset of its payloads

  /** Minutes east of UTC of an ISO-8601 timestamp (`...+02:00`, `...Z`); null without an offset. */
  function offsetMinutes(iso) {
    if (typeof iso !== 'string') return null;
    if (iso.endsWith('Z')) return 0;
    const m = /([+-])(\d\d):?(\d\d)$/.exec(iso);
    if (!m) return null;
    return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  }

  function offsetLabel(minutes) {
    if (minutes === null || minutes === undefined) return '';
    const sign = minutes < 0 ? '-' : '+';
    const a = Math.abs(minutes);
    return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  }

  /** `HH:MM:SS` (or with the date) of Unix seconds `ts` at `minutes` east of UTC. */
  function localTime(ts, minutes, withDate) {
    if (ts === null || ts === undefined || !isFinite(ts)) return '—';
    const iso = new Date((ts + (minutes || 0) * 60) * 1000).toISOString();
    return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso.slice(11, 19);
  }

  function isoSeconds(iso) {
    const ms = Date.parse(iso);
    return isNaN(ms) ? null : ms / 1000;
  }

  /** Start (Unix seconds) of the local calendar day containing `ts` at `minutes` east of UTC. */
  function localDayStart(ts, minutes) {
    const off = (minutes || 0) * 60;
    return Math.floor((ts + off) / 86400) * 86400 - off;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return '—';
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
    return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
  }

  const num = (v) => (v === null || v === undefined ? NaN : Number(v));
  const nullable = (v) => (isNaN(v) ? null : v);
  const fmt = (v, digits) => (v === null || v === undefined || isNaN(v) ? '—' : Number(v).toFixed(digits));

  function bytes(n) {
    if (n === null || n === undefined) return '—';
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let v = Number(n), i = 0;
    while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
    return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else node.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // -- the model

  class Sensor {
    constructor(name) {
      this.name = name;
      this.state = null;
      this.stateRetained = false;
      this.interval = null; // latest interval payload
      this.series = []; // today's intervals, STRIDE numbers each, in start order
      this.chart = null;
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

  function resetModel() {
    for (const d of model.devices.values()) {
      for (const s of d.sensors.values()) if (s.chart) s.chart.destroy();
    }
    model.devices.clear();
    model.sites.clear();
    model.fleetFeed.length = 0;
    model.siteFeeds.clear();
    model.seenIds.clear();
    model.seenOrder.length = 0;
    ui.tbody.textContent = '';
    ui.fleetFeed.textContent = '';
    ui.siteList.textContent = '';
    ui.siteSelect.length = 1;
    ui.ordered = [];
    stats.rows = 0;
    stats.complete = 0;
    renderSite(true);
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
      return markDirty(d);
    }
    let doc;
    try {
      doc = JSON.parse(decode(payload));
    } catch (e) {
      stats.ignored += 1;
      return false;
    }
    if (!doc || typeof doc !== 'object' || typeof doc.site !== 'string' || typeof doc.device !== 'string') {
      stats.ignored += 1;
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
      if (ui.siteOpen === d.site) s.chartDirty = true;
    } else if (where.kind === 'anomaly') {
      if (!firstSight(doc.id)) return false;
      d.noteOffset(doc.start);
      const key = String(doc.id).replace(/\/(start|end)$/, '');
      if (doc.phase === 'start') d.episodes.set(key, doc);
      else d.episodes.delete(key);
      addEvent(d, doc);
    }
    return markDirty(d);
  }

  function identify(d, site, device) {
    if (d.site !== null) {
      const old = model.sites.get(d.site);
      if (old) old.delete(d);
    }
    d.site = site;
    d.device = device;
    let set = model.sites.get(site);
    if (!set) {
      set = new Set();
      model.sites.set(site, set);
      ui.sitesChanged = true;
    }
    set.add(d);
    ui.orderDirty = true;
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
    ui.newEvents.push(entry);
  }

  // -- rendering, batched per animation frame

  const ui = {
    tbody: null,
    fleetFeed: null,
    siteList: null,
    siteSelect: null,
    dirty: new Set(),
    newEvents: [],
    frame: 0,
    orderDirty: false,
    sitesChanged: false,
    agesDue: false,
    lastReorder: 0,
    reorderTimer: 0,
    forceReorder: false,
    ordered: [],
    sort: { col: 'site', dir: 1 },
    filter: '',
    problemsOnly: false,
    view: 'fleet',
    siteOpen: null,
  };

  const stats = {
    connectedAt: null, // epoch ms of the last successful connect
    messages: 0,
    lastMessageAt: null, // epoch ms of the latest message
    ignored: 0,
    rows: 0,
    complete: 0, // rows with a status, a health report and the state of every sensor
    renders: [], // [epoch ms at the end of a frame's DOM work, rows in the table, ms spent, complete rows]
    intervals: [], // [interval id, received epoch ms, shown epoch ms]
  };

  function markDirty(d) {
    ui.dirty.add(d);
    schedule();
    return true;
  }

  function schedule() {
    if (!ui.frame) ui.frame = requestAnimationFrame(flush);
  }

  const COLUMNS = ['site', 'device', 'status', 'sensors', 'interval', 'interval_age', 'health_age', 'outbox',
    'ins_today', 'occupancy', 'faults', 'anomalies'];
  const NUMERIC = new Set(['sensors', 'interval_age', 'health_age', 'outbox', 'ins_today', 'occupancy']);

  function sortValue(d, col, now) {
    switch (col) {
      case 'site': return d.site;
      case 'device': return d.device;
      case 'status': return d.status === 'offline' ? 0 : d.status === null ? 1 : 2;
      case 'sensors': return d.sensors.size;
      case 'interval':
      case 'interval_age': { const a = d.intervalAge(now); return a === null ? Infinity : a; }
      case 'health_age': { const a = d.healthAge(now); return a === null ? Infinity : a; }
      case 'outbox': return d.health && d.health.outbox ? Number(d.health.outbox.depth) : -1;
      case 'ins_today': { const v = d.sum('ins_today'); return v === null ? -1 : v; }
      case 'occupancy': { const v = d.sum('occupancy'); return v === null ? -1 : v; }
      case 'faults': return d.faultList.length;
      case 'anomalies': return d.anomalyList.length;
      default: return 0;
    }
  }

  function createRow(d) {
    const tr = document.createElement('tr');
    tr.dataset.key = d.prefix;
    const cells = {};
    for (const col of COLUMNS) {
      const td = document.createElement('td');
      td.dataset.col = col;
      if (NUMERIC.has(col)) td.className = 'num';
      tr.append(td);
      cells[col] = td;
    }
    d.row = tr;
    d.cells = cells;
    stats.rows += 1;
  }

  function setCell(td, text, cls, title) {
    const node = td.firstChild;
    if (node === null) td.textContent = text;
    else if (node.data !== text) node.data = text; // the same text node: no garbage per update
    const c = cls || (NUMERIC.has(td.dataset.col) ? 'num' : '');
    if (td.className !== c) td.className = c;
    if (title !== undefined && td.title !== title) td.title = title;
  }

  function updateRow(d, now) {
    const c = d.cells;
    setCell(c.site, d.site);
    setCell(c.device, d.device, '', d.prefix);
    const status = d.status || 'unknown';
    setCell(c.status, status, `${d.status || ''} ${d.statusRetained ? 'retained' : 'live'}`,
      d.statusRetained ? 'retained status: the broker\'s copy, sent when the page subscribed' : 'live');
    d.row.classList.toggle('is-offline', d.status === 'offline');
    setCell(c.sensors, String(d.sensors.size), 'num', [...d.sensors.keys()].join(', '));
    if (d.last) {
      setCell(c.interval, `${localTime(d.last.end, d.offset)} ${offsetLabel(d.offset)}`,
        d.last.retained ? 'retained' : 'live', `${d.last.sensor}, ends ${localTime(d.last.end, d.offset, true)}`);
      if (d.last.id && d.row.dataset.intervalId !== d.last.id) d.row.dataset.intervalId = d.last.id;
    } else {
      setCell(c.interval, '—');
    }
    const outbox = d.health && d.health.outbox;
    if (outbox) {
      const oldest = outbox.oldest_age_s === undefined || outbox.oldest_age_s === null ? '' :
        ` (${duration(outbox.oldest_age_s)})`;
      // A message or two in flight is normal; a backlog older than a minute means the device cannot deliver.
      const backlog = outbox.depth > 0 && Number(outbox.oldest_age_s || 0) >= BACKLOG_AGE_S;
      setCell(c.outbox, `${outbox.depth}${oldest}`, `num${backlog ? ' anomaly' : ''}`);
    } else {
      setCell(c.outbox, '—');
    }
    const ins = d.sum('ins_today'), occ = d.sum('occupancy');
    setCell(c.ins_today, ins === null ? '—' : String(ins));
    setCell(c.occupancy, occ === null ? '—' : String(occ));
    const faults = d.faults(), anomalies = d.anomalies();
    d.faultList = faults;
    d.anomalyList = anomalies;
    setCell(c.faults, faults.join(', '), faults.length ? 'fault' : '');
    setCell(c.anomalies, anomalies.join(', '), anomalies.length ? 'anomaly' : '');
    updateAges(d, now);
    const complete = d.status !== null && d.health !== null && d.sensors.size > 0 &&
      [...d.sensors.values()].every((s) => s.state !== null);
    if (complete !== d.complete) {
      stats.complete += complete ? 1 : -1;
      d.complete = complete;
    }
    for (const [id, received] of d.pendingIds) {
      stats.intervals.push([id, received, Date.now()]);
    }
    if (stats.intervals.length > LOG_MAX) stats.intervals.splice(0, stats.intervals.length - LOG_MAX);
    d.pendingIds.length = 0;
  }

  function updateAges(d, now) {
    const c = d.cells;
    const ia = d.intervalAge(now);
    setCell(c.interval_age, ia === null ? '—' : duration(ia), d.intervalStale(now) ? 'num stale' : 'num');
    const ha = d.healthAge(now);
    const hcls = `num ${d.healthStale(now) ? 'stale' : ''} ${d.health ? (d.healthRetained ? 'retained' : 'live') : ''}`;
    setCell(c.health_age, ha === null ? '—' : duration(ha), hcls.replace(/\s+/g, ' ').trim());
  }

  function visible(d, now) {
    if (ui.filter && !d.site.toLowerCase().includes(ui.filter)) return false;
    if (ui.problemsOnly && !d.problem(now)) return false;
    return true;
  }

  function compare(a, b) {
    const dir = ui.sort.dir;
    if (a[0] < b[0]) return -dir;
    if (a[0] > b[0]) return dir;
    return a[1].name < b[1].name ? -1 : a[1].name > b[1].name ? 1 : 0;
  }

  /** Put rows created this frame at their place in the current order, leaving the others where they are. */
  function insertRows(rows, now) {
    const col = ui.sort.col;
    for (const d of rows) {
      const key = [sortValue(d, col, now), d];
      let lo = 0, hi = ui.ordered.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compare([sortValue(ui.ordered[mid], col, now), ui.ordered[mid]], key) <= 0) lo = mid + 1;
        else hi = mid;
      }
      ui.tbody.insertBefore(d.row, lo < ui.ordered.length ? ui.ordered[lo].row : null);
      ui.ordered.splice(lo, 0, d);
      d.row.hidden = !visible(d, now);
    }
  }

  function reorder(now) {
    const col = ui.sort.col;
    const list = [];
    for (const d of model.devices.values()) if (d.row) list.push([sortValue(d, col, now), d]);
    list.sort(compare);
    const order = list.map((x) => x[1]);
    const same = order.length === ui.ordered.length && order.every((d, i) => d === ui.ordered[i]);
    if (!same) {
      const frag = document.createDocumentFragment();
      for (const d of order) frag.append(d.row);
      ui.tbody.append(frag);
      ui.ordered = order;
    }
    for (const d of order) {
      const hide = !visible(d, now);
      if (d.row.hidden !== hide) d.row.hidden = hide;
    }
    ui.lastReorder = performance.now();
    ui.orderDirty = false;
  }

  function flush() {
    ui.frame = 0;
    const t0 = performance.now();
    const now = Date.now() / 1000;
    const sortCol = ui.sort.col;
    const orderByValue = !['site', 'device'].includes(sortCol);
    const created = [];
    for (const d of ui.dirty) {
      if (!d.known) continue;
      if (!d.row) {
        createRow(d);
        created.push(d);
      }
      updateRow(d, now);
      if (orderByValue || ui.problemsOnly) ui.orderDirty = true;
    }
    if (created.length) insertRows(created, now);
    if (ui.agesDue) {
      ui.agesDue = false;
      for (const d of model.devices.values()) if (d.row) updateAges(d, now);
      if (orderByValue || ui.problemsOnly) ui.orderDirty = true;
    }
    if (ui.orderDirty) {
      if (ui.forceReorder || t0 - ui.lastReorder >= REORDER_EVERY_MS) {
        reorder(now);
        ui.forceReorder = false;
      } else if (!ui.reorderTimer) {
        ui.reorderTimer = setTimeout(() => { ui.reorderTimer = 0; schedule(); }, REORDER_EVERY_MS - (t0 - ui.lastReorder));
      }
    }
    if (ui.sitesChanged) renderSites();
    if (ui.newEvents.length) renderEvents();
    if (ui.view === 'site' && ui.siteOpen !== null) {
      const touched = [...ui.dirty].some((d) => d.site === ui.siteOpen);
      if (touched) renderSite(false);
    }
    ui.dirty.clear();
    renderSummary(now);
    const t1 = performance.now();
    stats.renders.push([Date.now(), stats.rows, t1 - t0, stats.complete]);
    if (stats.renders.length > LOG_MAX) stats.renders.splice(0, stats.renders.length - LOG_MAX);
  }

  function renderSummary(now) {
    let online = 0, offline = 0, stale = 0, faults = 0, anomalies = 0, shown = 0;
    for (const d of model.devices.values()) {
      if (!d.row) continue;
      shown += 1;
      if (d.status === 'online') online += 1;
      if (d.status === 'offline') offline += 1;
      if (d.intervalStale(now) || d.healthStale(now)) stale += 1;
      if (d.faultList.length) faults += 1;
      if (d.anomalyList.length) anomalies += 1;
    }
    const text = `${shown} devices · ${online} online · ${offline} offline · ${stale} stale · ` +
      `${faults} with faults · ${anomalies} with anomalies · ${model.sites.size} sites`;
    const summary = $('summary');
    if (summary.textContent !== text) summary.textContent = text;
    $('empty').hidden = shown > 0;
  }

  function renderSites() {
    ui.sitesChanged = false;
    const sites = [...model.sites.keys()].sort();
    ui.siteList.textContent = '';
    const chosen = ui.siteSelect.value;
    ui.siteSelect.length = 1;
    for (const s of sites) {
      ui.siteList.append(el('option', { value: s }));
      ui.siteSelect.append(el('option', { value: s, text: s }));
    }
    ui.siteSelect.value = chosen;
  }

  function eventItem(entry) {
    const { d, doc } = entry;
    const off = d.offset;
    const when = localTime(num(doc.phase === 'end' && doc.end_ts ? doc.end_ts : doc.start_ts), off, true);
    const what = doc.kind === 'fault' ? `fault ${doc.fault}` : 'traffic anomaly';
    const peak = doc.peak_z === null || doc.peak_z === undefined ? '' :
      ` · peak z ${doc.peak_z > 0 ? '+' : ''}${doc.peak_z} (${fmt(doc.peak_count, 0)} vs ${fmt(doc.peak_expected, 1)} expected)`;
    const li = el('li', { class: `${doc.kind} phase-${doc.phase}`, 'data-event-id': doc.id },
      el('span', { class: 'when', text: `${when} ${offsetLabel(off)}` }),
      el('b', { text: `${d.site}/${d.device}/${doc.sensor}` }),
      ` ${doc.metric}: ${what} ${doc.phase === 'start' ? 'started' : 'ended'}`,
      ` · ${doc.intervals} interval${doc.intervals === 1 ? '' : 's'}${peak}`);
    return li;
  }

  function renderEvents() {
    const items = ui.newEvents.splice(0);
    for (const entry of items) {
      ui.fleetFeed.prepend(eventItem(entry));
      if (ui.view === 'site' && entry.d.site === ui.siteOpen) $('site-feed').prepend(eventItem(entry));
    }
    while (ui.fleetFeed.childElementCount > FEED_MAX) ui.fleetFeed.lastElementChild.remove();
  }

  // -- one site

  function renderSite(full) {
    const box = $('site-devices');
    const site = ui.siteOpen;
    if (full) {
      for (const d of model.devices.values()) {
        for (const s of d.sensors.values()) {
          if (s.chart) { s.chart.destroy(); s.chart = null; }
        }
      }
      box.textContent = '';
      $('site-feed').textContent = '';
      $('site-title').textContent = site === null ? 'No site chosen' : `Site ${site}`;
      if (site === null) return;
      for (const entry of (model.siteFeeds.get(site) || []).slice().reverse()) {
        $('site-feed').prepend(eventItem(entry));
      }
    }
    if (site === null) return;
    const devices = [...(model.sites.get(site) || [])].sort((a, b) => (a.device < b.device ? -1 : 1));
    const now = Date.now() / 1000;
    for (const d of devices) {
      let card = box.querySelector(`[data-key="${CSS.escape(d.prefix)}"]`);
      if (!card) {
        card = el('div', { class: 'device-card', 'data-key': d.prefix });
        box.append(card);
      }
      if (full || ui.dirty.has(d)) fillCard(card, d, now);
    }
  }

  function kv(label, value, cls) {
    return el('div', null, el('span', { text: `${label} ` }), el('b', { class: cls, text: value }));
  }

  function fillCard(card, d, now) {
    let head = card.querySelector('.card-head');
    if (!head) {
      head = el('div', { class: 'card-head' });
      card.append(head);
    }
    const h = d.health;
    const statusCls = `${d.status || ''} ${d.statusRetained ? 'retained' : 'live'}`;
    const local = `local time ${localTime(now, d.offset)} ${offsetLabel(d.offset)}`;
    const title = el('h3', null, `${d.device} `, el('span', { class: statusCls, text: d.status || 'unknown' }),
      el('span', { class: 'meta', text: `${local} · ${d.prefix}` }));
    const grid = el('div', { class: `health ${d.healthRetained ? 'retained' : ''}` });
    if (h) {
      const sys = h.system || {};
      const store = h.store || {};
      const mqtt = h.mqtt;
      const thr = sys.throttling;
      grid.append(...[
        kv('health report', `${localTime(h.ts, d.offset)} (${duration(now - h.ts)} ago)`, d.healthStale(now) ? 'stale' : ''),
        kv('agent', `v${h.agent_version}, up ${duration(h.uptime_s)}`),
        kv('started', localTime(isoSeconds(h.started), offsetMinutes(h.started), true)),
        kv('load', `${fmt(sys.load_1m, 2)} / ${fmt(sys.load_5m, 2)} / ${fmt(sys.load_15m, 2)} on ${sys.cpu_count || '?'} CPUs`),
        sys.cpu_temperature_c === undefined ? null : kv('CPU', `${fmt(sys.cpu_temperature_c, 1)} °C`),
        thr ? kv('power', [thr.under_voltage && 'UNDER-VOLTAGE', thr.throttled && 'THROTTLED',
          thr.under_voltage_occurred && 'under-voltage occurred'].filter(Boolean).join(', ') || 'ok',
        thr.under_voltage || thr.throttled ? 'fault' : '') : null,
        kv('memory', bytes(sys.rss_bytes)),
        kv('store', `${bytes(store.used_bytes)} of ${bytes(store.max_bytes)} (${fmt(100 * (store.used_ratio || 0), 1)} %)`),
        kv('disk free', bytes(store.filesystem_free_bytes)),
        kv('outbox', `${h.outbox.depth}${h.outbox.oldest_age_s ? `, oldest ${duration(h.outbox.oldest_age_s)}` : ''}`,
          h.outbox.depth ? 'anomaly' : ''),
        mqtt ? kv('mqtt', `${mqtt.connected ? 'connected' : 'down'}, ${mqtt.reconnects} reconnects, ` +
          `${mqtt.connect_failures} failures${mqtt.last_error ? `, ${mqtt.last_error}` : ''}`) : null,
      ].filter(Boolean));
    } else {
      grid.append(el('div', { text: 'no health report yet' }));
    }
    head.replaceChildren(title, grid);
    const sources = (h && h.sources) || {};
    for (const name of [...d.sensors.keys()].sort()) {
      const s = d.sensors.get(name);
      let box = card.querySelector(`.sensor[data-sensor="${CSS.escape(name)}"]`);
      if (!box) {
        box = el('div', { class: 'sensor', 'data-sensor': name },
          el('div', { class: 'sensor-head' }), el('div', { class: 'chart' }), el('div', { class: 'tables' }));
        card.append(box);
      }
      fillSensor(box, d, s, sources[name], now);
    }
  }

  function figure(value, label, cls) {
    return el('div', { class: `figure ${cls || ''}` }, el('div', { class: 'v', text: value }),
      el('div', { class: 'k', text: label }));
  }

  function fillSensor(box, d, s, source, now) {
    const st = s.state;
    const retained = s.stateRetained ? 'retained' : 'live';
    const up = st ? st.source_up : source ? source.state === 'up' : null;
    const head = el('div', null,
      el('h4', null, `${s.name} `, el('span', {
        class: up === false ? 'offline' : up ? 'online' : '',
        text: up === null ? '' : up ? 'source up' : `source down${source && source.reason ? `: ${source.reason}` : ''}`,
      })));
    const figs = el('div', { class: 'figures' });
    if (st) {
      figs.append(
        figure(String(st.occupancy), 'inside now', retained),
        figure(String(st.ins_today), `in since ${localTime(isoSeconds(st.day_start), d.offset)}`, retained),
        figure(String(st.outs_today), 'out today', retained),
        figure(st.z === null || st.z === undefined ? '—' : fmt(st.z, 2), 'z of the last interval',
          `${retained} ${st.anomaly ? 'anomaly' : ''}`),
      );
      if (st.fault) figs.append(figure(st.fault, 'fault', 'fault'));
    }
    if (source && source.fps !== undefined) {
      figs.append(figure(fmt(source.fps, 1), 'fps analysed'), figure(fmt(source.inference_ms, 0), 'ms inference'),
        figure(String(source.dropped_frames_recent ?? '—'), 'frames dropped recently'));
    }
    head.append(figs);
    box.querySelector('.sensor-head').replaceChildren(head);
    drawChart(box.querySelector('.chart'), d, s);
    box.querySelector('.tables').replaceChildren(...sensorTables(d, s));
  }

  function sensorTables(d, s) {
    const out = [];
    const last = s.interval;
    const zoneNow = (s.state && s.state.zone_occupancy) || null;
    if (last && last.lines) {
      const t = el('table', { class: 'small lines' },
        el('tr', null, el('th', { text: 'line' }), el('th', { text: 'in' }), el('th', { text: 'out' })));
      for (const [name, c] of Object.entries(last.lines)) {
        t.append(el('tr', { 'data-line': name }, el('td', { text: name }), el('td', { class: 'num', text: c.in }),
          el('td', { class: 'num', text: c.out })));
      }
      out.push(el('div', null, el('div', { class: 'note', text: `lines, last interval` }), t));
    }
    const zoneNames = new Set([...Object.keys((last && last.zones) || {}), ...Object.keys(zoneNow || {})]);
    if (zoneNames.size) {
      const t = el('table', { class: 'small zones' }, el('tr', null, ...['zone', 'inside now', 'in', 'out',
        'median dwell', 'mean dwell'].map((x) => el('th', { text: x }))));
      for (const name of [...zoneNames].sort()) {
        const z = (last && last.zones && last.zones[name]) || {};
        const occ = zoneNow && zoneNow[name] !== undefined ? zoneNow[name] : z.occupancy;
        t.append(el('tr', { 'data-zone': name }, el('td', { text: name }),
          el('td', { class: 'num', text: occ ?? '—' }), el('td', { class: 'num', text: z.in ?? '—' }),
          el('td', { class: 'num', text: z.out ?? '—' }),
          el('td', { class: 'num', text: z.dwell_median_s == null ? '—' : duration(z.dwell_median_s) }),
          el('td', { class: 'num', text: z.dwell_mean_s == null ? '—' : duration(z.dwell_mean_s) })));
      }
      out.push(el('div', null, el('div', { class: 'note', text: 'zones' }), t));
    }
    const rows = s.series;
    if (rows.length) {
      const t = el('table', { class: 'small intervals' }, el('tr', null, ...['interval', 'in', 'expected', 'z',
        'out', 'expected', ''].map((x) => el('th', { text: x }))));
      for (let i = rows.length - STRIDE, n = 0; i >= 0 && n < 8; i -= STRIDE, n += 1) {
        const flags = rows[i + F_FLAGS];
        t.append(el('tr', { class: flags & FLAG_ANOMALY ? 'anomaly' : flags & FLAG_FAULT ? 'fault' : '' },
          el('td', { text: `${localTime(rows[i + F_START], d.offset)}` }),
          el('td', { class: 'num', text: rows[i + F_INS] }),
          el('td', { class: 'num', text: fmt(rows[i + F_EXP_IN], 1) }),
          el('td', { class: 'num', text: fmt(rows[i + F_Z_IN], 2) }),
          el('td', { class: 'num', text: rows[i + F_OUTS] }),
          el('td', { class: 'num', text: fmt(rows[i + F_EXP_OUT], 1) }),
          el('td', { text: flags & FLAG_ANOMALY ? 'anomaly' : flags & FLAG_FAULT ? 'fault' : '' })));
      }
      out.push(el('div', null, el('div', { class: 'note', text: `latest intervals (${offsetLabel(d.offset)})` }), t));
    }
    return out;
  }

  /** A Date whose local fields are the device's wall clock at Unix seconds `ts` (for uPlot's axis). */
  function deviceDate(ts, minutes) {
    const u = new Date((ts + (minutes || 0) * 60) * 1000);
    return new Date(u.getUTCFullYear(), u.getUTCMonth(), u.getUTCDate(), u.getUTCHours(), u.getUTCMinutes(),
      u.getUTCSeconds());
  }

  function chartData(s) {
    const r = s.series;
    const n = r.length / STRIDE;
    const x = new Array(n), ins = new Array(n), outs = new Array(n), expIn = new Array(n), expOut = new Array(n),
      flagged = new Array(n);
    for (let i = 0; i < n; i += 1) {
      const o = i * STRIDE;
      x[i] = r[o + F_START];
      ins[i] = r[o + F_INS];
      outs[i] = r[o + F_OUTS];
      expIn[i] = nullable(r[o + F_EXP_IN]);
      expOut[i] = nullable(r[o + F_EXP_OUT]);
      flagged[i] = r[o + F_FLAGS] & FLAG_ANOMALY ? r[o + F_INS] : null;
    }
    return [x, ins, outs, expIn, expOut, flagged];
  }

  function drawChart(box, d, s) {
    if (typeof uPlot === 'undefined') return;
    if (!s.series.length) {
      if (!s.chart) box.replaceChildren(el('div', { class: 'note', text: 'no interval received since connecting' }));
      return;
    }
    if (s.chart && s.chartOffset !== d.offset) { s.chart.destroy(); s.chart = null; }
    if (!s.chart) {
      box.textContent = '';
      const off = d.offset;
      s.chartOffset = off;
      s.chart = new uPlot({
        width: Math.max(320, Math.min(1100, box.clientWidth || 900)),
        height: 200,
        tzDate: (ts) => deviceDate(ts, off),
        legend: { live: true },
        scales: { x: { time: true } },
        series: [
          {},
          { label: 'in', stroke: '#1f8a4c', width: 2 },
          { label: 'out', stroke: '#2f5fb3', width: 2 },
          { label: 'expected in', stroke: '#1f8a4c', dash: [6, 4], width: 1 },
          { label: 'expected out', stroke: '#2f5fb3', dash: [6, 4], width: 1 },
          { label: 'anomaly', stroke: '#c62828', width: 0, paths: () => null,
            points: { show: true, size: 9, fill: '#c62828', stroke: '#c62828' } },
        ],
        axes: [{}, { label: 'people per interval', size: 50 }],
      }, chartData(s), box);
      s.chartDirty = false;
    } else if (s.chartDirty) {
      s.chart.setData(chartData(s));
      s.chartDirty = false;
    }
  }

  function openSite(site) {
    ui.siteOpen = site || null;
    ui.siteSelect.value = site || '';
    showView(site ? 'site' : 'fleet');
    if (site) {
      for (const d of model.sites.get(site) || []) for (const s of d.sensors.values()) s.chartDirty = true;
      history.replaceState(null, '', `#site=${encodeURIComponent(site)}`);
    } else {
      history.replaceState(null, '', '#');
    }
    renderSite(true);
  }

  function showView(view) {
    ui.view = view;
    $('fleet-view').hidden = view !== 'fleet';
    $('site-view').hidden = view !== 'site';
    $('tab-fleet').classList.toggle('active', view === 'fleet');
    $('tab-site').classList.toggle('active', view === 'site');
  }

  // -- the connection

  let client = null;

  function setConn(state, detail) {
    const s = $('conn-state');
    s.className = `state-${state}`;
    s.textContent = { idle: 'not connected', connecting: 'connecting…', connected: 'connected', error: 'error' }[state];
    $('conn-detail').textContent = detail || '';
    $('connect').hidden = state === 'connected' || state === 'connecting';
    $('disconnect').hidden = !($('connect').hidden);
  }

  function settings() {
    return {
      url: $('broker-url').value.trim(),
      username: $('username').value,
      password: $('password').value,
      filter: $('topic-filter').value.trim() || 'footfall/#',
    };
  }

  function remember() {
    if ($('remember').checked) {
      const { url, username, password, filter } = settings();
      localStorage.setItem(STORE_KEY, JSON.stringify({ url, username, password, filter }));
      $('remember-note').hidden = false;
    } else {
      localStorage.removeItem(STORE_KEY);
      $('remember-note').hidden = true;
    }
  }

  function connect() {
    const cfg = settings();
    if (!/^wss?:\/\//i.test(cfg.url)) {
      setConn('error', 'the broker URL must start with ws:// or wss:// (the broker\'s WebSocket listener)');
      return;
    }
    if (typeof mqtt === 'undefined') {
      setConn('error', 'the MQTT client library did not load (vendor/mqtt.min.js)');
      return;
    }
    disconnect();
    resetModel();
    remember();
    setConn('connecting', cfg.url);
    const options = {
      clientId: `footfall-dashboard-${Math.random().toString(16).slice(2, 10)}`,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 3000,
      connectTimeout: 10000,
      protocolVersion: 4,
    };
    if (cfg.username) options.username = cfg.username;
    if (cfg.password) options.password = cfg.password;
    const c = mqtt.connect(cfg.url, options);
    client = c;
    c.on('connect', () => {
      stats.connectedAt = Date.now();
      setConn('connected', `${cfg.url} · ${cfg.filter}`);
      c.subscribe(cfg.filter, { qos: 0 }, (err, granted) => {
        if (err) setConn('error', `subscribe ${cfg.filter}: ${err.message}`);
        else if (granted && granted.some((g) => g.qos === 128)) {
          setConn('error', `the broker refused the subscription to ${cfg.filter} (check the ACL)`);
        }
      });
    });
    c.on('message', (topic, payload, packet) => {
      stats.messages += 1;
      stats.lastMessageAt = Date.now();
      apply(topic, payload, Boolean(packet.retain));
    });
    c.on('reconnect', () => setConn('connecting', `${cfg.url} (reconnecting)`));
    c.on('close', () => { if (client === c) setConn('connecting', `${cfg.url} (connection lost, retrying)`); });
    c.on('error', (err) => {
      // A refused user name or password does not get better by retrying every few seconds.
      if (REFUSED.has(err.code)) {
        client = null;
        c.end(true);
        setConn('error', `${cfg.url}: the broker refused the user name or password (${err.message})`);
      } else {
        setConn('error', `${cfg.url}: ${err.message}`);
      }
    });
  }

  function disconnect() {
    if (client) {
      const c = client;
      client = null;
      c.end(true);
    }
    setConn('idle');
  }

  // -- start

  function sortBy(col) {
    ui.sort = ui.sort.col === col ? { col, dir: -ui.sort.dir } : { col, dir: 1 };
    for (const th of document.querySelectorAll('#fleet th')) {
      th.classList.toggle('sorted', th.dataset.col === col);
      th.classList.toggle('asc', th.dataset.col === col && ui.sort.dir === 1);
      th.classList.toggle('desc', th.dataset.col === col && ui.sort.dir === -1);
    }
    ui.orderDirty = true;
    ui.forceReorder = true;
    schedule();
  }

  function prefill() {
    const config = window.FOOTFALL_CONFIG || {};
    const query = new URLSearchParams(location.search);
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORE_KEY) || 'null');
    } catch (e) {
      saved = null;
    }
    const pick = (key, savedKey) => query.get(key) || (saved && saved[savedKey]) || config[key] || '';
    $('broker-url').value = pick('broker', 'url') ||
      (location.protocol === 'https:' ? 'wss://' : 'ws://') + (location.hostname || 'localhost') + ':9001';
    $('topic-filter').value = pick('filter', 'filter') || 'footfall/#';
    if (saved) {
      $('username').value = saved.username || '';
      $('password').value = saved.password || '';
      $('remember').checked = true;
      $('remember-note').hidden = false;
    }
    const asked = query.get('connect');
    return asked !== null ? asked === '1' : config.connect === true;
  }

  function start() {
    ui.tbody = document.querySelector('#fleet tbody');
    ui.fleetFeed = $('fleet-feed');
    ui.siteList = $('site-list');
    ui.siteSelect = $('site-select');
    $('connect-form').addEventListener('submit', (e) => { e.preventDefault(); connect(); });
    $('disconnect').addEventListener('click', disconnect);
    $('remember').addEventListener('change', remember);
    for (const th of document.querySelectorAll('#fleet th')) th.addEventListener('click', () => sortBy(th.dataset.col));
    $('site-filter').addEventListener('input', (e) => {
      ui.filter = e.target.value.trim().toLowerCase();
      ui.orderDirty = true;
      ui.forceReorder = true;
      schedule();
    });
    $('problems-only').addEventListener('change', (e) => {
      ui.problemsOnly = e.target.checked;
      ui.orderDirty = true;
      ui.forceReorder = true;
      schedule();
    });
    ui.tbody.addEventListener('click', (e) => {
      const tr = e.target.closest('tr');
      const d = tr && model.devices.get(tr.dataset.key);
      if (d) openSite(d.site);
    });
    $('tab-fleet').addEventListener('click', () => { showView('fleet'); history.replaceState(null, '', '#'); });
    $('tab-site').addEventListener('click', () => openSite(ui.siteSelect.value || ui.siteOpen));
    ui.siteSelect.addEventListener('change', () => openSite(ui.siteSelect.value));
    setInterval(() => {
      ui.agesDue = true;
      if (ui.view === 'site' && ui.siteOpen !== null) {
        for (const d of model.sites.get(ui.siteOpen) || []) ui.dirty.add(d);
      }
      schedule();
    }, 1000);
    const hash = /^#site=(.+)$/.exec(location.hash);
    if (hash) ui.siteOpen = decodeURIComponent(hash[1]);
    setConn('idle');
    renderSite(true);
    if (ui.siteOpen) showView('site');
    if (prefill()) connect();
  }

  window.footfallDashboard = {
    /** Counters and timing logs for tests and benchmarks; `since` (epoch ms) keeps only the log entries after it. */
    stats: (since) => ({
      connectedAt: stats.connectedAt,
      messages: stats.messages,
      lastMessageAt: stats.lastMessageAt,
      ignored: stats.ignored,
      rows: stats.rows,
      complete: stats.complete,
      renders: stats.renders.filter((r) => r[0] > (since || 0)),
      intervals: stats.intervals.filter((r) => r[2] > (since || 0)),
    }),
    openSite,
  };

  document.addEventListener('DOMContentLoaded', start);
})();
