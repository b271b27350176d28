/* flowtag's live view. One request a second to /v1/view (the flows the filters ask for and
 * everything else on the page); rates are differences of two snapshots over their server
 * times. Data from packets (hosts, names) is hostile: it only ever goes in as text
 * (textContent), never as markup. The bearer token stays in this tab (sessionStorage). */
"use strict";

const POLL_MS = 1000;
const WINDOW_POINTS = 300; /* five minutes of one-second points */
const TOP_APPS = 8;
const PAGE = 50;
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];

const state = {
  token: sessionStorage.getItem("flowtag.token") || "",
  filters: { app: "", host: "", chain: "", cidr: "" },
  offset: 0,
  prev: null, /* the last snapshot */
  labels: [], /* times of the chart points */
  appRates: new Map(), /* app -> [bytes/s ...] aligned with labels */
  chainRates: new Map(),
  inFlight: false,
  updates: 0,
  charts: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fmt(n) {
  if (!isFinite(n)) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(1) + " G";
  if (a >= 1e6) return (n / 1e6).toFixed(1) + " M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + " k";
  return a >= 100 || Number.isInteger(n) ? Math.round(n).toString() : n.toFixed(1);
}

/* The hash carries the token once (then it is moved to sessionStorage) and the filters, so a
 * view can be linked: #app=YouTube&chain=video. */
function readHash() {
  const h = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (h.get("token")) {
    state.token = h.get("token");
    sessionStorage.setItem("flowtag.token", state.token);
    h.delete("token");
    history.replaceState(null, "", location.pathname + (h.toString() ? "#" + h : ""));
  }
  for (const k of Object.keys(state.filters)) state.filters[k] = h.get(k) || "";
  state.offset = Math.max(0, parseInt(h.get("offset") || "0", 10) || 0);
  const form = $("filters");
  for (const k of Object.keys(state.filters)) form.elements[k].value = state.filters[k];
}

function writeHash() {
  const h = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) h.set(k, v);
  if (state.offset) h.set("offset", state.offset);
  history.replaceState(null, "", location.pathname + (h.toString() ? "#" + h : ""));
}

function show(which) {
  document.body.dataset.state = which;
  $("token-prompt").hidden = which !== "need-token";
  $("live").hidden = which !== "live";
}

function setStatus(text) {
  $("status").textContent = text;
}

function tagText(c) {
  switch (c.tag) {
    case "nsh": return "NSH SPI " + c.spi + (c.md_type ? ", MD" + c.md_type : "");
    case "vlan": return "VLAN " + c.vid;
    case "mpls": return "MPLS label " + (c.label !== undefined ? c.label : c.spi);
    case "dscp": return "DSCP " + c.dscp;
    default: return c.tag;
  }
}

/* ---- charts (Chart.js from Debian's libjs-chart.js, served by flowtag itself) ---- */

function makeChart(canvas, yTitle) {
  if (typeof Chart === "undefined") return null;
  return new Chart(canvas, {
    type: "line",
    data: { labels: [], datasets: [] },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
      normalized: true, spanGaps: true,
      elements: { point: { radius: 0 }, line: { borderWidth: 2, tension: 0.2 } },
      interaction: { mode: "nearest", intersect: false },
      plugins: { legend: { display: false } },
      scales: {
        x: { type: "linear", ticks: { maxTicksLimit: 6, callback: (v) => new Date(v).toLocaleTimeString() } },
        y: { beginAtZero: true, title: { display: true, text: yTitle },
          ticks: { callback: (v) => fmt(v) } },
      },
    },
  });
}

function push(series, key, t, value) {
  if (!series.has(key)) series.set(key, []);
  const s = series.get(key);
  s.push({ x: t, y: value });
  while (s.length > WINDOW_POINTS) s.shift();
}

function drawSeries(chart, legend, entries, unit) {
  legend.replaceChildren();
  entries.forEach(([name, points, label], i) => {
    const color = COLORS[i % COLORS.length];
    const li = el("li");
    const sw = el("span", null, "swatch");
    sw.style.background = color;
    li.append(sw, el("span", label || name));
    const last = points.length ? points[points.length - 1].y : 0;
    li.append(el("span", " " + fmt(last) + " " + unit, "chain-count"));
    li.dataset.name = name;
    li.dataset.points = points.length;
    legend.append(li);
  });
  if (!chart) return;
  chart.data.datasets = entries.map(([name, points, label], i) => ({
    label: label || name, data: points.slice(), borderColor: COLORS[i % COLORS.length],
    backgroundColor: COLORS[i % COLORS.length],
  }));
  chart.update("none");
}

