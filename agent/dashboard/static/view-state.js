/*
 * What the page shows (sort, filter, open site) and what changed since the last animation frame: the state
 * the views and the frame loop share, so that messages only mark devices dirty and the DOM is touched once
 * per frame.
 */
(function (F) {
  'use strict';

  F.ui = {
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
})(window.Footfall = window.Footfall || {});
