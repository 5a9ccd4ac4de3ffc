/*
 * The MQTT connection: the page is its own MQTT client (MQTT.js over WebSockets). It reads the connection
 * form, remembers it when asked, subscribes to the topic filter and hands every message to the fleet state.
 */
(function (F) {
  'use strict';

  const { $ } = F.dom;
  const stats = F.stats.counters;

  const STORE_KEY = 'footfall-dashboard';
  const REFUSED = new Set([4, 5, 134, 135]); // CONNACK codes: bad user name or password, not authorised (3.1.1, 5)

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
    F.connection.onNewSession();
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
      F.fleet.apply(topic, payload, Boolean(packet.retain));
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

  /** Fill the form from the query string, the remembered settings or config.js; true to connect right away. */
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

  F.connection = {
    connect, disconnect, remember, setConn, prefill,
    onNewSession: () => {}, // called before each new connection, to start from an empty page; set by the page
  };
})(window.Footfall = window.Footfall || {});
