// settlemon console: plain JavaScript, no framework, no build step. It reads
// the console's JSON API (schemas/openapi.yaml) and never writes. Data goes
// into the page through textContent and SVG attributes only, never as HTML.
'use strict';

(function () {
  const REFRESH_MS = 10000;
  const TOKEN_KEY = 'settlemon.console.token';
  const SVG = 'http://www.w3.org/2000/svg';
  const PCTS = ['p50', 'p95', 'p99'];
  const LANG_KEY_PAGE = 'settlemon.console.lang';

  // --- the page's language and messages ---------------------------------------
  // The server renders the page in one language (?lang=, else the browser's
  // Accept-Language) and hands the script that language's messages from the
  // catalogues (package text) in data-messages: no second dictionary here.
  const LANG = document.body.dataset.lang || 'en';
  const MESSAGES = JSON.parse(document.body.dataset.messages || '{}');

  // t renders message id with its arguments, as Go's fmt does for the
  // catalogues' verbs: %s, %[n]s and %%.
  function t(id, ...args) {
    const f = MESSAGES[id];
    if (f === undefined) return id;
    let i = 0;
    return f.replace(/%%|%(?:\[(\d+)\])?s/g, (m, n) => {
      if (m === '%%') return '%';
      if (n) { i = Number(n); return String(args[i - 1]); }
      return String(args[i++]);
    });
  }

  // How each percentile reads, in the legend, the tooltip and the line ends.
  const PCT_NAMES = { p50: t('page.js.p50'), p95: 'p95', p99: 'p99' };

  // --- the token: taken once from ?token=, kept in this tab only ----------
  (function takeToken() {
    const u = new URL(window.location.href);
    if (!u.searchParams.has('token')) return;
    const t = u.searchParams.get('token');
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    u.searchParams.delete('token');
    history.replaceState(history.state, '', u.pathname + u.search + u.hash);
  })();

  // The language chosen on the page is kept (localStorage) and asked for
  // with ?lang= on the next visit; without a choice the browser's decides.
  const stored = localStorage.getItem(LANG_KEY_PAGE);
  if (stored && stored !== LANG && !new URL(window.location.href).searchParams.has('lang')) {
    const u = new URL(window.location.href);
    u.searchParams.set('lang', stored);
    window.location.replace(u.toString());
    return;
  }
  document.getElementById('page-lang').addEventListener('change', (ev) => {
    const l = ev.target.value;
    localStorage.setItem(LANG_KEY_PAGE, l);
    const u = new URL(window.location.href);
    u.searchParams.set('lang', l);
    window.location.assign(u.toString());
  });

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    const res = await fetch(path, { headers, cache: 'no-store' });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (!res.ok) {
      throw new APIError(res.status, (body && body.error) || (res.status + ' ' + res.statusText));
    }
    return body;
  }

  // --- small DOM helpers ----------------------------------------------------
  const $ = (sel, root) => (root || document).querySelector(sel);

  function el(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') n.className = v;
      else n.setAttribute(k, v);
    }
    for (const kid of kids) {
      if (kid === undefined || kid === null || kid === false) continue;
      n.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return n;
  }

  function svg(tag, attrs) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    return n;
  }

  function setField(root, name, value) {
    const n = root.querySelector('[data-field="' + name + '"]');
    if (n) n.textContent = value;
  }

  // --- formatting -------------------------------------------------------------
  const nf = new Intl.NumberFormat('en-US');
  const num = (n) => nf.format(n);

  // money: "1234.56" (yuan, from integer fen) → "¥1,234.56", by string only.
  function money(s) {
    if (s === undefined || s === null || s === '') return '–';
    let neg = false;
    if (s[0] === '-') { neg = true; s = s.slice(1); }
    const [i, f] = s.split('.');
    const grouped = i.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return (neg ? '−' : '') + '¥' + grouped + (f !== undefined ? '.' + f : '');
  }

  // time: an RFC 3339 string from the API is shown in the offset it carries
  // (the calendar's zone), not the browser's.
  function when(s) {
    if (!s) return '–';
    return s.slice(0, 10) + ' ' + s.slice(11, 16);
  }

  function dur(sec) {
    if (sec === undefined || sec === null) return '–';
    const a = Math.abs(sec);
    if (a < 120) return t('page.js.dur.s', Math.round(sec));
    if (a < 7200) return t('page.js.dur.min', Math.round(sec / 60));
    if (a < 48 * 3600) return t('page.js.dur.h', (sec / 3600).toFixed(a < 36000 ? 1 : 0));
    return t('page.js.dur.d', (sec / 86400).toFixed(1));
  }

  function offsetMs(s) {
    const m = /([+-])(\d{2}):(\d{2})$/.exec(s || '');
    if (!m) return 0;
    return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60000;
  }

  function badge(text, cls) {
    return el('span', { class: 'badge ' + (cls || text) }, text);
  }

  function traceLink(traceNo) {
    return el('a', { class: 'trace', href: '#/trace/' + encodeURIComponent(traceNo), 'data-trace': traceNo }, traceNo);
  }

  function emptyRow(tbody, cols, text) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: String(cols), class: 'empty' }, text)));
  }

  // --- banner and token form --------------------------------------------------
  function showError(err) {
    const banner = $('#banner');
    if (err instanceof APIError && err.status === 401) {
      banner.textContent = t('page.js.need_token');
      $('#token-form').hidden = false;
    } else {
      banner.textContent = t('page.js.refresh_failed', err && err.message ? err.message : String(err));
    }
    banner.hidden = false;
  }

  function clearError() {
    $('#banner').hidden = true;
  }

  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('#token-input').value.trim();
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $('#token-input').value = '';
    $('#token-form').hidden = true;
    refresh();
  });

  // --- overview cards ---------------------------------------------------------
  const kindCounts = {};

  function renderOverview(o) {
    $('#as-of').textContent = t('page.js.pipeline_clock', when(o.as_of));
    const pay = [['#card-overdue', o.payouts.overdue], ['#card-failed', o.payouts.failed], ['#card-held', o.payouts.held]];
    for (const [id, t] of pay) {
      const card = $(id);
      setField(card, 'count', num(t.count));
      setField(card, 'amount', money(t.amount));
      card.classList.toggle('alarm', t.count > 0);
    }
    const counts = [
      ['#card-anomalies', o.open_anomalies, false],
      ['#card-sources', o.sources_lagging, true],
      ['#card-batches', o.batches_stalled, true],
      ['#card-alerts', o.alerts_firing, true],
      ['#card-dead', o.dead_letters, false],
    ];
    for (const [id, n, alarming] of counts) {
      const card = $(id);
      setField(card, 'count', num(n));
      card.classList.toggle('alarm', alarming && n > 0);
      card.classList.toggle('calm', alarming && n === 0);
    }
    for (const k of Object.keys(kindCounts)) delete kindCounts[k];
    for (const k of o.anomalies_by_kind) kindCounts[k.kind] = k;
    for (const opt of $('#f-kind').options) {
      if (!opt.value) continue;
      const k = kindCounts[opt.value];
      opt.textContent = opt.value + (k ? ' (' + openCount(k) + ')' : '');
    }
  }

  // "3 open" or, when a trace carries several of the kind, "4 open on 2 traces".
  function openCount(k) {
    if (k.traces === k.count) return t('page.js.open_rows', num(k.count));
    return t(k.traces === 1 ? 'page.js.open_on_trace' : 'page.js.open_on_traces', num(k.count), num(k.traces));
  }

  // --- the lag chart: one small SVG per settlement mode -----------------------
  let lastLag = null;

  function renderLag(res) {
    lastLag = res;
    const box = $('#lag-charts');
    $('#lag-window').textContent = res.from ? when(res.from) + ' – ' + when(res.to) : '';
    const byMode = new Map();
    for (const m of res.modes) byMode.set(m.mode, { summary: m, points: [] });
    for (const p of res.points) {
      if (!byMode.has(p.mode)) byMode.set(p.mode, { summary: null, points: [] });
      byMode.get(p.mode).points.push(p);
    }
    const modes = [...byMode.keys()].sort();
    if (!res.points.length) {
      box.replaceChildren(el('p', { class: 'empty' }, t('page.js.lag.empty')));
      box.dataset.state = 'empty';
      box.dataset.points = '0';
      return;
    }
    const from = Date.parse(res.from);
    const to = Date.parse(res.to);
    const off = offsetMs(res.from);
    // As many columns of at least 380 px as fit; each chart drawn at its
    // column's width, so its text is not scaled.
    const gap = 18;
    const cw = box.clientWidth || 900;
    const cols = Math.max(1, Math.min(modes.length, Math.floor((cw + gap) / (380 + gap))));
    const W = Math.floor((cw - gap * (cols - 1)) / cols);
    box.style.gridTemplateColumns = 'repeat(' + cols + ', minmax(0, 1fr))';
    box.replaceChildren(...modes.map((m) => chart(m, byMode.get(m), from, to, off, W)));
    box.dataset.state = 'ready';
    box.dataset.points = String(res.points.length);
  }

  function chart(mode, data, from, to, off, W) {
    const H = 200;
    const m = { l: 48, r: 34, t: 22, b: 22 };
    const pts = data.points.map((p) => ({ t: Date.parse(p.hour), p }));
    let ymax = 0;
    for (const { p } of pts) ymax = Math.max(ymax, p.p99_s);
    const unit = ymax < 7200 ? 60 : (ymax < 4 * 86400 ? 3600 : 86400);
    const uname = t(unit === 60 ? 'page.js.unit.min' : (unit === 3600 ? 'page.js.unit.h' : 'page.js.unit.d'));
    const step = niceStep(ymax / unit / 4) * unit;
    const top = Math.max(step, Math.ceil(ymax / step) * step);
    const x = (t) => m.l + (W - m.l - m.r) * (t - from) / Math.max(1, to - from);
    const y = (v) => H - m.b - (H - m.t - m.b) * v / top;

    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': t('page.js.lag.aria', mode), 'data-mode': mode });
    const grid = svg('g', { class: 'grid' });
    const axis = svg('g', { class: 'axis' });
    for (let v = 0; v <= top + 1e-9; v += step) {
      grid.append(svg('line', { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      const label = svg('text', { x: m.l - 6, y: y(v) + 3.5, 'text-anchor': 'end' });
      label.textContent = fmtTick(v / unit) + ' ' + uname;
      axis.append(label);
    }
    const day = 86400000;
    const span = to - from;
    const every = span > 20 * day ? 7 : (span > 8 * day ? 2 : 1);
    let first = Math.ceil((from + off) / day) * day - off;
    for (let t = first, i = 0; t <= to; t += day, i++) {
      if (i % every) continue;
      grid.append(svg('line', { x1: x(t), x2: x(t), y1: m.t, y2: H - m.b }));
      const edge = x(t) > W - m.r - 18 ? 'end' : (x(t) < m.l + 18 ? 'start' : 'middle');
      const label = svg('text', { x: x(t), y: H - 6, 'text-anchor': edge });
      label.textContent = new Date(t + off).toISOString().slice(5, 10);
      axis.append(label);
    }
    s.append(grid, axis);

    // Consecutive hours are joined; an hour with no paid trace breaks the
    // line, and an hour alone between gaps is drawn as a dot.
    const HOUR = 3600000;
    const alone = pts.map((q, i) => (i === 0 || q.t - pts[i - 1].t > HOUR) && (i === pts.length - 1 || pts[i + 1].t - q.t > HOUR));
    for (const pct of PCTS) {
      let d = '';
      let prev = null;
      for (const { t, p } of pts) {
        const cmd = prev !== null && t - prev <= HOUR ? 'L' : 'M';
        d += cmd + x(t).toFixed(1) + ' ' + y(p[pct + '_s']).toFixed(1) + ' ';
        prev = t;
      }
      const path = svg('path', { class: 'series ' + pct, d: d.trim(), 'data-points': String(pts.length), 'data-series': pct });
      const title = svg('title');
      title.textContent = t('page.js.lag.series', PCT_NAMES[pct], mode);
      path.append(title);
      s.append(path);
      pts.forEach((q, i) => {
        if (alone[i]) s.append(svg('circle', { class: 'dot ' + pct, cx: x(q.t).toFixed(1), cy: y(q.p[pct + '_s']).toFixed(1), r: 2.5 }));
      });
    }

    // Each line is named at its right end, in its colour; the names are
    // kept 10 px apart so they never print over one another.
    const last = pts[pts.length - 1];
    const ends = PCTS.map((pct) => ({ pct, y: y(last.p[pct + '_s']) })).sort((a, b) => b.y - a.y);
    for (let i = 1; i < ends.length; i++) ends[i].y = Math.min(ends[i].y, ends[i - 1].y - 10);
    for (const e of ends) {
      const label = svg('text', { class: 'end-label ' + e.pct, 'data-series': e.pct, x: W - m.r + 4, y: (Math.max(e.y, m.t) + 3.5).toFixed(1) });
      label.textContent = e.pct;
      s.append(label);
    }

    // Hover: a cursor, a marker on each line and the hour's readout, each
    // value in its line's colour.
    const cursor = svg('line', { class: 'cursor', y1: m.t, y2: H - m.b, x1: -10, x2: -10 });
    const markers = PCTS.map((pct) => svg('circle', { class: 'marker ' + pct, 'data-series': pct, r: 3.5, cx: -10, cy: -10 }));
    const readout = svg('text', { class: 'readout', x: m.l + 4, y: 13 });
    const hit = svg('rect', { class: 'hit', x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b });
    hit.addEventListener('mousemove', (ev) => {
      const r = s.getBoundingClientRect();
      const px = (ev.clientX - r.left) * W / r.width;
      const at = from + (px - m.l) / (W - m.l - m.r) * (to - from);
      let best = null;
      for (const q of pts) if (best === null || Math.abs(q.t - at) < Math.abs(best.t - at)) best = q;
      if (!best) return;
      cursor.setAttribute('x1', x(best.t));
      cursor.setAttribute('x2', x(best.t));
      PCTS.forEach((pct, i) => {
        markers[i].setAttribute('cx', x(best.t).toFixed(1));
        markers[i].setAttribute('cy', y(best.p[pct + '_s']).toFixed(1));
      });
      readout.replaceChildren();
      readout.append(document.createTextNode(when(best.p.hour) + '  '));
      for (const pct of PCTS) {
        const span = svg('tspan', { class: 'rd ' + pct, 'data-series': pct });
        span.textContent = '● ' + pct + ' ' + dur(best.p[pct + '_s']) + ' ';
        readout.append(span);
      }
      readout.append(document.createTextNode(t('page.js.paid_n', num(best.p.paid))));
      readout.dataset.hour = best.p.hour;
    });
    hit.addEventListener('mouseleave', () => {
      cursor.setAttribute('x1', -10);
      cursor.setAttribute('x2', -10);
      for (const mk of markers) { mk.setAttribute('cx', -10); mk.setAttribute('cy', -10); }
      readout.replaceChildren();
      delete readout.dataset.hour;
    });
    s.append(cursor, ...markers, readout, hit);

    const sum = data.summary;
    const head = el('h3', {}, t('page.js.lag.mode', mode),
      el('small', {}, sum ? t('page.js.lag.all_time', dur(sum.p50_s), dur(sum.p95_s), dur(sum.p99_s), num(sum.paid)) : ''));
    return el('div', { class: 'chart', 'data-mode': mode }, head, s);
  }

  function niceStep(raw) {
    if (!(raw > 0)) return 1;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 2.5, 5, 10]) if (raw <= f * pow) return f * pow;
    return 10 * pow;
  }

  function fmtTick(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  // --- alerts -------------------------------------------------------------------
  function renderAlerts(res) {
    const table = $('#alerts');
    const tbody = table.tBodies[0];
    if (!res.alerts.length) {
      emptyRow(tbody, 7, t('page.js.alerts.empty'));
    } else {
      tbody.replaceChildren(...res.alerts.map((a) => {
        const labels = Object.entries(a.labels).filter(([k]) => k !== 'alertname')
          .map(([k, v]) => el('span', { class: 'chip' }, k + '=' + v));
        const summary = a.annotations.summary || a.annotations.description || '';
        // One clock per column: the start goes under the clock it is in.
        const event = a.started_clock === 'event';
        return el('tr', { 'data-alert': a.alertname, 'data-clock': a.started_clock },
          el('td', {}, badge(a.state, a.state), ' ', el('strong', {}, a.alertname)),
          el('td', {}, summary),
          el('td', {}, ...labels),
          el('td', { class: 'when', 'data-col': 'since-event' }, event ? when(a.started_at) : '–'),
          el('td', { class: 'when', 'data-col': 'since-wall' }, event ? '–' : when(a.started_at)),
          el('td', { class: 'when', 'data-col': 'notified-wall' }, when(a.last_sent_at)),
          el('td', { class: 'num' }, num(a.notifications)));
      }));
    }
    table.dataset.state = 'ready';
  }

  // --- anomalies ----------------------------------------------------------------
  function anomalyFilters() {
    const f = {
      kind: $('#f-kind').value,
      merchant: $('#f-merchant').value.trim(),
      date: $('#f-date').value,
      status: $('#f-status').value,
    };
    if (f.merchant && !/^[A-Za-z0-9_-]{1,64}$/.test(f.merchant)) f.merchant = null; // invalid: not sent
    return f;
  }

  function filterKey(f) {
    return [f.kind, f.merchant || '', f.date, f.status].join('|');
  }

  async function loadAnomalies() {
    const f = anomalyFilters();
    const table = $('#anomalies');
    if (f.merchant === null) {
      $('#anomaly-count').textContent = t('page.js.merchant_invalid');
      return;
    }
    const q = new URLSearchParams({ status: f.status, limit: '200', lang: LANG });
    if (f.kind) q.set('kind', f.kind);
    if (f.merchant) q.set('merchant', f.merchant);
    if (f.date) q.set('date', f.date);
    table.dataset.state = 'loading';
    const res = await api('/api/v1/anomalies?' + q.toString());
    if (filterKey(anomalyFilters()) !== filterKey(f)) return; // the filters changed meanwhile
    renderAnomalies(res, f);
  }

  function renderAnomalies(res, f) {
    const table = $('#anomalies');
    const tbody = table.tBodies[0];
    $('#anomaly-count').textContent = res.total > res.anomalies.length
      ? t('page.js.anomalies.newest', num(res.anomalies.length), num(res.total))
      : t(res.total === 1 ? 'page.js.anomalies.one' : 'page.js.anomalies.many', num(res.total));
    if (!res.anomalies.length) {
      emptyRow(tbody, 7, t('page.js.anomalies.empty'));
    } else {
      tbody.replaceChildren(...res.anomalies.map((a) => {
        const what = a.trace_no ? traceLink(a.trace_no) : (a.batch_id ? el('span', { class: 'mono' }, t('page.js.batch', a.batch_id)) : '–');
        const detail = [a.reason, a.details].filter(Boolean).join(' — ');
        return el('tr', { 'data-kind': a.kind, 'data-id': a.id },
          el('td', { class: 'when' }, when(a.detected_at)),
          el('td', {}, badge(a.kind, a.severity)),
          el('td', {}, what),
          el('td', { class: 'mono' }, a.merchant_id || '–'),
          el('td', { class: 'num' }, money(a.amount)),
          el('td', {}, detail ? el('span', { class: 'detail', title: a.action }, detail) : el('span', { class: 'detail' }, a.action)),
          el('td', {}, badge(a.status, a.status)));
      }));
    }
    table.dataset.kind = f.kind;
    table.dataset.filter = filterKey(f);
    table.dataset.rows = String(res.anomalies.length);
    table.dataset.total = String(res.total);
    table.dataset.state = 'ready';
  }

  const filters = $('#anomaly-filters');
  filters.addEventListener('change', () => { loadAnomalies().catch(showError); });
  filters.addEventListener('submit', (ev) => { ev.preventDefault(); loadAnomalies().catch(showError); });
  filters.addEventListener('reset', () => { setTimeout(() => loadAnomalies().catch(showError), 0); });

  // --- incidents ----------------------------------------------------------------
  // expanded holds the keys of the incidents whose traces are shown; it
  // survives the refreshes.
  const expanded = new Set();

  async function loadIncidents() {
    const status = $('#i-status').value || 'open';
    const res = await api('/api/v1/incidents?status=' + encodeURIComponent(status) + '&lang=' + encodeURIComponent(LANG));
    renderIncidents(res);
    await Promise.all([...expanded].map((k) => loadIncidentTraces(k)));
  }

  function incidentRowId(key) {
    return 'inc-' + Array.from(key, (c) => c.charCodeAt(0).toString(16)).join('');
  }

  function renderIncidents(res) {
    const table = $('#incidents');
    const tbody = table.tBodies[0];
    $('#incident-count').textContent = res.total > res.incidents.length
      ? t('page.js.incidents.most_urgent', num(res.incidents.length), num(res.total))
      : t(res.total === 1 ? 'page.js.incidents.one' : 'page.js.incidents.many', num(res.total));
    if (!res.incidents.length) {
      emptyRow(tbody, 8, t('page.js.incidents.empty'));
    } else {
      const rows = [];
      for (const i of res.incidents) {
        const open = expanded.has(i.key);
        rows.push(el('tr', { class: 'incident', 'data-key': i.key, 'data-class': i.class, 'aria-expanded': open ? 'true' : 'false', tabindex: '0' },
          el('td', {}, badge(i.severity, i.severity)),
          el('td', {}, el('strong', {}, i.title), el('br'), el('small', { class: 'action' }, i.action)),
          el('td', { class: 'num' }, num(i.traces)),
          el('td', { class: 'num' }, money(i.amount)),
          el('td', { class: 'num', title: (i.some_merchants || []).join(', ') }, num(i.merchants)),
          el('td', { class: 'when' }, when(i.first_at)),
          el('td', { class: 'when' }, when(i.last_at)),
          el('td', {}, badge(i.status, i.status))));
        const sub = el('tr', { class: 'incident-traces', id: incidentRowId(i.key), 'data-key': i.key },
          el('td', { colspan: '8' }, el('p', { class: 'empty' }, t('page.js.loading'))));
        sub.hidden = !open;
        rows.push(sub);
      }
      tbody.replaceChildren(...rows);
    }
    table.dataset.rows = String(res.incidents.length);
    table.dataset.total = String(res.total);
    table.dataset.state = 'ready';
  }

  async function loadIncidentTraces(key) {
    const row = document.getElementById(incidentRowId(key));
    if (!row) return;
    const res = await api('/api/v1/incidents/traces?limit=200&lang=' + encodeURIComponent(LANG) + '&key=' + encodeURIComponent(key));
    const list = el('table', { class: 'inner' },
      el('thead', {}, el('tr', {}, el('th', {}, t('page.col.when')), el('th', {}, t('page.col.trace_batch')), el('th', {}, t('page.col.merchant')),
        el('th', {}, t('page.col.kind')), el('th', { class: 'num' }, t('page.col.amount')), el('th', {}, t('page.col.details')), el('th', {}, t('page.col.status')))),
      el('tbody', {}, ...res.traces.map((x) => el('tr', { 'data-trace': x.trace_no || '' },
        el('td', { class: 'when' }, when(x.at)),
        el('td', {}, x.trace_no ? traceLink(x.trace_no) : (x.batch_id ? el('span', { class: 'mono' }, t('page.js.batch', x.batch_id)) : '–')),
        el('td', { class: 'mono' }, x.merchant_id || '–'),
        el('td', {}, x.kind || t('page.js.delivered_late')),
        el('td', { class: 'num' }, money(x.amount)),
        el('td', {}, el('span', { class: 'detail' }, x.details || '')),
        el('td', {}, x.status ? badge(x.status, x.status) : '–')))));
    const note = res.total > res.traces.length
      ? t('page.js.traces.first', num(res.traces.length), num(res.total))
      : t(res.total === 1 ? 'page.js.traces.one' : 'page.js.traces.many', num(res.total));
    row.firstChild.replaceChildren(el('p', { class: 'count' }, note), list);
    row.dataset.state = 'ready';
  }

  $('#incidents').addEventListener('click', (ev) => {
    if (ev.target.closest('a')) return; // a trace link opens explain
    const tr = ev.target.closest('tr.incident');
    if (!tr) return;
    const key = tr.dataset.key;
    const sub = document.getElementById(incidentRowId(key));
    if (expanded.has(key)) {
      expanded.delete(key);
      tr.setAttribute('aria-expanded', 'false');
      if (sub) sub.hidden = true;
      return;
    }
    expanded.add(key);
    tr.setAttribute('aria-expanded', 'true');
    if (sub) sub.hidden = false;
    loadIncidentTraces(key).catch(showError);
  });
  $('#incidents').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && ev.target.matches('tr.incident')) ev.target.click();
  });
  $('#incident-filters').addEventListener('change', () => { loadIncidents().catch(showError); });

  // --- find a trace without its number -----------------------------------------
  async function findTraces() {
    const q = new URLSearchParams();
    for (const name of ['merchant', 'day', 'amount', 'terminal', 'last4']) {
      const v = $('#q-' + name).value.trim();
      if (v) q.set(name, v);
    }
    const table = $('#found');
    table.dataset.state = 'loading';
    const started = performance.now();
    const res = await api('/api/v1/traces?' + q.toString());
    const ms = Math.round(performance.now() - started);
    const tbody = table.tBodies[0];
    $('#find-count').textContent = res.traces.length
      ? t('page.js.find.found', res.merchant_id, res.day, res.amount, ms)
      : t('page.js.find.none', res.merchant_id, res.day);
    tbody.replaceChildren(...res.traces.map((m) => el('tr', { 'data-trace': m.trace_no, 'data-score': String(m.score) },
      el('td', {}, traceLink(m.trace_no)),
      el('td', { class: 'when' }, when(m.authorized_at)),
      el('td', { class: 'mono' }, m.terminal_id || '–'),
      el('td', { class: 'mono' }, m.card_last4 || '–'),
      el('td', { class: 'num' }, money(m.amount)),
      el('td', {}, badge(m.status, m.status)),
      el('td', { class: 'when' }, when(m.expected_payout_at)),
      el('td', { class: 'when' }, when(m.paid_at)),
      el('td', {}, m.matched.join(' + ') || '–'))));
    table.hidden = false;
    table.dataset.rows = String(res.traces.length);
    table.dataset.state = 'ready';
  }
  $('#find-form').addEventListener('submit', (ev) => { ev.preventDefault(); findTraces().catch(showError); });

  // --- batches ------------------------------------------------------------------
  function renderBatches(res) {
    const table = $('#batches');
    const tbody = table.tBodies[0];
    if (!res.batches.length) {
      emptyRow(tbody, 6, t('page.js.batches.empty'));
    } else {
      tbody.replaceChildren(...res.batches.map((b) => {
        let progress;
        if (b.progress !== undefined) {
          const bar = el('span', { class: 'bar' }, el('span'));
          bar.firstChild.style.width = Math.min(100, Math.round(b.progress * 100)) + '%';
          progress = [bar, el('small', {}, num(b.seen_count) + ' / ' + num(b.declared_count))];
        } else {
          progress = [el('small', {}, t('page.js.batches.seen', num(b.seen_count)))];
        }
        return el('tr', { class: b.status, 'data-batch': b.batch_id, 'data-status': b.status },
          el('td', {}, el('span', { class: 'mono' }, b.batch_id), el('br'), el('small', {}, b.source)),
          el('td', {}, badge(b.status, b.status)),
          el('td', {}, ...progress),
          el('td', { class: 'num' }, money(b.seen_total), el('br'), el('small', {}, b.declared_count ? money(b.declared_total) : '–')),
          el('td', { class: 'when' }, when(b.last_progress)),
          el('td', { class: 'num' }, num(b.stalls)));
      }));
    }
    table.dataset.state = 'ready';
  }

  // --- sources ------------------------------------------------------------------
  function renderSources(res) {
    const table = $('#sources');
    const tbody = table.tBodies[0];
    if (!res.sources.length) {
      emptyRow(tbody, 7, t('page.js.sources.empty'));
    } else {
      tbody.replaceChildren(...res.sources.map((s) => el('tr', { class: s.status, 'data-source': s.source },
        el('td', {}, el('strong', {}, s.source)),
        el('td', {}, badge(s.status, s.status)),
        el('td', { class: 'when' }, when(s.watermark)),
        el('td', { class: 'num', title: s.threshold_s !== undefined ? t('page.js.sources.lagging_beyond', dur(s.threshold_s)) : '' },
          dur(s.watermark_lag_s), s.threshold_s !== undefined ? el('small', {}, ' / ' + dur(s.threshold_s)) : ''),
        el('td', { class: 'num' }, num(s.withheld)),
        el('td', { class: 'num' }, s.consumer_lag !== undefined ? num(s.consumer_lag) : '–'),
        el('td', { class: 'num' }, dur(s.idle_s)))));
    }
    table.dataset.state = 'ready';
  }

  // --- the trace explain view ---------------------------------------------------
  const overlay = $('#explain');
  const LANG_KEY = 'settlemon.console.explain-lang';
  const langSelect = $('#explain-lang');
  langSelect.value = sessionStorage.getItem(LANG_KEY) || '';
  const replyBox = overlay.querySelector('.reply');

  function traceFromHash() {
    const m = /^#\/trace\/([^/]+)$/.exec(window.location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }

  async function openExplain(traceNo) {
    overlay.hidden = false;
    overlay.dataset.state = 'loading';
    overlay.dataset.trace = traceNo;
    setField(overlay, 'trace_no', traceNo);
    setField(overlay, 'status', '…');
    setField(overlay, 'summary', t('page.js.loading'));
    const status = overlay.querySelector('[data-field="status"]');
    status.className = 'status';
    overlay.querySelector('.timeline tbody').replaceChildren();
    overlay.querySelector('.x-anomalies').replaceChildren();
    replyBox.hidden = true;
    setField(overlay, 'reply', '');
    replyBox.querySelector('.copied').textContent = '';
    let x;
    try {
      // Without a choice, the page's language.
      const lang = '?lang=' + encodeURIComponent(langSelect.value || LANG);
      x = await api('/api/v1/traces/' + encodeURIComponent(traceNo) + '/explain' + lang);
    } catch (err) {
      if (traceFromHash() !== traceNo) return;
      setField(overlay, 'status', err.status === 404 ? 'not_found' : 'error');
      setField(overlay, 'summary', err.message);
      overlay.dataset.state = 'error';
      if (err.status === 401) showError(err);
      return;
    }
    if (traceFromHash() !== traceNo) return;
    status.className = 'status ' + x.status;
    setField(overlay, 'status', x.status);
    setField(overlay, 'summary', x.summary);
    setField(overlay, 'reply', x.reply || '');
    replyBox.hidden = !x.reply;
    overlay.dataset.lang = x.lang || '';
    setField(overlay, 'merchant_id', x.merchant_id || '–');
    setField(overlay, 'mode', x.mode || '–');
    setField(overlay, 'expected_payout_at', when(x.expected_payout_at));
    setField(overlay, 'as_of', when(x.as_of));
    const cal = x.calendar_version || '–';
    setField(overlay, 'calendar', x.calendar_fallback ? t('page.js.calendar_fallback', cal) : cal);
    const tl = overlay.querySelector('.timeline tbody');
    if (!x.timeline.length) emptyRow(tl, 6, t('page.js.timeline.empty'));
    else tl.replaceChildren(...x.timeline.map((s) => el('tr', {},
      el('td', { class: 'when' }, when(s.at)),
      el('td', {}, s.stage),
      el('td', { class: 'num' }, s.amount ? money(s.amount) : ''),
      el('td', { class: 'mono' }, s.batch || ''),
      el('td', {}, s.detail || ''),
      el('td', { class: 'mono' }, s.source))));
    const ul = overlay.querySelector('.x-anomalies');
    if (!x.anomalies.length) ul.replaceChildren(el('li', { class: 'empty' }, t('page.js.none')));
    else ul.replaceChildren(...x.anomalies.map((a) => el('li', { 'data-kind': a.kind },
      badge(a.kind, a.severity), ' ', badge(a.status, a.status), ' ',
      a.reason ? el('strong', {}, t('page.js.reason', a.reason)) : '', t('page.js.cause', a.cause),
      el('em', {}, t('page.js.action', a.action)), a.details ? el('div', { class: 'detail' }, a.details) : '')));
    overlay.dataset.state = 'ready';
  }

  function closeExplain() {
    overlay.hidden = true;
    overlay.dataset.state = 'closed';
    delete overlay.dataset.trace;
  }

  function route() {
    const t = traceFromHash();
    if (t) openExplain(t);
    else closeExplain();
  }

  function leaveExplain() {
    if (!traceFromHash()) return;
    history.pushState(history.state, '', window.location.pathname + window.location.search);
    closeExplain();
  }

  // The reply goes to the clipboard as it is: the agent pastes it to the
  // merchant.
  async function copyReply() {
    const text = overlay.querySelector('[data-field="reply"]').textContent;
    const note = replyBox.querySelector('.copied');
    try {
      await navigator.clipboard.writeText(text);
      note.textContent = t('page.js.copied');
    } catch (_) {
      // No clipboard permission (plain http beyond loopback): select the
      // text so that Ctrl+C copies it.
      const r = document.createRange();
      r.selectNodeContents(overlay.querySelector('[data-field="reply"]'));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
      note.textContent = t('page.js.selected');
    }
  }

  $('#explain-copy-reply').addEventListener('click', copyReply);
  langSelect.addEventListener('change', () => {
    if (langSelect.value) sessionStorage.setItem(LANG_KEY, langSelect.value);
    else sessionStorage.removeItem(LANG_KEY);
    const t = traceFromHash();
    if (t) openExplain(t);
  });

  window.addEventListener('hashchange', route);
  $('#explain-close').addEventListener('click', leaveExplain);
  overlay.addEventListener('click', (ev) => { if (ev.target === overlay) leaveExplain(); });
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') leaveExplain(); });

  // --- refresh ------------------------------------------------------------------
  let refreshing = false;
  let refreshes = 0;

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    const jobs = [
      api('/api/v1/overview').then(renderOverview),
      loadIncidents(),
      api('/api/v1/lag/hourly').then(renderLag),
      api('/api/v1/alerts?lang=' + encodeURIComponent(LANG)).then(renderAlerts),
      loadAnomalies(),
      api('/api/v1/batches?limit=60').then(renderBatches),
      api('/api/v1/sources').then(renderSources),
    ];
    const results = await Promise.allSettled(jobs);
    refreshing = false;
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      showError(failed.reason);
      document.body.dataset.state = 'error';
      return;
    }
    clearError();
    refreshes++;
    document.body.dataset.refreshes = String(refreshes);
    document.body.dataset.state = 'ready';
    $('#refreshed').textContent = t('page.js.refreshed', new Date().toLocaleTimeString('en-GB'));
  }

  let timer = null;
  function schedule() {
    if (timer) clearInterval(timer);
    timer = $('#auto-refresh').checked ? setInterval(refresh, REFRESH_MS) : null;
  }
  $('#auto-refresh').addEventListener('change', schedule);
  $('#refresh-now').addEventListener('click', refresh);

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (lastLag) renderLag(lastLag); }, 150);
  });

  refresh();
  schedule();
  route();
})();
