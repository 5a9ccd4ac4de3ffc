/*
 * The frame loop: messages only change the fleet state and mark their device dirty; the DOM is touched once
 * per animation frame, for the dirty devices only, so a fleet of a thousand devices publishing every minute
 * costs a few row updates per frame, never a full re-render.
 */
(function (F) {
  'use strict';

  const { model } = F.fleet;
  const stats = F.stats.counters;
  const view = F.fleetView;
  const ui = F.ui;

  function markDirty(d) {
    ui.dirty.add(d);
    schedule();
  }

  function schedule() {
    if (!ui.frame) ui.frame = requestAnimationFrame(flush);
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
        view.createRow(d);
        created.push(d);
      }
      view.updateRow(d, now);
      if (orderByValue || ui.problemsOnly) ui.orderDirty = true;
    }
    if (created.length) view.insertRows(created, now);
    if (ui.agesDue) {
      ui.agesDue = false;
      for (const d of model.devices.values()) if (d.row) view.updateAges(d, now);
      if (orderByValue || ui.problemsOnly) ui.orderDirty = true;
    }
    if (ui.orderDirty) {
      if (ui.forceReorder || t0 - ui.lastReorder >= view.REORDER_EVERY_MS) {
        view.reorder(now);
        ui.forceReorder = false;
      } else if (!ui.reorderTimer) {
        ui.reorderTimer = setTimeout(() => { ui.reorderTimer = 0; schedule(); },
          view.REORDER_EVERY_MS - (t0 - ui.lastReorder));
      }
    }
    if (ui.sitesChanged) view.renderSites();
    if (ui.newEvents.length) F.eventFeed.renderEvents();
    if (ui.view === 'site' && ui.siteOpen !== null) {
      const touched = [...ui.dirty].some((d) => d.site === ui.siteOpen);
      if (touched) F.siteView.renderSite(false);
    }
    ui.dirty.clear();
    view.renderSummary(now);
    const t1 = performance.now();
    stats.renders.push([Date.now(), stats.rows, t1 - t0, stats.complete]);
    F.stats.keepLatest(stats.renders);
  }

  F.frame = { markDirty, schedule };
})(window.Footfall = window.Footfall || {});
