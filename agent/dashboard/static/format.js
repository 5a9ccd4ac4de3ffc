/*
 * Time and number formatting. Every timestamp is shown in the device's own zone, from the UTC offset of its
 * payloads, so nothing here reads the browser's time zone.
 */
(function (F) {
  'use strict';

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

  F.format = { offsetMinutes, offsetLabel, localTime, isoSeconds, localDayStart, duration, num, nullable, fmt, bytes };
})(window.Footfall = window.Footfall || {});
