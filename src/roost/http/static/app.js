// roost dashboard: polls this member's /ui/api endpoints and /metrics; no build step,
// no external libraries (charts are drawn as inline SVG).
"use strict";

// ---- state ------------------------------------------------------------------------------
let current = "/";          // the znode shown (from the URL's #fragment)
let currentNode = null;     // its last /ui/api/node answer
let editedFrom = null;      // the text the editor was filled with (null: not filled yet)
let editBase = -1;          // the version it was filled from: a set is checked against it
let lastEvent = 0;
let cluster = null;         // the last /ui/api/cluster answer
const expanded = new Set(["/"]);
const kids = new Map();     // path -> sorted child names, for the tree
const info = new Map();     // path -> [kind, child count], as its parent's answer said
const points = [];          // metric snapshots for the charts
const WINDOW_S = 120;       // seconds of history the charts show
const TREE_LIMIT = 200;     // children listed per tree node
const COLORS = ["#2a7ab0", "#d0602a", "#3a9a4a", "#9a4ab0", "#b09a2a", "#2ab0a0"];

function $(id) { return document.getElementById(id); }

function headers() {
  const t = $("token").value;
  return t ? { "X-Consul-Token": t } : {};
}

async function api(method, url, body) {
  const opts = { method: method, headers: headers() };
  if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers["Content-Type"] = "application/json";
  }
  const resp = await fetch(url, opts);
  const text = await resp.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = text; }
  return { ok: resp.ok, status: resp.status, data: data };
}

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

function cell(row, text) {
  const td = el("td");
  if (text instanceof Node) td.append(text);
  else td.textContent = text === null || text === undefined ? "—" : String(text);
  row.appendChild(td);
}

function fill(tbody, rows, cols) {
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = el("tr");
    for (const c of cols) cell(tr, typeof c === "function" ? c(r) : r[c]);
    tbody.appendChild(tr);
  }
}

// ---- formatting -----------------------------------------------------------------------
function zxid(n) { return n === null || n === undefined ? "—" : "0x" + Number(n).toString(16); }

function pad(n) { return String(n).padStart(2, "0"); }

function ago(ms) {
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 0) return "in the future";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

