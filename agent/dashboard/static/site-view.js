/* The site view: one card per device of the chosen site, with its health and each sensor's figures, chart
 * and tables. */
(function (F) {
  'use strict';

  const { offsetMinutes, offsetLabel, localTime, isoSeconds, duration, fmt, bytes } = F.format;
  const { $, el } = F.dom;
  const { model } = F.fleet;
  const { F_START, F_INS, F_OUTS, F_EXP_IN, F_Z_IN, F_EXP_OUT, F_FLAGS, STRIDE, FLAG_ANOMALY, FLAG_FAULT } =
    F.fleet.series;
  const { eventItem } = F.eventFeed;
  const { drawChart, destroyCharts } = F.charts;
  const ui = F.ui;

  /** Show the open site: rebuilt from scratch when `full`, else only the cards of the dirty devices. */
  function renderSite(full) {
    const box = $('site-devices');
    const site = ui.siteOpen;
    if (full) {
      destroyCharts(model.devices.values());
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

  F.siteView = { renderSite };
})(window.Footfall = window.Footfall || {});
