// envctl ui: the page. Everything it shows comes from /api/ and is untrusted (service names,
// logs, images): it is only ever put into the page as text (textContent, text nodes,
// attribute values), never parsed as HTML.
"use strict";

// ---- the token: given once in the URL fragment (never sent to servers or in Referer) ----
const TOKEN_KEY = "envctl-token";
(function takeToken() {
  const m = location.hash.match(/token=([A-Za-z0-9_-]+)/);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, m[1]);
    history.replaceState(null, "", location.pathname + "#/");
  }
})();
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

// ---- small helpers ----
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}
// `children`: a node, a string, or (nested) arrays of them.
function append(node, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}
const main = () => document.getElementById("main");
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  opts.headers["X-Envctl-Token"] = token();
  if (opts.body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.body);
  }
  const res = await fetch(path, opts);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || ("HTTP " + res.status));
  return data;
}

// Server-sent events; EventSource cannot send headers, so the token rides in the query.
let streams = [];
function stream(path, handlers) {
  const sep = path.includes("?") ? "&" : "?";
  const source = new EventSource(path + sep + "token=" + encodeURIComponent(token()));
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  const live = document.getElementById("live");
  source.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live"; };
  streams.push(source);
  return source;
}
function closeStreams() { streams.forEach((s) => s.close()); streams = []; }

function copyButton(text) {
  return el("button", { class: "copy", type: "button", title: "copy",
    onclick: () => navigator.clipboard && navigator.clipboard.writeText(text) }, "copy");
}
function address(text) { return el("span", {}, el("code", { class: "addr" }, text), copyButton(text)); }
function badge(state) { return el("span", { class: "badge state-" + state }, state); }

// An in-page confirmation (testable, and it names exactly what will happen).
function confirmAction(text, extra) {
  return new Promise((resolve) => {
    const modal = document.getElementById("modal");
    document.getElementById("modal-text").textContent = text;
    append(clear(document.getElementById("modal-extra")), [extra || null]);
    modal.hidden = false;
    const done = (answer) => { modal.hidden = true; resolve(answer); };
    document.getElementById("confirm-yes").onclick = () => done(true);
    document.getElementById("confirm-no").onclick = () => done(false);
  });
}

// Runs an action and shows its progress live in `box`.
async function runAction(path, body, box) {
  clear(box);
  const log = el("div", { class: "progress", id: "progress" });
  const result = el("div", { id: "action-result" }, "starting…");
  append(box, [log, result]);
  let started;
  try {
    started = await api(path, { method: "POST", body: body || {} });
  } catch (e) {
    result.textContent = "";
    append(result, el("span", { class: "error" }, e.message));
    return;
  }
  const source = stream(started.events, {
    progress: (ev) => {
      const copied = ev.phase === "copying"
        ? ev.image + " to the engine: " + (ev.sent / 1e6).toFixed(1) + "/" + (ev.total / 1e6).toFixed(1) + " MB"
        : "";
      const detail = ev.reason || ev.progress || ev.line || copied || (ev.changed ? "changed: " + ev.changed.join(", ") : "");
      append(log, [el("div", {}, ev.service + " " + ev.phase + (detail ? " " + detail : ""))]);
      log.scrollTop = log.scrollHeight;
    },
    done: (outcome) => {
      source.close();
      result.textContent = "";
      append(result, el("span", { class: outcome.ok ? "" : "error", "data-ok": String(outcome.ok) },
        (outcome.ok ? "done: " : "failed: ") + outcome.message));
    },
  });
}

// ---- the list of instances ----
function showList() {
  const m = clear(main());
  const tableBox = el("section", {}, el("p", { class: "muted" }, "loading…"));
  const envBox = el("section", {});
  const actionBox = el("div", {});
  append(m, [el("h1", {}, "Instances"), tableBox, el("h2", {}, "Environments here"), envBox, actionBox]);
  stream("/api/instances/events", {
    instances: (rows) => drawInstances(tableBox, rows),
    problem: (p) => append(clear(tableBox), el("p", { class: "error" }, p.error)),
  });
  api("/api/environments").then((envs) => drawEnvironments(envBox, envs, actionBox))
    .catch((e) => append(envBox, el("p", { class: "error" }, e.message)));
}

function drawInstances(box, rows) {
  clear(box);
  if (rows.length === 0) { append(box, el("p", { class: "muted" }, "No instances on this engine.")); return; }
  const head = el("tr", {}, ["instance", "env", "feature", "base", "owner", "age", "expires", "ready"].map((h) => el("th", {}, h)));
  const body = rows.map((r) => el("tr", { "data-instance": r.instance },
    el("td", {}, el("a", { href: "#/i/" + encodeURIComponent(r.instance) }, r.instance)),
    el("td", {}, r.env), el("td", {}, r.feature || "-"), el("td", {}, r.base || "-"),
    el("td", {}, r.owner || "-"), el("td", {}, r.age),
    el("td", { title: r.expires_at || "" }, r.expires),
    el("td", { class: "ready" }, r.ready + "/" + r.total)));
  append(box, el("table", { id: "instances" }, el("thead", {}, head), el("tbody", {}, body)));
}

