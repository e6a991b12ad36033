// roost dashboard: polls the member's /ui/api endpoints; no build step.
"use strict";
let current = "/";
let currentNode = null;
let lastEvent = 0;

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

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  row.appendChild(td);
}

function fill(tbody, rows, cols) {
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const c of cols) cell(tr, typeof c === "function" ? c(r) : r[c]);
    tbody.appendChild(tr);
  }
}

async function refreshCluster() {
  const r = await api("GET", "/ui/api/cluster");
  if (!r.ok) return;
  const c = r.data;
  const leader = c.members.find(m => m.role === "leader");
  $("leader").textContent = leader ? `member ${leader.id} (${leader.address})` : "none";
  $("term").textContent = c.term;
  $("commit").textContent = c.commit;
  $("applied").textContent = c.applied;
  $("source").textContent = c.replication_from ?
    `match and lag as member ${c.replication_from} (the leader) reports them` :
    (c.mode === "leader" || c.mode === "standalone" ? "" : "match and lag: only the leader knows");
  $("summary").textContent =
    `member ${c.id}: ${c.mode} · ${c.znodes} znodes · ${c.sessions} sessions · ` +
    `${c.connections} connections · zxid ${c.last_zxid}`;
  const tbody = document.querySelector("#members tbody");
  const role = m => m.role + (m.self ? " (this page)" : "") +
    (m.active === false ? " (not responding)" : "");
  fill(tbody, c.members, ["id", role, "address", "match", "lag"]);
  c.members.forEach((m, i) => {
    if (m.role === "leader") tbody.children[i].classList.add("leader");
  });
}

function hex(bytes) {
  return Array.from(bytes, b => b.toString(16).padStart(2, "0")).join(" ");
}

function showData(b64) {
  if (b64 === null) { $("znode-data").textContent = "(no READ permission)"; return; }
  const bytes = Uint8Array.from(atob(b64), ch => ch.charCodeAt(0));
  const text = new TextDecoder().decode(bytes);
  const mode = $("view").value;
  if (mode === "hex") $("znode-data").textContent = hex(bytes);
  else if (mode === "json") {
    try { $("znode-data").textContent = JSON.stringify(JSON.parse(text), null, 2); }
    catch (e) { $("znode-data").textContent = "(not JSON) " + text; }
  } else $("znode-data").textContent = text;
}

async function openPath(path) {
  const r = await api("GET", "/ui/api/node?path=" + encodeURIComponent(path));
  if (!r.ok) { $("op-result").textContent = `${path}: ${r.status} ${r.data}`; return; }
  current = path;
  currentNode = r.data;
  $("path").value = path;
  $("znode-path").textContent = path;
  showData(r.data.data);
  const stat = $("znode-stat");
  stat.replaceChildren();
  for (const [k, v] of Object.entries(r.data.stat)) {
    const tr = document.createElement("tr");
    cell(tr, k); cell(tr, v); stat.appendChild(tr);
  }
  const acl = $("znode-acl");
  acl.replaceChildren();
  for (const a of r.data.acl) {
    const li = document.createElement("li");
    li.textContent = `${a.scheme}:${a.id} ${a.perms}`;
    acl.appendChild(li);
  }
  const list = $("children");
  list.replaceChildren();
  if (path !== "/") {
    const up = document.createElement("li");
    up.textContent = "..";
    up.onclick = () => openPath(path.substring(0, path.lastIndexOf("/")) || "/");
    list.appendChild(up);
  }
  for (const name of r.data.children) {
    const li = document.createElement("li");
    li.textContent = name;
    li.className = "child";
    li.onclick = () => openPath((path === "/" ? "" : path) + "/" + name);
    list.appendChild(li);
  }
}

async function setData() {
  const body = { data: $("edit-data").value, version: currentNode ? currentNode.stat.version : -1 };
  if (!confirm(`Set the data of ${current}?`)) return;
  const r = await api("PUT", "/ui/api/node?path=" + encodeURIComponent(current), body);
  $("op-result").textContent = r.ok ? "saved" : `failed: ${JSON.stringify(r.data)}`;
  await openPath(current);
}

async function deleteNode() {
  if (!confirm(`Delete ${current}?`)) return;
  const v = currentNode ? currentNode.stat.version : -1;
  const r = await api("DELETE", `/ui/api/node?path=${encodeURIComponent(current)}&version=${v}`);
  $("op-result").textContent = r.ok ? "deleted" : `failed: ${JSON.stringify(r.data)}`;
  if (r.ok) await openPath(current.substring(0, current.lastIndexOf("/")) || "/");
}

async function createChild() {
  const name = $("child-name").value.trim();
  if (!name) return;
  const path = (current === "/" ? "" : current) + "/" + name;
  if (!confirm(`Create ${path}?`)) return;
  const r = await api("POST", "/ui/api/node?path=" + encodeURIComponent(path),
                      { data: $("edit-data").value });
  $("op-result").textContent = r.ok ? "created" : `failed: ${JSON.stringify(r.data)}`;
  await openPath(current);
}

async function refreshSessions() {
  const r = await api("GET", "/ui/api/sessions");
  if (r.ok) fill(document.querySelector("#sessions tbody"), r.data,
                 ["id", "timeout_ms", s => s.ephemerals.join(", ")]);
  const w = await api("GET", "/ui/api/watches");
  if (w.ok) fill(document.querySelector("#watches tbody"), w.data, ["path", "watchers"]);
}

async function refreshEvents() {
  const r = await api("GET", "/ui/api/events?after=" + lastEvent);
  if (!r.ok) return;
  const list = $("events");
  for (const e of r.data.events) {
    const li = document.createElement("li");
    li.textContent = `${new Date(e.time * 1000).toLocaleTimeString()} ${e.kind} ${e.detail}`;
    list.insertBefore(li, list.firstChild);
    lastEvent = Math.max(lastEvent, e.seq);
  }
  while (list.children.length > 200) list.removeChild(list.lastChild);
}

async function tick() {
  try {
    await refreshCluster();
    await refreshSessions();
    await refreshEvents();
  } catch (e) {
    $("summary").textContent = "member unreachable: " + e;
  }
}

$("goto").onsubmit = ev => { ev.preventDefault(); openPath($("path").value); };
$("view").onchange = () => currentNode && showData(currentNode.data);
$("set-btn").onclick = setData;
$("delete-btn").onclick = deleteNode;
$("create-btn").onclick = createChild;
openPath("/");
tick();
setInterval(tick, 1000);
