/*
 * The page wiring: connects the fleet state to the views and the frame loop, the controls to their actions,
 * switches between the fleet and site views, and starts it all once the document is parsed.
 */
(function (F) {
  'use strict';

  const { $ } = F.dom;
  const { model } = F.fleet;
  const stats = F.stats.counters;
  const { schedule, markDirty } = F.frame;
  const { renderSite } = F.siteView;
  const connection = F.connection;
  const ui = F.ui;

  Object.assign(F.fleet.listener, {
    changed: markDirty,
    identified: (d, newSite) => {
      if (newSite) ui.sitesChanged = true;
      ui.orderDirty = true;
    },
    interval: (d, s) => {
      if (ui.siteOpen === d.site) s.chartDirty = true;
    },
    event: (entry) => ui.newEvents.push(entry),
    ignored: () => { stats.ignored += 1; },
  });

  /** Start from an empty page: a new connection builds its picture from what the broker sends. */
  connection.onNewSession = () => {
    F.charts.destroyCharts(model.devices.values());
    F.fleet.clear();
    F.fleetView.clear();
    renderSite(true);
  };

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

  function start() {
    ui.tbody = document.querySelector('#fleet tbody');
    ui.fleetFeed = $('fleet-feed');
    ui.siteList = $('site-list');
    ui.siteSelect = $('site-select');
    $('connect-form').addEventListener('submit', (e) => { e.preventDefault(); connection.connect(); });
    $('disconnect').addEventListener('click', connection.disconnect);
    $('remember').addEventListener('change', connection.remember);
    for (const th of document.querySelectorAll('#fleet th')) {
      th.addEventListener('click', () => { F.fleetView.sortBy(th.dataset.col); schedule(); });
    }
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
    connection.setConn('idle');
    renderSite(true);
    if (ui.siteOpen) showView('site');
    if (connection.prefill()) connection.connect();
  }

  window.footfallDashboard = {
    /** Counters and timing logs for tests and benchmarks; `since` (epoch ms) keeps only the log entries after it. */
    stats: F.stats.snapshot,
    openSite,
  };

  document.addEventListener('DOMContentLoaded', start);
})(window.Footfall = window.Footfall || {});