function when(ms) {
  if (!ms) return "—";
  const d = new Date(ms);
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} (${ago(ms)})`;
}

function seconds(v) {
  if (v === null || v === undefined || !isFinite(v)) return "—";
  if (v < 0.001) return (v * 1e6).toFixed(0) + " µs";
  if (v < 1) return (v * 1000).toFixed(v < 0.01 ? 2 : 1) + " ms";
  return v.toFixed(2) + " s";
}

function number(v) {
  if (v === null || v === undefined || !isFinite(v)) return "—";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en");
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function hex(bytes) {
  return Array.from(bytes, b => b.toString(16).padStart(2, "0")).join(" ");
}

function bytesOf(b64) { return Uint8Array.from(atob(b64), ch => ch.charCodeAt(0)); }

// UTF-8 text, or null for bytes that are not
function textOf(bytes) {
  try { return new TextDecoder("utf-8", { fatal: true }).decode(bytes); }
  catch (e) { return null; }
}

// ---- routing: one URL per znode (/ui#/a/b), so back/forward and shared links work -----
function pathFromHash() {
  const h = location.hash.replace(/^#/, "");
  if (!h.startsWith("/")) return "/";
  try {
    const p = "/" + h.slice(1).split("/").filter(s => s !== "").map(decodeURIComponent).join("/");
    return p;
  } catch (e) { return "/"; }
}

function hashOf(path) {
  return "#/" + path.split("/").filter(s => s !== "").map(encodeURIComponent).join("/");
}

function go(path) {
  if (hashOf(path) === location.hash || (path === "/" && location.hash === "")) openPath(path);
  else location.hash = hashOf(path);
}

function parentOf(path) { return path.substring(0, path.lastIndexOf("/")) || "/"; }
function join(path, name) { return (path === "/" ? "" : path) + "/" + name; }

function ancestors(path) {
  const out = ["/"];
  let p = "";
  for (const seg of path.split("/").filter(s => s !== "")) { p += "/" + seg; out.push(p); }
  return out;
}

// ---- cluster ----------------------------------------------------------------------------
async function refreshCluster() {
  const r = await api("GET", "/ui/api/cluster");
  if (!r.ok) return;
  const c = cluster = r.data;
  const leader = c.members.find(m => m.id === c.leader &&
                                     (m.role === "leader" || m.role === "standalone"));
  $("leader").textContent = !leader ? "none" : leader.role === "standalone" ?
    `this server (standalone, ${leader.address})` : `member ${leader.id} (${leader.address})`;
  $("term").textContent = c.term;
  for (const id of ["set-btn", "delete-btn", "create-btn", "child-name"]) $(id).disabled = c.read_only;
  $("read-only").hidden = !c.read_only;
  $("commit").textContent = zxid(c.commit);
  $("applied").textContent = zxid(c.applied);
  $("source").textContent = c.replication_from ?
    `replicated-to and lag as member ${c.replication_from} (the leader) reports them` :
    (c.mode === "leader" || c.mode === "standalone" ? "" :
     "replicated-to and lag: only the leader knows, and it did not answer");
  $("summary").textContent =
    `member ${c.id}: ${c.mode} · ${number(c.znodes)} znodes · ${c.sessions} sessions · ` +
    `${c.connections} connections · zxid ${zxid(c.last_zxid)}`;
  const tbody = document.querySelector("#members tbody");
  const role = m => m.role + (m.self ? " (this page)" : "") +
    (m.active === false ? " (not responding)" : "");
  fill(tbody, c.members, ["id", role, "address", m => zxid(m.match), "lag"]);
  c.members.forEach((m, i) => {
    if (m.role === "leader" || m.role === "standalone") tbody.children[i].classList.add("leader");
  });
}

// ---- the tree ---------------------------------------------------------------------------
function learn(path, node) {
  kids.set(path, node.children);
  for (const [name, i] of Object.entries(node.child_info || {})) info.set(join(path, name), i);
}

async function loadChildren(path) {
  const r = await api("GET", "/ui/api/node?path=" + encodeURIComponent(path));
  if (r.ok) learn(path, r.data);
  else if (r.status === 404) kids.delete(path);
  return r;
}

function treeItem(path, name) {
  const li = el("li", { role: "treeitem" });
  const open = expanded.has(path);
  const known = kids.get(path);
  const [kind, count] = info.get(path) || [null, null];
  const leaf = known !== undefined ? known.length === 0 : count === 0;
  const toggle = el("span", { className: "toggle", textContent: leaf ? "·" : open ? "▾" : "▸" });
  if (!leaf) toggle.onclick = () => toggleNode(path);
  const label = el("a", { className: "name", href: hashOf(path), textContent: name });
  if (path === current) label.classList.add("selected");
  li.append(toggle, label);
  if (kind && kind !== "persistent") {
    li.append(el("span", { className: "kind " + kind, textContent: " " + kind }));
  }
  if (!open && count) li.append(el("span", { className: "count", textContent: ` ${count}` }));
  if (open && known !== undefined && known.length) {
    const ul = el("ul", { role: "group" });
    for (const child of known.slice(0, TREE_LIMIT)) ul.append(treeItem(join(path, child), child));
    if (known.length > TREE_LIMIT) {
      ul.append(el("li", { className: "more", textContent:
        `… ${known.length - TREE_LIMIT} more (open ${name} to list them all)` }));
    }
    li.append(ul);
  }
  return li;
}

function renderTree() {
  const root = el("ul", { role: "group" }, treeItem("/", "/"));
  $("tree").replaceChildren(root);
}

async function toggleNode(path) {
  if (expanded.has(path)) expanded.delete(path);
  else {
    expanded.add(path);
    if (!kids.has(path)) await loadChildren(path);
  }
  renderTree();
}

function renderCrumbs(path) {
  const nav = $("crumbs");
  nav.replaceChildren();
  const parts = ancestors(path);
  parts.forEach((p, i) => {
    const name = p === "/" ? "/" : p.substring(p.lastIndexOf("/") + 1);
    if (i > 0) nav.append(el("span", { className: "sep", textContent: " › " }));
    const a = el("a", { href: hashOf(p), textContent: name });
    if (i === parts.length - 1) a.setAttribute("aria-current", "page");
    nav.append(a);
  });
}

// ---- one znode --------------------------------------------------------------------------
function showData(b64) {
  const pre = $("znode-data");
  if (b64 === null) { pre.textContent = "(no READ permission)"; return; }
  const bytes = bytesOf(b64);
  const text = textOf(bytes);
  let mode = $("view").value;
  $("znode-note").textContent = text === null ? "binary data: shown in hex" : "";
  if (text === null) mode = "hex";
  if (mode === "hex") pre.textContent = hex(bytes);
  else if (mode === "json") {
    try { pre.textContent = JSON.stringify(JSON.parse(text), null, 2); }
    catch (e) { pre.textContent = "(not JSON) " + text; }
  } else pre.textContent = text;
  if (!bytes.length) pre.textContent = "(empty)";
}

function showStat(node) {
  const s = node.stat;
  const rows = [
    ["created", when(s.ctime)], ["modified", when(s.mtime)],
    ["czxid", zxid(s.czxid)], ["mzxid", zxid(s.mzxid)], ["pzxid", zxid(s.pzxid)],
    ["version", s.version], ["cversion", s.cversion], ["aversion", s.aversion],
    ["ephemeral owner", s.ephemeralOwner ? node.owner : "— (persistent)"],
    ["data length", `${s.dataLength} bytes`], ["children", s.numChildren],
  ];
  const table = $("znode-stat");
  table.replaceChildren();
  for (const [k, v] of rows) {
    const tr = el("tr");
    const th = el("th", { textContent: k });
    tr.append(th);
    cell(tr, v);
    table.append(tr);
  }
}

function fillEditor(node, force) {
  const ta = $("edit-data");
  const dirty = editedFrom !== null && ta.value !== editedFrom;
  if (dirty && !force) {
    if (currentNode && node.stat.version !== currentNode.stat.version) {
      $("edit-note").textContent =
        `changed on the server (now version ${node.stat.version}) while you edit`;
    }
    return;
  }
  const text = node.data === null ? null : textOf(bytesOf(node.data));
  ta.value = text === null ? "" : text;
  editedFrom = ta.value;
  editBase = node.stat.version;
  ta.disabled = node.data === null;
  $("edit-note").textContent = node.data === null ? "(no READ permission)" :
    text === null ? "(binary data: setting replaces it with the text typed here)" : "";
}

let openSeq = 0;  // the latest openPath call wins: an older answer arriving late is dropped

async function openPath(path) {
  const seq = ++openSeq;
  const r = await api("GET", "/ui/api/node?path=" + encodeURIComponent(path));
  if (seq !== openSeq) return;
  if (!r.ok) {
    $("op-result").textContent = `${path}: ${r.status} ${r.data && r.data.error || r.data}`;
    return;
  }
  const moved = path !== current || currentNode === null;
  current = path;
  learn(path, r.data);
  if (moved) expanded.add(path);  // opening a znode lists its children in the tree
  for (const a of ancestors(path).slice(0, -1)) {
    expanded.add(a);
    if (!kids.has(a)) await loadChildren(a);
    if (seq !== openSeq) return;
  }
  if (moved) { $("diff-panel").hidden = true; $("op-result").textContent = ""; }
  fillEditor(r.data, moved);
  currentNode = r.data;
  if (moved) $("path").value = path;  // a refresh must not undo what the user is typing
  $("znode-path").textContent = path;
  document.title = `roost ${path}`;
  renderCrumbs(path);
  showData(r.data.data);
  showStat(r.data);
  const acl = $("znode-acl");
  acl.replaceChildren(...r.data.acl.map(a => el("li", { textContent:
    `${a.scheme}:${a.id} ${a.perms}` })));
  renderTree();
}

// ---- a line diff (longest common subsequence), shown before a set --------------------
function diffLines(a, b) {
  const x = a.split("\n"), y = b.split("\n");
  if (x.length * y.length > 4e6) {  // too large to align: show as replaced
    return [...x.map(l => ["-", l]), ...y.map(l => ["+", l])];
  }
  const n = x.length, m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { out.push([" ", x[i]]); i++; j++; }
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) { out.push(["-", x[i]]); i++; }
    else { out.push(["+", y[j]]); j++; }
  }
  return out;
}

function showDiff() {
  if (!currentNode) return;
  const old = currentNode.data === null ? "" :
    (textOf(bytesOf(currentNode.data)) ?? `(${currentNode.stat.dataLength} bytes of binary data)`);
  const now = $("edit-data").value;
  const pre = $("diff");
  pre.replaceChildren();
  const lines = diffLines(old, now);
  if (old === now) pre.append(el("span", { className: "same", textContent: "(no change)\n" }));
  for (const [op, line] of lines) {
    const cls = op === "+" ? "add" : op === "-" ? "del" : "same";
    pre.append(el("span", { className: cls, textContent: `${op} ${line}\n` }));
  }
  $("diff-path").textContent = current;
  $("diff-version").textContent = editBase;
  $("diff-warning").textContent = currentNode.stat.version === editBase ? "" :
    `changed on the server since the editor was filled (now version ` +
    `${currentNode.stat.version}): this set will be refused; "reset" starts from the new value`;
  $("diff-panel").hidden = false;
  $("confirm-set").focus();
}

async function confirmSet() {
  $("diff-panel").hidden = true;
  const version = editBase;
  const body = { data: $("edit-data").value, version: version };
  const r = await api("PUT", "/ui/api/node?path=" + encodeURIComponent(current), body);
  if (r.ok) {
    $("op-result").textContent = `saved (was version ${version})`;
    editedFrom = null;
    await openPath(current);
    fillEditor(currentNode, true);
  } else if (r.data && r.data.error === "BAD_VERSION") {
    $("op-result").textContent =
      `not saved: ${current} changed since version ${version}; reloaded, your text is kept`;
    await openPath(current);
  } else {
    $("op-result").textContent = `failed: ${r.data && r.data.error || r.status}`;
  }
}

async function deleteNode() {
  if (!confirm(`Delete ${current}?`)) return;
  const v = currentNode ? currentNode.stat.version : -1;
  const r = await api("DELETE", `/ui/api/node?path=${encodeURIComponent(current)}&version=${v}`);
  $("op-result").textContent = r.ok ? `deleted ${current}` :
    `failed: ${r.data && r.data.error || r.status}`;
  if (r.ok) {
    const parent = parentOf(current);
    kids.delete(current);
    expanded.delete(current);
    await loadChildren(parent);
    go(parent);
  }
}

async function createChild() {
  const name = $("child-name").value.trim();
  if (!name) return;
  const path = join(current, name);
  if (!confirm(`Create ${path}?`)) return;
  const r = await api("POST", "/ui/api/node?path=" + encodeURIComponent(path), { data: "" });
  $("op-result").textContent = r.ok ? `created ${path}` :
    `failed: ${r.data && r.data.error || r.status}`;
  if (r.ok) { $("child-name").value = ""; expanded.add(current); await openPath(current); }
}

// ---- sessions, watches, events ---------------------------------------------------------
function watchesText(w) {
  if (w === null || w === undefined) return "other member";
  const parts = Object.entries(w).map(([kind, paths]) => `${kind}: ${paths.join(", ")}`);
  return parts.length ? parts.join("; ") : "none";
}

function pathLinks(paths) {
  const span = el("span");
  if (!paths.length) { span.textContent = "—"; return span; }
  paths.forEach((p, i) => {
    if (i) span.append(", ");
    span.append(el("a", { href: hashOf(p), textContent: p }));
  });
  return span;
}

async function refreshSessions() {
  const r = await api("GET", "/ui/api/sessions");
  if (r.ok) fill(document.querySelector("#sessions tbody"), r.data,
                 ["id", s => s.client || "other member", s => `${s.timeout_ms / 1000} s`,
                  s => pathLinks(s.ephemerals), s => watchesText(s.watches)]);
  const w = await api("GET", "/ui/api/watches");
  if (w.ok) fill(document.querySelector("#watches tbody"), w.data,
                 [x => pathLinks([x.path]), "watchers", x => x.sessions.join(", ")]);
}

async function refreshEvents() {
  const r = await api("GET", "/ui/api/events?after=" + lastEvent);
  if (!r.ok) return;
  const list = $("events");
  for (const e of r.data.events) {
    const t = new Date(e.time * 1000);
    const li = el("li", { textContent:
      `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())} ${e.kind} ${e.detail}` });
    list.insertBefore(li, list.firstChild);
    lastEvent = Math.max(lastEvent, e.seq);
  }
  while (list.children.length > 200) list.removeChild(list.lastChild);
}

// ---- metrics: Prometheus text from /metrics, charts drawn as SVG -------------------
function parseMetrics(text) {
  const out = [];
  const line = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split("\n")) {
    if (!raw || raw[0] === "#") continue;
    const m = line.exec(raw);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(label)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels: labels, value: parseFloat(m[3]) });
  }
  return out;
}

function snapshot(samples) {
  const snap = { t: Date.now() / 1000, ops: 0, read: new Map(), write: new Map(),
                 sessions: null, connections: null, lag: new Map() };
  for (const s of samples) {
    if (s.name === "roost_zk_requests_total" && s.labels.op !== "ping") snap.ops += s.value;
    else if (s.name === "roost_read_seconds_bucket" || s.name === "roost_write_seconds_bucket") {
      const m = s.name === "roost_read_seconds_bucket" ? snap.read : snap.write;
      const le = s.labels.le === "+Inf" ? Infinity : parseFloat(s.labels.le);
      m.set(le, (m.get(le) || 0) + s.value);
    } else if (s.name === "roost_sessions") snap.sessions = s.value;
    else if (s.name === "roost_connections") snap.connections = s.value;
    else if (s.name === "roost_raft_follower_lag") snap.lag.set(s.labels.follower, s.value);
  }
  return snap;
}

// the q-quantile of the observations between two cumulative bucket maps (as PromQL's
// histogram_quantile: linear within the bucket; the +Inf bucket gives its lower bound)
function quantile(q, before, after) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const cum = bounds.map(b => after.get(b) - (before.get(b) || 0));
  const total = cum[cum.length - 1];
  if (!total || total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cum[i] >= rank) {
      if (bounds[i] === Infinity) return i ? bounds[i - 1] : null;
      const lo = i ? bounds[i - 1] : 0, below = i ? cum[i - 1] : 0;
      const inBucket = cum[i] - below;
      return inBucket > 0 ? lo + (bounds[i] - lo) * (rank - below) / inBucket : bounds[i];
    }
  }
  return null;
}

async function refreshMetrics() {
  const resp = await fetch("/metrics", { headers: headers() });
  if (!resp.ok) return;
  const snap = snapshot(parseMetrics(await resp.text()));
  if (cluster && cluster.replication_from && !snap.lag.size) {
    // a follower's page: the lag figures its cluster view got from the leader
    for (const m of cluster.members) if (m.lag !== null && m.lag !== undefined) {
      snap.lag.set(String(m.id), m.lag);
    }
  }
  points.push(snap);
  while (points.length && points[0].t < snap.t - WINDOW_S - 10) points.shift();
  drawCharts();
}

function series(f) {
  const pts = [];
  for (let i = 1; i < points.length; i++) pts.push([points[i].t, f(points[i - 1], points[i], i)]);
  return pts;
}

function drawCharts() {
  const dt = (a, b) => Math.max(b.t - a.t, 0.001);
  const back = i => points[Math.max(0, i - 5)];  // latency over the last ~5 s
  drawChart($("chart-ops"), [
    { name: "requests/s", points: series((a, b) => Math.max(0, (b.ops - a.ops) / dt(a, b))) },
  ], number);
  drawChart($("chart-latency"), [
    { name: "read p50", points: series((a, b, i) => quantile(0.5, back(i).read, b.read)) },
    { name: "read p99", points: series((a, b, i) => quantile(0.99, back(i).read, b.read)) },
    { name: "write p50", points: series((a, b, i) => quantile(0.5, back(i).write, b.write)) },
    { name: "write p99", points: series((a, b, i) => quantile(0.99, back(i).write, b.write)) },
  ], seconds);
  drawChart($("chart-sessions"), [
    { name: "sessions", points: series((a, b) => b.sessions) },
    { name: "connections", points: series((a, b) => b.connections) },
  ], number);
  const followers = new Set();
  for (const h of points) for (const k of h.lag.keys()) followers.add(k);
  const standalone = cluster && cluster.mode === "standalone";
  drawChart($("chart-lag"), [...followers].sort().map(f => ({
    name: `member ${f}`, points: series((a, b) => b.lag.has(f) ? b.lag.get(f) : null),
  })), number, standalone ? "standalone: no followers" : "no follower figures yet");
}

function svg(tag, attrs, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawChart(node, lines, fmt, empty) {
  const W = 320, H = 140, L = 52, R = 6, T = 8, B = 40;
  node.setAttribute("viewBox", `0 0 ${W} ${H}`);
  node.replaceChildren();
  const now = Date.now() / 1000;
  const values = lines.flatMap(l => l.points.map(p => p[1])).filter(v => v !== null && isFinite(v));
  if (!values.length) {
    node.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" },
                    lines.length || !empty ? "no data yet" : empty));
    return;
  }
  const max = Math.max(...values) * 1.15 || 1;
  // the last WINDOW_S seconds, or as much as the page has seen (at least 10 s)
  const span = Math.round(Math.max(10, Math.min(WINDOW_S, points.length ? now - points[0].t : 0)));
  const x = t => L + (W - L - R) * (1 - (now - t) / span);
  const y = v => T + (H - T - B) * (1 - v / max);
  node.append(svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }));
  node.append(svg("line", { x1: L, y1: T, x2: L, y2: y(0), class: "axis" }));
  for (const v of [max / 2, max]) {
    node.append(svg("line", { x1: L, y1: y(v), x2: W - R, y2: y(v), class: "grid" }));
  }
  node.append(svg("text", { x: L - 4, y: y(max) + 4, "text-anchor": "end" }, fmt(max)));
  node.append(svg("text", { x: L - 4, y: y(0) + 4, "text-anchor": "end" }, fmt(0)));
  node.append(svg("text", { x: L, y: y(0) + 12 }, `-${span}s`));
  node.append(svg("text", { x: W - R, y: y(0) + 12, "text-anchor": "end" }, "now"));
  lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length];
    let d = "", pen = false;
    for (const [t, v] of line.points) {
      if (v === null || !isFinite(v) || now - t > span) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    }
    if (d) node.append(svg("path", { d: d, stroke: color, fill: "none", "stroke-width": 1.5 }));
    const lastPoint = [...line.points].reverse().find(p => p[1] !== null && isFinite(p[1]));
    if (lastPoint && now - lastPoint[0] <= span) {
      node.append(svg("circle", { cx: x(lastPoint[0]), cy: y(lastPoint[1]), r: 2, fill: color }));
    }
    const row = Math.floor(i / 2), lx = 8 + (i % 2) * 156, ly = H - 15 + row * 11;
    const label = `${line.name} ${lastPoint ? fmt(lastPoint[1]) : "—"}`;
    node.append(svg("rect", { x: lx, y: ly - 7, width: 8, height: 8, fill: color }));
    node.append(svg("text", { x: lx + 11, y: ly, class: "legend" }, label));
  });
}

// ---- polling --------------------------------------------------------------------------
async function tick() {
  try {
    await refreshCluster();
    await refreshMetrics();
    await refreshSessions();
    await refreshEvents();
    if (currentNode) await openPath(current);
  } catch (e) {
    $("summary").textContent = "member unreachable: " + e;
  }
}

window.addEventListener("hashchange", () => openPath(pathFromHash()));
$("goto").onsubmit = ev => { ev.preventDefault(); go($("path").value.trim() || "/"); };
$("view").onchange = () => currentNode && showData(currentNode.data);
$("set-btn").onclick = showDiff;
$("confirm-set").onclick = confirmSet;
$("cancel-set").onclick = () => { $("diff-panel").hidden = true; };
$("reset-btn").onclick = () => { if (currentNode) { fillEditor(currentNode, true); } };
$("delete-btn").onclick = deleteNode;
$("create-btn").onclick = createChild;
openPath(pathFromHash());
tick();
setInterval(tick, 1000);
