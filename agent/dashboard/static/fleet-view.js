/*
 * The fleet view: one table row per device, kept sorted and filtered, the summary line and the list of sites.
 * Rows are created once and updated cell by cell, so a frame costs only the devices that changed.
 */
(function (F) {
  'use strict';

  const { localTime, offsetLabel, duration } = F.format;
  const { $, el } = F.dom;
  const { model } = F.fleet;
  const stats = F.stats.counters;
  const ui = F.ui;

  const BACKLOG_AGE_S = 60; // an outbox whose oldest message waits longer is marked
  const REORDER_EVERY_MS = 1000; // a sort by a changing value re-orders the table at most this often
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
    F.stats.keepLatest(stats.intervals);
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

  /** Sort by `col`, or reverse the sort when it is already by `col`; the next frame re-orders the rows. */
  function sortBy(col) {
    ui.sort = ui.sort.col === col ? { col, dir: -ui.sort.dir } : { col, dir: 1 };
    for (const th of document.querySelectorAll('#fleet th')) {
      th.classList.toggle('sorted', th.dataset.col === col);
      th.classList.toggle('asc', th.dataset.col === col && ui.sort.dir === 1);
      th.classList.toggle('desc', th.dataset.col === col && ui.sort.dir === -1);
    }
    ui.orderDirty = true;
    ui.forceReorder = true;
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

  /** Empty the table, the fleet feed and the site lists (the fleet state was cleared). */
  function clear() {
    ui.tbody.textContent = '';
    ui.fleetFeed.textContent = '';
    ui.siteList.textContent = '';
    ui.siteSelect.length = 1;
    ui.ordered = [];
    stats.rows = 0;
    stats.complete = 0;
  }

  F.fleetView = {
    REORDER_EVERY_MS, createRow, updateRow, updateAges, insertRows, reorder, sortBy, renderSummary, renderSites, clear,
  };
})(window.Footfall = window.Footfall || {});
