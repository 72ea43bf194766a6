// The dialtone dashboard. Written for this page, no libraries: state from the
// server's event stream, DOM updates by key, SVG charts drawn here.
"use strict";

const state = {
  server: "", connected: false, live: false,
  interval: 1000, window: 300, now: Date.now(),
  services: [], series: new Map(), events: [], patterns: ["balanced", "lowest-latency", "available"],
};
const $ = (id) => document.getElementById(id);

// ---- formatting ----
function fmtRate(v) {
  if (v == null) return "–";
  if (v === 0) return "0";
  if (v < 10) return v.toFixed(1);
  return Math.round(v).toLocaleString("en-US");
}
function trim(s) { return s.includes(".") ? s.replace(/\.?0+$/, "") : s; }
function fmtMS(v) {
  if (v == null) return "–";
  if (v < 1) return Math.round(v * 1000) + "µs";
  if (v < 10) return trim(v.toFixed(2)) + "ms";
  if (v < 1000) return v.toFixed(0) + "ms";
  return trim((v / 1000).toFixed(2)) + "s";
}
function fmtSpan(ms) {
  const s = Math.round(ms / 1000);
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}
// shortID keeps both ends of an instance id: ids from one process share a prefix.
function shortID(id) { return id.length > 14 ? id.slice(0, 5) + "…" + id.slice(-7) : id; }
function fmtUptime(s) {
  s = Math.max(0, Math.floor(s));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  if (s < 172800) return Math.floor(s / 3600) + "h" + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + String(Math.floor(s / 3600) % 24).padStart(2, "0") + "h";
}
function fmtTime(t) {
  const d = new Date(t);
  return d.toLocaleTimeString("en-GB", { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0").slice(0, 1);
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

// The page is redrawn on every tick, so it changes only what changed: a text
// set to what it already is, or a list rebuilt with the same items, would
// replace nodes the reader may be selecting, hovering or holding.
function setText(e, v) { if (e.textContent !== v) e.textContent = v; }
function setAttr(e, k, v) { if (e.getAttribute(k) !== v) e.setAttribute(k, v); }

// syncList makes parent's element children one per item, in order: it keeps
// the child with the item's key (running update on it), makes the missing ones
// and removes the rest, and moves only a child that is out of place.
function syncList(parent, items, keyOf, make, update) {
  const old = new Map();
  for (const c of parent.children) old.set(c.dataset.key, c);
  const nodes = items.map((it) => {
    const k = keyOf(it);
    let n = old.get(k);
    if (n) old.delete(k);
    else { n = make(it); n.dataset.key = k; }
    if (update) update(n, it);
    return n;
  });
  for (const n of old.values()) n.remove();
  inOrder(parent, nodes);
}

// inOrder puts nodes into parent one after the other in the given order,
// moving only those out of place; the first stays where it is if it is there.
function inOrder(parent, nodes) {
  nodes.forEach((n, i) => {
    if (i === 0) { if (n.parentNode !== parent) parent.prepend(n); }
    else if (nodes[i - 1].nextElementSibling !== n) nodes[i - 1].after(n);
  });
}

// ---- charts ----
const SVGNS = "http://www.w3.org/2000/svg";
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
// chart draws lines over the last window of samples: each line is
// {cls, area, values: [[t, v or null]...]}; null leaves a gap.
function chart(lines, fmt) {
  const W = 240, H = 64, top = 12, bottom = H - 2;
  const span = state.window * state.interval;
  const t1 = state.now, t0 = t1 - span;
  let peak = 0;
  for (const l of lines) for (const [, v] of l.values) if (v != null && v > peak) peak = v;
  const ymax = niceMax(peak);
  const x = (t) => ((t - t0) / span) * W;
  const y = (v) => bottom - (v / ymax) * (bottom - top);
  const svg = document.createElementNS(SVGNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text != null) n.textContent = text;
    svg.append(n);
    return n;
  };
  add("line", { class: "grid", x1: 0, x2: W, y1: top, y2: top });
  add("line", { class: "grid", x1: 0, x2: W, y1: (top + bottom) / 2, y2: (top + bottom) / 2 });
  add("line", { class: "grid", x1: 0, x2: W, y1: bottom, y2: bottom });
  for (const l of lines) {
    let seg = [];
    const segs = [];
    for (const [t, v] of l.values) {
      if (t < t0) continue;
      if (v == null) { if (seg.length) segs.push(seg); seg = []; continue; }
      seg.push([x(t), y(v)]);
    }
    if (seg.length) segs.push(seg);
    for (const s of segs) {
      const pts = s.map(([a, b]) => a.toFixed(1) + "," + b.toFixed(1)).join(" ");
      if (l.area && s.length > 1) {
        add("polygon", { class: "area", points: `${s[0][0].toFixed(1)},${bottom} ${pts} ${s[s.length - 1][0].toFixed(1)},${bottom}` });
      }
      if (s.length === 1) add("circle", { class: "line " + l.cls, cx: s[0][0].toFixed(1), cy: s[0][1].toFixed(1), r: 1.2 });
      else add("polyline", { class: "line " + l.cls, points: pts });
    }
  }
  add("text", { x: 2, y: 9 }, fmt(ymax));
  svg.dataset.max = String(peak);
  return svg;
}

// ---- fleet ----
function allInstances() { return state.services.flatMap((s) => s.instances || []); }

function renderFleet() {
  const root = $("fleet");
  const seen = new Set();
  let rps = 0;
  for (const svc of state.services) {
    seen.add(svc.name);
    let art = root.querySelector(`article[data-service="${CSS.escape(svc.name)}"]`);
    if (!art) {
      art = $("tpl-service").content.firstElementChild.cloneNode(true);
      art.dataset.service = svc.name;
      art.querySelector(".name").textContent = svc.name;
      root.append(art);
    }
    const span = fmtSpan(state.window * state.interval);
    setText(art.querySelector(".h-rate"), `requests / s, last ${span}`);
    setText(art.querySelector(".h-lat"), `latency, last ${span}`);
    const insts = svc.instances || [];
    setText(art.querySelector(".versions"), "version " + (svc.versions || []).join(", "));
    setText(art.querySelector(".count"), insts.length + (insts.length === 1 ? " instance" : " instances"));
    renderInstances(art.querySelector(".instances"), insts);
    renderServiceEvents(art.querySelector(".svc-events"), svc);
    rps += renderEndpoints(art.querySelector("tbody"), svc);
  }
  for (const art of root.querySelectorAll("article[data-service]")) if (!seen.has(art.dataset.service)) art.remove();
  // Keep the services in name order.
  inOrder(root, [...root.querySelectorAll("article[data-service]")]
    .sort((a, b) => a.dataset.service.localeCompare(b.dataset.service)));
  $("empty").hidden = state.services.length > 0;
  const n = allInstances().length;
  renderWiring();
  setText($("summary"), `${state.services.length} service${state.services.length === 1 ? "" : "s"} · ${n} instance${n === 1 ? "" : "s"} · ${fmtRate(rps)} req/s`);
}

function renderInstances(box, insts) {
  const keep = new Set();
  for (const in_ of insts) {
    keep.add(in_.id);
    let card = box.querySelector(`[data-instance="${CSS.escape(in_.id)}"]`);
    if (!card) {
      card = el("div", { class: "instance", "data-instance": in_.id },
        el("div", { class: "id", title: in_.id, text: in_.id }),
        el("div", { class: "meta" }, el("span", { class: "pill version" }), el("span", { class: "pill status" })),
        el("div", { class: "load", title: "in flight / capacity" }, el("span")),
        el("div", { class: "nums" }, el("span", { class: "inflight", title: "handlers in flight / capacity" }),
          el("span", { class: "queued", title: "requests waiting for a slot" }), el("span", { class: "uptime" })));
      box.append(card);
    }
    setAttr(card, "data-status", in_.status);
    card.classList.toggle("draining", in_.status === "draining");
    setText(card.querySelector(".version"), "v" + in_.version);
    const st = card.querySelector(".status");
    setText(st, in_.status);
    setAttr(st, "class", "pill status " + in_.status);
    const frac = in_.capacity > 0 ? in_.in_flight / in_.capacity : 0;
    const load = card.querySelector(".load");
    load.querySelector("span").style.width = Math.min(100, frac * 100).toFixed(1) + "%";
    load.classList.toggle("hot", frac >= 0.75 && frac < 1);
    load.classList.toggle("full", frac >= 1);
    setText(card.querySelector(".inflight"), `load ${in_.in_flight}/${in_.capacity}`);
    setText(card.querySelector(".queued"), `${in_.queued || 0} queued`);
    setText(card.querySelector(".uptime"), "up " + fmtUptime(in_.uptime_s + (Date.now() - state.now) / 1000));
  }
  for (const c of box.querySelectorAll("[data-instance]")) if (!keep.has(c.dataset.instance)) c.remove();
}

function endpointNames(svc) {
  const names = [];
  for (const in_ of svc.instances || []) for (const ep of in_.endpoints || []) if (!names.includes(ep.name)) names.push(ep.name);
  for (const s of state.series.values()) if (s.service === svc.name && !names.includes(s.endpoint)) names.push(s.endpoint);
  return names;
}

// renderEndpoints fills one service's table, a row per endpoint kept from tick
// to tick; it returns the service's req/s.
function renderEndpoints(tbody, svc) {
  let total = 0;
  const rows = endpointNames(svc).map((name) => {
    const key = svc.name + "." + name;
    const s = state.series.get(key) || { samples: [], subject: "" };
    const last = s.samples[s.samples.length - 1] || {};
    total += last.rps || 0;
    let subject = s.subject;
    if (!subject) for (const in_ of svc.instances || []) for (const ep of in_.endpoints || []) if (ep.name === name) subject = ep.subject;
    return { key, name, s, last, subject };
  });
  syncList(tbody, rows, (r) => r.key, (r) => el("tr", { "data-endpoint": r.key },
    el("td", {}, el("div", { text: r.name }), el("div", { class: "subject" }), el("div", { class: "lasterr", hidden: true })),
    el("td", { class: "num v-rps" }), el("td", { class: "num v-errs" }), el("td", { class: "num v-lat" }),
    el("td", { class: "chart-cell rate-chart" }), el("td", { class: "chart-cell lat-chart" })), updateEndpoint);
  return total;
}

function updateEndpoint(tr, { s, last, subject }) {
  setAttr(tr, "data-rps", String(last.rps || 0));
  setAttr(tr, "data-total", String(last.total || 0));
  setText(tr.querySelector(".subject"), subject);
  const le = tr.querySelector(".lasterr");
  le.hidden = !s.last_error;
  setText(le, s.last_error ? "last error: " + s.last_error : "");
  setAttr(le, "title", s.last_error || "");
  const hasPct = s.samples.some((p) => p.p50_ms != null);
  const errPct = last.rps > 0 ? (100 * (last.eps || 0)) / last.rps : 0;
  setText(tr.querySelector(".v-rps"), fmtRate(last.rps));
  const errs = tr.querySelector(".v-errs");
  setAttr(errs, "title", `${(last.errors || 0).toLocaleString("en-US")} errors of ${(last.total || 0).toLocaleString("en-US")} requests`);
  setText(errs, `${fmtRate(last.eps)}/s` + (errPct > 0 ? ` (${errPct.toFixed(errPct < 10 ? 1 : 0)}%)` : ""));
  const lat = tr.querySelector(".v-lat");
  setAttr(lat, "title", hasPct ? "p50 / p99 over the instances' recent window" : "average over the last interval");
  setText(lat, hasPct ? `p50 ${fmtMS(last.p50_ms)} · p99 ${fmtMS(last.p99_ms)}` : `avg ${fmtMS(last.avg_ms)}`);
  // The charts move with every tick: they are drawn again.
  tr.querySelector(".rate-chart").replaceChildren(chart([
    { cls: "rate", area: true, values: s.samples.map((p) => [p.t, p.rps]) },
    { cls: "errs", values: s.samples.map((p) => [p.t, p.eps]) },
  ], fmtRate));
  tr.querySelector(".lat-chart").replaceChildren(chart(hasPct ? [
    { cls: "avg", values: s.samples.map((p) => [p.t, p.p50_ms]) },
    { cls: "p99", values: s.samples.map((p) => [p.t, p.p99_ms]) },
  ] : [{ cls: "avg", values: s.samples.map((p) => [p.t, p.avg_ms]) }], fmtMS));
}

// ---- typed events: who publishes and who listens ----
// serviceEvents is a service's events across its instances, each once,
// published ones first, then by name.
function serviceEvents(svc) {
  const seen = new Map();
  for (const in_ of svc.instances || []) for (const ev of in_.events || []) {
    const key = [ev.role, ev.name, ev.subject, ev.queue_group || ""].join("\n");
    if (!seen.has(key)) seen.set(key, ev);
  }
  return [...seen.values()].sort((a, b) => (a.role === b.role ? a.name.localeCompare(b.name) : a.role === "publish" ? -1 : 1));
}
function delivery(ev) { return ev.queue_group ? "queue group " + ev.queue_group : "broadcast: every instance"; }

function renderServiceEvents(ul, svc) {
  const evs = serviceEvents(svc);
  ul.hidden = evs.length === 0;
  // What an item shows is all in its key.
  syncList(ul, evs, (ev) => [ev.role, ev.name, ev.subject, ev.queue_group || ""].join("\n"), (ev) =>
    el("li", { "data-event-role": ev.role, "data-event-name": ev.name, title: ev.role === "publish" ? "published on " + ev.subject : "consumed from " + ev.subject + ", " + delivery(ev) },
      el("span", { class: "pill " + ev.role, text: ev.role === "publish" ? "publishes" : "consumes" }),
      el("b", { text: ev.name }), el("span", { class: "subject", text: ev.subject }),
      ev.role === "consume" ? el("span", { class: "delivery", text: ev.queue_group ? "queue " + ev.queue_group : "broadcast" }) : null));
}

// subjectMatches reports whether a NATS subject matches a subscription's
// pattern: "*" is one token, a last ">" is one or more.
function subjectMatches(pattern, subject) {
  const p = pattern.split("."), s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return i === p.length - 1 && s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

// renderWiring lists every event subject with the services that publish it and
// the services whose subscriptions (wildcards included) receive it.
function renderWiring() {
  const pubs = new Map(), subs = [];
  for (const svc of state.services) for (const ev of serviceEvents(svc)) {
    if (ev.role === "publish") {
      if (!pubs.has(ev.subject)) pubs.set(ev.subject, new Set());
      pubs.get(ev.subject).add(svc.name);
    } else subs.push({ service: svc.name, ev });
  }
  const subjects = new Set(pubs.keys());
  for (const s of subs) if (![...pubs.keys()].some((p) => subjectMatches(s.ev.subject, p))) subjects.add(s.ev.subject);
  const ul = $("wiring");
  const rows = [...subjects].sort().map((subject) => {
    const from = [...(pubs.get(subject) || [])].sort();
    const to = subs.filter((s) => s.ev.subject === subject || (pubs.has(subject) && subjectMatches(s.ev.subject, subject)))
      .sort((a, b) => a.service.localeCompare(b.service))
      .map((s) => `${s.service} (${s.ev.queue_group ? "queue " + s.ev.queue_group : "broadcast"}${s.ev.subject !== subject ? ", via " + s.ev.subject : ""})`);
    return { key: "subject:" + subject, subject, from, to };
  });
  if (!rows.length) rows.push({ key: "none" });
  syncList(ul, rows, (r) => r.key, (r) => r.subject === undefined
    ? el("li", { class: "none", text: "No service publishes or consumes typed events." })
    : el("li", { "data-subject": r.subject }, el("span", { class: "subject", text: r.subject }),
      el("div", { class: "flow" }, el("span", { text: "from" }), el("span", { class: "from" }), el("span", { text: "to" }), el("span", { class: "to" }))),
  (li, r) => {
    if (r.subject === undefined) return;
    const from = li.querySelector(".from"), to = li.querySelector(".to");
    setAttr(from, "class", r.from.length ? "from" : "from nobody");
    setText(from, r.from.length ? r.from.join(", ") : "no publisher running");
    setAttr(to, "class", r.to.length ? "to" : "to nobody");
    setText(to, r.to.length ? r.to.join(", ") : "nobody listens");
  });
}

// ---- events ----
// renderEvents draws the whole log, newest first; addEvent adds one entry.
function renderEvents() {
  const ol = $("events");
  if (!state.events.length) {
    ol.replaceChildren(el("li", { class: "none", text: "Instances joining, draining, leaving and expiring show up here as it happens." }));
    return;
  }
  ol.replaceChildren(...state.events.slice().reverse().map(eventItem));
}
function addEvent(ev) {
  const ol = $("events");
  state.events.push(ev);
  ol.querySelector(":scope > li.none")?.remove();
  ol.prepend(eventItem(ev));
  const over = state.events.length - 200;
  if (over > 0) {
    state.events.splice(0, over);
    for (let i = 0; i < over; i++) ol.lastElementChild?.remove();
  }
}
function eventItem(ev) {
  return el("li", { "data-event": ev.type, "data-instance": ev.instance.id },
    el("time", { text: fmtTime(Date.parse(ev.time)) }),
    el("span", {}, el("span", { class: "pill " + ev.type, text: ev.type })),
    el("span", { class: "who", title: ev.instance.id },
      el("b", { text: ev.instance.service }), " ", el("span", { class: "mono", text: shortID(ev.instance.id) }), " v" + ev.instance.version));
}

// ---- stream ----
function applySeries(list) {
  for (const s of list) state.series.set(s.key, s);
}
function connect() {
  const es = new EventSource("api/stream");
  const setLive = (on) => {
    state.live = on;
    const l = $("live");
    setText(l, on ? (state.connected ? "live" : "bus lost, retrying") : "offline");
    setAttr(l, "class", "live " + (on && state.connected ? "on" : "off"));
  };
  es.addEventListener("snapshot", (m) => {
    const d = JSON.parse(m.data);
    state.server = d.server; state.connected = d.connected; state.now = d.now;
    state.interval = d.interval_ms; state.window = d.window; state.patterns = d.patterns;
    state.services = d.services; state.events = d.events;
    state.series = new Map();
    applySeries(d.series);
    $("bus").textContent = d.server;
    setLive(true);
    renderAll();
  });
  es.addEventListener("tick", (m) => {
    const d = JSON.parse(m.data);
    state.now = d.now; state.connected = d.connected; state.services = d.services;
    for (const meta of d.endpoints) {
      let s = state.series.get(meta.key);
      if (!s) { s = { key: meta.key, service: meta.service, endpoint: meta.endpoint, samples: [] }; state.series.set(meta.key, s); }
      s.subject = meta.subject; s.last_error = meta.last_error;
      const smp = d.samples[meta.key];
      if (smp) { s.samples.push(smp); if (s.samples.length > state.window) s.samples.splice(0, s.samples.length - state.window); }
    }
    for (const k of [...state.series.keys()]) if (!d.endpoints.some((e) => e.key === k)) state.series.delete(k);
    setLive(true);
    renderFleet();
    syncExplorerChoices();
  });
  es.addEventListener("fleet", (m) => {
    const d = JSON.parse(m.data);
    state.services = d.services;
    addEvent(d.event);
    renderFleet();
    syncExplorerChoices();
  });
  es.onerror = () => setLive(false);
}
function renderAll() { renderFleet(); renderEvents(); syncExplorerChoices(); }

// ---- explorer ----
const ex = { info: new Map(), service: "", endpoint: "", getValue: null };

function setOptions(select, values, labels, keep) {
  const cur = keep ?? select.value;
  const same = select.options.length === values.length && values.every((v, i) => select.options[i].value === v);
  if (same) return;
  select.replaceChildren(...values.map((v, i) => el("option", { value: v, text: labels ? labels[i] : v })));
  if (values.includes(cur)) select.value = cur;
}

function syncExplorerChoices() {
  const names = state.services.map((s) => s.name);
  const svcSel = $("ex-service");
  setOptions(svcSel, names);
  if (!names.length) { svcSel.append(el("option", { value: "", text: "no services" })); }
  if (svcSel.value !== ex.service) selectService(svcSel.value);
  const svc = state.services.find((s) => s.name === ex.service);
  const ids = (svc ? svc.instances : []).map((i) => i.id);
  setOptions($("ex-instance"), ["", ...ids], ["any (by pattern)", ...ids.map((i) => i)]);
  if ($("ex-pattern").options.length !== state.patterns.length) setOptions($("ex-pattern"), state.patterns);
}

async function selectService(name) {
  ex.service = name;
  ex.endpoint = "";
  $("ex-endpoint").replaceChildren();
  $("ex-form").replaceChildren();
  if (!name) return;
  let info = ex.info.get(name);
  if (!info) {
    const r = await fetch("api/info/" + encodeURIComponent(name));
    info = await r.json();
    if (!r.ok) { showResult(false, info.error || "info failed"); return; }
    ex.info.set(name, info);
  }
  if (ex.service !== name) return;
  const eps = info.endpoints.map((e) => e.name);
  setOptions($("ex-endpoint"), eps);
  selectEndpoint($("ex-endpoint").value);
}

function selectEndpoint(name) {
  ex.endpoint = name;
  const info = ex.info.get(ex.service);
  const ep = info && info.endpoints.find((e) => e.name === name);
  const form = $("ex-form");
  form.replaceChildren();
  ex.getValue = null;
  if (!ep) return;
  const schema = ep.request_schema;
  if (schema && typeof schema === "object") {
    const f = buildField(schema, schema, "", true, 0);
    form.append(f.el);
    ex.getValue = f.get;
  } else {
    form.append(el("p", { class: "none", text: "This endpoint publishes no request schema: write the request JSON below." }));
    $("ex-raw-box").open = true;
  }
  syncJSON();
}

function deref(root, s, depth) {
  let n = 0;
  while (s && s.$ref && n++ < 8) {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref);
    if (!m || !root[m[1]]) return {};
    s = root[m[1]][decodeURIComponent(m[2])];
  }
  return s || {};
}

function typeOf(s) {
  let t = s.type;
  if (Array.isArray(t)) t = t.find((x) => x !== "null") || t[0];
  if (!t && s.properties) t = "object";
  if (!t && s.enum) t = typeof s.enum[0];
  return t;
}

// buildField makes the input for one schema node: {el, get} where get returns
// the value, or undefined to leave the field out.
function buildField(root, s, name, required, depth) {
  s = deref(root, s, depth);
  const t = typeOf(s);
  const desc = (s.description || "").replace(/\.$/, "");
  const label = (txt) => el("span", { title: s.description || "" }, txt, required ? el("span", { class: "req", text: " *" }) : null);
  const wrap = (input, hint) => el("label", { class: "field", "data-field": name }, label(name || "(request)"), input, hint ? el("small", { text: hint }) : null);
  if (t === "object" && s.properties && depth < 4) {
    const req = new Set(s.required || []);
    const kids = Object.entries(s.properties).map(([k, sub]) => {
      const f = buildField(root, sub, name ? name + "." + k : k, req.has(k), depth + 1);
      f.key = k;
      return f;
    });
    const box = depth === 0 ? el("div", { class: "fields" }) : el("fieldset", { "data-field": name }, el("legend", { text: name }));
    if (!kids.length) box.append(el("p", { class: "none", text: "No fields: the request is {}." }));
    for (const k of kids) box.append(k.el);
    return {
      el: box,
      get() {
        const o = {};
        for (const k of kids) { const v = k.get(); if (v !== undefined) o[k.key] = v; }
        return Object.keys(o).length || required || depth === 0 ? o : undefined;
      },
    };
  }
  if (s.enum) {
    const sel = el("select", { name }, el("option", { value: "", text: required ? "choose…" : "(none)" }),
      ...s.enum.map((v, i) => el("option", { value: String(i), text: JSON.stringify(v) })));
    return { el: wrap(sel, desc), get: () => (sel.value === "" ? undefined : s.enum[Number(sel.value)]) };
  }
  if (t === "boolean") {
    const cb = el("input", { type: "checkbox", name });
    return { el: wrap(cb, desc), get: () => (cb.checked ? true : required ? false : undefined) };
  }
  if (t === "integer" || t === "number") {
    const inp = el("input", { type: "number", name, step: t === "integer" ? "1" : "any", min: s.minimum, max: s.maximum });
    const hint = [desc, s.minimum != null || s.maximum != null ? `${s.minimum ?? "…"} to ${s.maximum ?? "…"}` : null].filter(Boolean).join("; ");
    return { el: wrap(inp, hint), get: () => (inp.value === "" ? undefined : Number(inp.value)) };
  }
  if (t === "string") {
    const ph = s.format === "date-time" ? "2006-01-02T15:04:05Z" : s.format || "";
    const inp = el("input", { type: "text", name, placeholder: ph, maxlength: s.maxLength });
    const lim = s.minLength != null && s.maxLength != null ? `${s.minLength} to ${s.maxLength} characters`
      : s.maxLength != null ? `at most ${s.maxLength} characters` : s.minLength != null ? `at least ${s.minLength} characters` : null;
    const hint = [desc, lim, s.format].filter(Boolean).join("; ");
    // An empty box means "not given"; send "" through the JSON below if you mean it.
    return { el: wrap(inp, hint), get: () => (inp.value === "" ? undefined : inp.value) };
  }
  // Arrays, maps, deeper objects and anything else: JSON.
  const ta = el("textarea", { name, rows: 2, spellcheck: "false", placeholder: t === "array" ? "[ ]" : t === "object" ? "{ }" : "JSON" });
  return {
    el: wrap(ta, (desc ? desc + "; " : "") + "JSON"),
    get() {
      if (ta.value.trim() === "") return undefined;
      try { ta.parentElement.classList.remove("invalid"); return JSON.parse(ta.value); } catch { ta.parentElement.classList.add("invalid"); return undefined; }
    },
  };
}

function syncJSON() {
  if (!ex.getValue) return;
  const v = ex.getValue();
  $("ex-json").value = JSON.stringify(v === undefined ? {} : v, null, 2);
}

function showResult(ok, text, statusText) {
  const pre = $("ex-result");
  pre.hidden = false;
  pre.textContent = text;
  pre.className = "result" + (ok ? "" : " bad");
  const st = $("ex-status");
  st.textContent = statusText || "";
  st.className = "status " + (ok ? "ok" : "bad");
}

async function send() {
  const btn = $("ex-send");
  for (const f of document.querySelectorAll("#ex-form .invalid")) f.classList.remove("invalid");
  let request;
  try { request = JSON.parse($("ex-json").value || "{}"); } catch (e) { showResult(false, "The request is not JSON: " + e.message, "not sent"); return; }
  btn.disabled = true;
  $("ex-status").textContent = "calling…";
  $("ex-status").className = "status";
  try {
    const r = await fetch("api/call", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ service: ex.service, endpoint: ex.endpoint, pattern: $("ex-pattern").value,
        instance: $("ex-instance").value, timeout_ms: Number($("ex-timeout").value) || 5000, request }),
    });
    const res = await r.json();
    if (res.ok) {
      const body = res.reply !== undefined ? JSON.stringify(res.reply, null, 2) : res.reply_text || "(empty reply)";
      showResult(true, body, `✓ reply in ${fmtMS(res.duration_ms)}`);
    } else if (res.error) {
      const e = res.error;
      showResult(false, `${e.name} (${e.code})\n${e.message}` + (e.details ? "\n\ndetails: " + JSON.stringify(e.details, null, 2) : ""), `✗ ${e.name} (${e.code})`);
    } else {
      for (const f of res.invalid || []) {
        const node = document.querySelector(`#ex-form [data-field="${CSS.escape(f.field)}"]`);
        if (node) node.classList.add("invalid");
      }
      showResult(false, res.message, "✗ not sent");
    }
  } catch (e) {
    showResult(false, "The dashboard did not answer: " + e.message, "✗ failed");
  } finally {
    btn.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ex-service").addEventListener("change", (e) => selectService(e.target.value));
  $("ex-endpoint").addEventListener("change", (e) => selectEndpoint(e.target.value));
  $("ex-form").addEventListener("input", syncJSON);
  $("ex-form").addEventListener("change", syncJSON);
  $("ex-form").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("ex-send").addEventListener("click", send);
  setOptions($("ex-pattern"), state.patterns);
  renderEvents();
  connect();
});