/* ---- one snapshot ---- */

function rate(now, before, dt) {
  return before === undefined || dt <= 0 ? null : Math.max(0, (now - before) / dt);
}

function render(v) {
  const prev = state.prev;
  const dt = prev ? (v.time_ms - prev.time_ms) / 1000 : 0;
  const s = v.summary;

  /* Headline figures. */
  const ppsIn = prev ? rate(s.rx_packets, prev.summary.rx_packets, dt) : null;
  const ppsOut = prev ? rate(s.tx_packets, prev.summary.tx_packets, dt) : null;
  $("pps-in").textContent = ppsIn === null ? "–" : fmt(ppsIn);
  $("pps-out").textContent = ppsOut === null ? "–" : fmt(ppsOut);
  $("flows-active").textContent = fmt(s.flows_active);
  $("flows-split").textContent = fmt(Math.max(0, s.flows_active - s.flows_classifying)) + " / " +
    fmt(s.flows_classifying);
  $("flows-offloaded").textContent = fmt(s.flows_offloaded);
  const drops = Object.entries(s.drops);
  $("drops").textContent = drops.length ? drops.map(([k, n]) => k + " " + fmt(n)).join(", ") : "none";

  /* Rates per application and per chain. */
  if (prev && dt > 0) {
    const t = v.time_ms;
    const before = new Map(prev.apps.map((a) => [a.app, a.bytes]));
    for (const a of v.apps) push(state.appRates, a.app, t, rate(a.bytes, before.get(a.app) ?? a.bytes, dt));
    const cb = new Map(prev.chains.map((c) => [c.name, c.packets]));
    for (const c of v.chains) push(state.chainRates, c.name, t, rate(c.packets, cb.get(c.name) ?? c.packets, dt));
  }
  const mean = (pts) => pts.reduce((x, p) => x + p.y, 0) / Math.max(1, pts.length);
  const apps = [...state.appRates.entries()].filter(([, p]) => p.length)
    .sort((a, b) => mean(b[1]) - mean(a[1])).slice(0, TOP_APPS);
  /* Until rates exist, the applications seen so far, by bytes. */
  const appsShown = apps.length ? apps : v.apps.slice().sort((a, b) => b.bytes - a.bytes)
    .slice(0, TOP_APPS).map((a) => [a.app, []]);
  drawSeries(state.charts && state.charts.apps, $("apps-legend"), appsShown, "B/s");
  const tags = new Map(v.chains.map((c) => [c.name, c.name + " (" + tagText(c) + ")"]));
  const chains = v.chains.map((c) => [c.name, state.chainRates.get(c.name) || [], tags.get(c.name)]);
  drawSeries(state.charts && state.charts.chains, $("chains-legend"), chains, "pkt/s");

  renderChains(v);
  renderFlows(v.flows);
  renderRules(v);
  state.prev = v;
  state.updates++;
  document.body.dataset.updates = state.updates;
  document.body.dataset.hscroll = document.documentElement.scrollWidth > window.innerWidth ? "yes" : "no";
}

function renderChains(v) {
  const pic = $("chains-picture");
  pic.replaceChildren();
  for (const c of v.chains) {
    const row = el("div", null, "chain-row");
    row.dataset.chain = c.name;
    row.append(el("span", c.name + " · " + tagText(c), "chain-name"));
    row.append(el("span", "classifier", "box classifier"), el("span", "→", "arrow"));
    for (let i = 1; i <= (c.hops || 1); i++)
      row.append(el("span", c.name + " SF " + i, "box hop"), el("span", "→", "arrow"));
    row.append(el("span", "egress", "box egress"));
    row.append(el("span", fmt(c.packets) + " packets, " + fmt(c.flows) + " flows", "chain-count"));
    pic.append(row);
  }
  const other = el("div", null, "chain-row");
  other.append(el("span", "no chain", "chain-name"), el("span", "classifier", "box classifier"),
    el("span", "→", "arrow"), el("span", "egress", "box egress"),
    el("span", fmt(v.flows_passed) + " flows passed, " + fmt(v.flows_dropped) + " dropped", "chain-count"));
  pic.append(other);
}

