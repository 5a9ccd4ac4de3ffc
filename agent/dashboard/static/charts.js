/* The uPlot chart of a sensor's intervals today, on the device's wall clock. */
(function (F) {
  'use strict';

  const { nullable } = F.format;
  const { el } = F.dom;
  const { F_START, F_INS, F_OUTS, F_EXP_IN, F_EXP_OUT, F_FLAGS, STRIDE, FLAG_ANOMALY } = F.fleet.series;

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

  /** Draw sensor `s` of device `d` into `box`, or update its chart when `s.chartDirty`. */
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

  /** Destroy the charts of every sensor of `devices`. */
  function destroyCharts(devices) {
    for (const d of devices) {
      for (const s of d.sensors.values()) {
        if (s.chart) { s.chart.destroy(); s.chart = null; }
      }
    }
  }

  F.charts = { drawChart, destroyCharts };
})(window.Footfall = window.Footfall || {});
