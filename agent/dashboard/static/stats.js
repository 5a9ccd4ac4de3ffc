/* Counters and timing logs of the page, read by the tests and the benchmark through `window.footfallDashboard`. */
(function (F) {
  'use strict';

  const LOG_MAX = 5000; // entries of the timing logs read by the tests and the benchmark

  const counters = {
    connectedAt: null, // epoch ms of the last successful connect
    messages: 0,
    lastMessageAt: null, // epoch ms of the latest message
    ignored: 0,
    rows: 0,
    complete: 0, // rows with a status, a health report and the state of every sensor
    renders: [], // [epoch ms at the end of a frame's DOM work, rows in the table, ms spent, complete rows]
    intervals: [], // [interval id, received epoch ms, shown epoch ms]
  };

  /** Drop the oldest entries of a timing log beyond LOG_MAX. */
  function keepLatest(log) {
    if (log.length > LOG_MAX) log.splice(0, log.length - LOG_MAX);
  }

  /** Counters and timing logs; `since` (epoch ms) keeps only the log entries after it. */
  function snapshot(since) {
    return {
      connectedAt: counters.connectedAt,
      messages: counters.messages,
      lastMessageAt: counters.lastMessageAt,
      ignored: counters.ignored,
      rows: counters.rows,
      complete: counters.complete,
      renders: counters.renders.filter((r) => r[0] > (since || 0)),
      intervals: counters.intervals.filter((r) => r[2] > (since || 0)),
    };
  }

  F.stats = { counters, keepLatest, snapshot };
})(window.Footfall = window.Footfall || {});