function endpoint(ip, port) {
  return (ip.includes(":") ? "[" + ip + "]" : ip) + (port ? ":" + port : "");
}

function renderFlows(f) {
  const body = $("flows").tBodies[0];
  body.replaceChildren();
  for (const r of f.flows) {
    const tr = el("tr");
    tr.dataset.app = r.app_protocol;
    tr.dataset.label = r.label;
    tr.dataset.chain = r.chain || "";
    tr.append(el("td", r.label), el("td", endpoint(r.src_ip, r.src_port) + " → " + endpoint(r.dst_ip, r.dst_port)),
      el("td", r.l4), el("td", r.host || ""), el("td", r.chain || r.action),
      el("td", fmt(r.packets), "num"), el("td", fmt(r.bytes), "num"),
      el("td", r.dpi + (r.offloaded ? " · in OVS" : "")));
    body.append(tr);
  }
  const from = f.returned ? f.offset + 1 : 0;
  $("page-info").textContent = f.returned ? "flows " + from + "–" + (f.offset + f.returned) + (f.more ? " of more" : "") : "no flows match";
  $("prev").disabled = f.offset === 0;
  $("next").disabled = !f.more;
}

function renderRules(v) {
  $("policy-version").textContent = "(version " + v.policy_version + ")";
  const body = $("rules").tBodies[0];
  body.replaceChildren();
  const then = (r) => r.action === "chain" ? "chain " + r.chain : r.action;
  for (const r of v.rules) {
    const tr = el("tr");
    tr.append(el("td", r.rule), el("td", r.line || ""), el("td", r.match), el("td", then(r)),
      el("td", fmt(r.flows), "num"));
    body.append(tr);
  }
  const tr = el("tr");
  tr.append(el("td", "default"), el("td", ""), el("td", "anything else"), el("td", then(v.default)),
    el("td", fmt(v.default.flows), "num"));
  body.append(tr);
}

/* ---- the poll ---- */

async function poll() {
  if (state.inFlight) return;
  state.inFlight = true;
  const q = new URLSearchParams({ limit: PAGE, offset: state.offset });
  for (const [k, val] of Object.entries(state.filters)) if (val) q.set(k, val);
  try {
    const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
    const resp = await fetch("/v1/view?" + q, { headers, cache: "no-store" });
    if (resp.status === 401) {
      state.prev = null; /* and nothing of what was shown stays */
      for (const id of ["apps-legend", "chains-legend", "chains-picture"]) $(id).replaceChildren();
      for (const id of ["flows", "rules"]) $(id).tBodies[0].replaceChildren();
      $("token-error").hidden = !state.token;
      show("need-token");
      setStatus("needs the API token");
      return;
    }
    const body = await resp.json();
    if (resp.status === 400) {
      $("filter-error").textContent = body.error || "bad filter";
      $("filter-error").hidden = false;
      return;
    }
    if (!resp.ok) {
      setStatus("flowtag answered " + resp.status + ": " + (body.error || ""));
      return;
    }
    $("filter-error").hidden = true;
    show("live");
    render(body);
    setStatus("live · updated " + new Date().toLocaleTimeString());
  } catch (e) {
    setStatus("flowtag does not answer (" + e.message + ")");
    document.body.dataset.state = "error";
  } finally {
    state.inFlight = false;
  }
}

function init() {
  readHash();
  state.charts = {
    apps: makeChart($("apps-chart"), "bytes/s"),
    chains: makeChart($("chains-chart"), "packets/s"),
  };
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("token-input").value.trim();
    sessionStorage.setItem("flowtag.token", state.token);
    $("token-input").value = "";
    poll();
  });
  $("filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    for (const k of Object.keys(state.filters)) state.filters[k] = ev.target.elements[k].value.trim();
    state.offset = 0;
    writeHash();
    poll();
  });
  $("clear-filters").addEventListener("click", () => {
    for (const k of Object.keys(state.filters)) { state.filters[k] = ""; $("filters").elements[k].value = ""; }
    state.offset = 0;
    writeHash();
    poll();
  });
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); writeHash(); poll(); });
  $("next").addEventListener("click", () => { state.offset += PAGE; writeHash(); poll(); });
  window.addEventListener("hashchange", () => { readHash(); poll(); });
  poll();
  setInterval(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", init);