function drawEnvironments(box, envs, actionBox) {
  clear(box);
  if (envs.length === 0) { append(box, el("p", { class: "muted" }, "No ./environments/*.yaml where envctl ui runs.")); return; }
  for (const env of envs) {
    const feature = el("input", { placeholder: "feature (optional)", "data-feature-for": env });
    append(box, el("div", { class: "actions", "data-env": env }, el("strong", {}, env), feature,
      el("button", { type: "button", id: "up-" + env, onclick: async () => {
        const id = feature.value ? env + "--" + feature.value : env;
        if (await confirmAction("Bring up " + id + "? (envctl up)")) {
          runAction("/api/instances/" + encodeURIComponent(id) + "/up", {}, actionBox);
        }
      } }, "up…")));
  }
}

// ---- one instance ----
function showInstance(id) {
  const m = clear(main());
  const summary = el("section", {}, el("p", { class: "muted" }, "loading…"));
  const actionBox = el("div", {});
  const graph = el("section", {});
  const services = el("section", {});
  const logs = el("section", { id: "logs-section" }, el("p", { class: "muted" }, "Click a service to follow its logs."));
  const endpoints = el("section", {});
  const plan = el("section", {});
  const path = "/api/instances/" + encodeURIComponent(id);
  const ttl = el("input", { id: "ttl", value: "8h", title: "new lifetime from now" });
  const buttons = el("div", { class: "actions" },
    el("button", { type: "button", id: "btn-up", onclick: async () => {
      if (await confirmAction("Run up for " + id + "? Changed services are recreated.")) runAction(path + "/up", {}, actionBox);
    } }, "up…"),
    el("button", { type: "button", id: "btn-down", class: "danger", onclick: async () => {
      if (await confirmAction("Remove " + id + "? Its containers and network are removed (named volumes are kept).")) runAction(path + "/down", {}, actionBox);
    } }, "down…"),
    el("span", {}, "lifetime "), ttl,
    el("button", { type: "button", id: "btn-extend", onclick: async () => {
      if (await confirmAction("Set the lifetime of " + id + " to " + ttl.value + " from now?")) runAction(path + "/extend", { ttl: ttl.value }, actionBox);
    } }, "extend…"));
  append(m, [el("h1", {}, id), buttons, actionBox, summary, el("h2", {}, "Services"), graph, services,
    el("h2", {}, "Logs"), logs, el("h2", {}, "Dubbo providers"), endpoints, el("h2", {}, "Plan"), plan]);
  const openLogs = (service) => followLogs(logs, id, service);
  stream(path + "/events", {
    instance: (view) => {
      drawSummary(summary, view);
      drawGraph(graph, view.services, openLogs);
      drawServices(services, view.services, id, openLogs, actionBox);
    },
    problem: (p) => { clear(summary); append(summary, el("p", { class: "error", id: "instance-problem" }, p.error)); clear(graph); clear(services); },
  });
  drawEndpoints(endpoints, path);
  drawPlan(plan, path);
}

function drawSummary(box, v) {
  clear(box);
  const ready = v.services.filter((s) => s.ready).length;
  append(box, el("table", {}, el("tbody", {},
    el("tr", {}, el("th", {}, "env"), el("td", {}, v.env), el("th", {}, "feature"), el("td", {}, v.feature || "-")),
    el("tr", {}, el("th", {}, "ready"), el("td", { id: "ready-count" }, ready + "/" + v.services.length),
      el("th", {}, "expires"), el("td", { title: v.expires_at || "" }, v.expires)),
    el("tr", {}, el("th", {}, "definition"), el("td", {}, v.definition ? "loaded from ./environments" : "not found here (no dependencies, plan or up)"),
      el("th", {}, "converged"), el("td", {}, v.converged === null ? "unknown" : (v.converged ? "yes" : "no: see Plan"))))));
}

// Services in columns by dependency depth: what a service waits on is to its left.
function drawGraph(box, services, openLogs) {
  clear(box);
  const byName = new Map(services.map((s) => [s.service, s]));
  const depth = new Map();
  const depthOf = (name, seen) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name) || !byName.has(name)) return 0;
    seen.add(name);
    const d = Math.max(-1, ...byName.get(name).depends_on.map((dep) => depthOf(dep, seen))) + 1;
    depth.set(name, d);
    return d;
  };
  services.forEach((s) => depthOf(s.service, new Set()));
  const columns = [];
  services.forEach((s) => { const d = depth.get(s.service); (columns[d] = columns[d] || []).push(s); });
  const W = 180, H = 44, GX = 60, GY = 16, PAD = 12;
  const pos = new Map();
  columns.forEach((col, x) => (col || []).forEach((s, y) => pos.set(s.service, { x: PAD + x * (W + GX), y: PAD + y * (H + GY) })));
  const rows = Math.max(1, ...columns.map((c) => (c || []).length));
  const width = PAD * 2 + columns.length * (W + GX) - GX, height = PAD * 2 + rows * (H + GY) - GY;
  const root = svg("svg", { class: "graph", id: "graph", width, height, viewBox: `0 0 ${width} ${height}` });
  for (const s of services) {
    for (const dep of s.depends_on) {
      const a = pos.get(dep), b = pos.get(s.service);
      if (a && b) root.appendChild(svg("line", { x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2 }));
    }
  }
  for (const s of services) {
    const p = pos.get(s.service);
    const g = svg("g", { class: "node state-" + s.state, "data-service": s.service, "data-state": s.state, transform: `translate(${p.x},${p.y})` });
    g.appendChild(svg("rect", { width: W, height: H, rx: 6, class: "state-" + s.state }));
    const name = svg("text", { x: 10, y: 18 }); name.textContent = s.service;
    const state = svg("text", { x: 10, y: 35 }); state.textContent = s.state + " · " + s.detail;
    const title = svg("title", {}); title.textContent = s.service + ": " + s.image;
    g.append(title, name, state);
    g.addEventListener("click", () => openLogs(s.service));
    root.appendChild(g);
  }
  append(box, [root, el("div", { class: "legend muted" }, ["waiting", "starting", "ready", "failed", "exited"].map(badge))]);
}

function drawServices(box, services, id, openLogs, actionBox) {
  clear(box);
  const head = el("tr", {}, ["service", "state", "ports", "image", "pending", ""].map((h) => el("th", {}, h)));
  const body = services.map((s) => el("tr", { "data-service": s.service },
    el("td", {}, s.service), el("td", {}, badge(s.state), " ", el("span", { class: "muted" }, s.detail)),
    el("td", {}, s.ports.map((p) => el("div", {}, p.container_port + "/" + p.protocol + " → ", address(p.address),
      p.url ? [" ", el("a", { href: p.url, target: "_blank", rel: "noopener noreferrer" }, "open")] : null))),
    el("td", { class: "muted" }, s.image), el("td", {}, s.pending || ""),
    el("td", {}, el("button", { type: "button", class: "logs-btn", "data-logs": s.service, onclick: () => openLogs(s.service) }, "logs"),
      " ", el("button", { type: "button", "data-restart": s.service, onclick: async () => {
        if (await confirmAction("Restart " + s.service + " of " + id + "?")) {
          runAction("/api/instances/" + encodeURIComponent(id) + "/services/" + encodeURIComponent(s.service) + "/restart", {}, actionBox);
        }
      } }, "restart…"))));
  append(box, el("table", {}, el("thead", {}, head), el("tbody", {}, body)));
}

let logSource = null;
function followLogs(box, id, service) {
  if (logSource) logSource.close();
  clear(box);
  const pre = el("pre", { class: "logs", id: "logs", "data-service": service });
  append(box, [el("p", {}, "Following ", el("strong", {}, service), " (last 200 lines, then live)"), pre]);
  logSource = stream("/api/instances/" + encodeURIComponent(id) + "/services/" + encodeURIComponent(service) + "/logs?tail=200", {
    line: (text) => {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(text + "\n"));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    },
    problem: (p) => append(pre, el("span", { class: "error" }, p.error + "\n")),
  });
}

async function drawEndpoints(box, path) {
  clear(box);
  append(box, el("button", { type: "button", onclick: () => drawEndpoints(box, path) }, "refresh"));
  try {
    const e = await api(path + "/endpoints");
    const byInterface = new Map();
    const nameOf = (p) => p.interface || (p.application ? "application " + p.application + " (no interface mapping)" : "(unnamed)");
    e.providers.forEach((p) => (byInterface.get(nameOf(p)) || byInterface.set(nameOf(p), []).get(nameOf(p))).push(p));
    if (byInterface.size === 0) append(box, el("p", { class: "muted" }, "No Dubbo providers registered."));
    for (const [iface, providers] of byInterface) {
      append(box, el("div", { class: "interface" }, el("strong", {}, iface),
        providers.map((p) => el("div", {}, p.outside ? address(p.outside) : el("span", { class: "muted" }, "unreachable from outside"),
          " ", el("span", { class: "muted" }, (p.service || "?") + " · " + p.protocol + (p.version ? " · " + p.version : ""))))));
    }
    e.warnings.forEach((w) => append(box, el("p", { class: "muted" }, w)));
  } catch (err) {
    append(box, el("p", { class: "error" }, err.message));
  }
}

async function drawPlan(box, path) {
  clear(box);
  append(box, el("button", { type: "button", onclick: () => drawPlan(box, path) }, "refresh"));
  try {
    const p = await api(path + "/plan");
    if (p.converged) append(box, el("p", { id: "plan-state" }, "Converged: up would change nothing."));
    else append(box, el("p", { id: "plan-state" }, p.actions.length + " change(s) pending:"),
      el("ul", {}, p.actions.map((a) => el("li", {}, a.action + " " + a.target + ": " + a.reason))));
  } catch (err) {
    append(box, el("p", { class: "error" }, err.message));
  }
}

// ---- routing: #/ is the list, #/i/<instance> one instance ----
function route() {
  closeStreams();
  if (logSource) { logSource.close(); logSource = null; }
  const m = location.hash.match(/^#\/i\/([^/]+)$/);
  if (m) showInstance(decodeURIComponent(m[1])); else showList();
}
window.addEventListener("hashchange", route);
route();
