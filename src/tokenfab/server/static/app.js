// tokenfab web app: one page, hash routes, every view a shareable URL. Talks to /api/ only.
"use strict";

// ---- plumbing ------------------------------------------------------------------------------------
const TOKEN_KEY = "tokenfab-token";
(function takeToken() {
  const q = new URLSearchParams(location.search);
  if (q.get("token")) { sessionStorage.setItem(TOKEN_KEY, q.get("token")); history.replaceState(null, "", location.pathname + location.hash); }
})();
const token = () => sessionStorage.getItem(TOKEN_KEY);

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status; this.field = e.field; this.accepted = e.accepted;
  }
}

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  let body = opts.body;
  if (body !== undefined && typeof body !== "string") { body = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, { method: opts.method || "GET", headers, body });
  if (r.status === 204) return null;
  const data = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};
const view = () => document.getElementById("view");
// replaceChildren that takes arrays and skips null (for optional parts of a view)
const put = (node, ...kids) => node.replaceChildren(...kids.flat(3).filter((k) => k !== null && k !== undefined && k !== false));
const fmt = (x, d = 0) => (x === null || x === undefined || x === "") ? "-" :
  (typeof x === "number" ? x.toLocaleString("en-US", { maximumFractionDigits: d }) : String(x));
const usd = (x) => (x === null || x === undefined) ? "-" : "$" + fmt(Math.round(x));
const esc = encodeURIComponent;
const dl = (path) => path + (token() ? (path.includes("?") ? "&" : "?") + "token=" + esc(token()) : "");

function errorBox(err) {
  return el("div", { class: "banner bad", role: "alert" }, err.field ? `${err.field}: ` : "", err.message,
            err.accepted ? el("div", { class: "muted" }, "accepted: " + err.accepted) : null);
}

function sortableTable(columns, rows, opts = {}) {
  const wrap = el("div", { class: "table-wrap" });
  const filter = el("input", { type: "text", placeholder: "filter rows", "aria-label": "filter rows" });
  let sortCol = -1, asc = true, shown = rows;
  const table = el("table", { class: "data" });
  const render = () => {
    const q = filter.value.toLowerCase();
    shown = rows.filter((r) => !q || r.some((c) => String(c).toLowerCase().includes(q)));
    if (sortCol >= 0) {
      shown = [...shown].sort((a, b) => {
        const x = a[sortCol], y = b[sortCol], nx = parseFloat(x), ny = parseFloat(y);
        const c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
    }
    put(table, 
      el("thead", {}, el("tr", {}, columns.map((c, i) => el("th", { onclick: () => { asc = sortCol === i ? !asc : true; sortCol = i; render(); } },
        c + (sortCol === i ? (asc ? " ▲" : " ▼") : ""))))),
      el("tbody", {}, shown.slice(0, opts.limit || 5000).map((r) => el("tr", { class: opts.rowClass ? opts.rowClass(r) : "" },
        r.map((c, i) => {
          const cell = opts.cell ? opts.cell(c, i, r) : c;
          return el("td", { class: (typeof c === "number" || (c !== "" && !isNaN(c))) ? "num" : "" }, cell);
        })))));
  };
  filter.addEventListener("input", render);
  render();
  wrap.append(table);
  return el("div", {}, el("div", { class: "row" }, filter, el("span", { class: "muted" }, `${rows.length.toLocaleString()} rows`)), wrap);
}

// ---- jobs ----------------------------------------------------------------------------------------
const watchers = new Map();  // job id -> callback when it ends

function progressBar(job) {
  const p = job.progress || {};
  const pct = p.total ? Math.min(100, 100 * p.done / p.total) : (job.state === "done" ? 100 : 5);
  return el("div", { class: "progress", role: "progressbar", "aria-valuenow": Math.round(pct) }, el("div", { style: `width:${pct}%` }));
}

function jobLine(job, onCancel) {
  const p = job.progress || {};
  return el("div", { class: "job", "data-job": job.id, "data-state": job.state },
    el("div", {}, el("b", {}, job.title), " ", el("span", { class: job.state === "failed" ? "bad" : "muted" }, job.state)),
    job.state === "running" || job.state === "queued" ? el("div", { class: "row" }, progressBar(job),
      el("span", { class: "muted" }, p.total ? `${p.done}/${p.total} ${p.message || ""}` : (p.message || "")),
      el("button", { class: "secondary", onclick: async () => { await api(`/api/jobs/${job.id}`, { method: "DELETE" }); onCancel && onCancel(); } }, "Cancel")) : null,
    job.error ? el("div", { class: "bad" }, job.error) : null);
}

async function pollJob(id, box, done) {
  for (;;) {
    let job;
    try { job = await api(`/api/jobs/${id}`); } catch (e) { put(box, errorBox(e)); return; }
    put(box, jobLine(job));
    if (!["queued", "running"].includes(job.state)) { done && done(job); refreshJobs(); return; }
    await new Promise((r) => setTimeout(r, 400));
  }
}

async function refreshJobs() {
  try {
    const jobs = await api("/api/jobs");
    const active = jobs.filter((j) => ["queued", "running"].includes(j.state));
    const ind = document.getElementById("jobs-indicator");
    ind.textContent = active.length ? `jobs: ${active.length} running` : "jobs";
    const drawer = document.getElementById("jobs-drawer");
    if (!drawer.hidden) put(drawer, el("h2", {}, "Jobs"), ...jobs.slice(0, 30).map((j) => jobLine(j, refreshJobs)));
  } catch (e) { /* the page shows errors where they matter */ }
}
document.getElementById("jobs-indicator").addEventListener("click", () => {
  const d = document.getElementById("jobs-drawer"); d.hidden = !d.hidden; refreshJobs();
});
setInterval(refreshJobs, 3000);

// ---- catalog and intent form ---------------------------------------------------------------------
let CATALOG = null;
async function catalog() { if (!CATALOG) CATALOG = await api("/api/catalog"); return CATALOG; }

const DEFAULT_INTENT = `name: my-fabric
cluster:
  servers: 64
  gpus_per_server: 4
  gpu_model: H100
  nic_model: ConnectX-7
fabric:
  architecture: rail-optimized
  switch_model: CX864E-N
`;

function intentFromForm(f) {
  const lines = [`name: ${f.name.value || "my-fabric"}`, "cluster:", `  servers: ${f.servers.value}`,
    `  gpus_per_server: ${f.gpus_per_server.value}`, `  gpu_model: ${f.gpu_model.value}`, `  nic_model: ${f.nic_model.value}`];
  if (+f.planes.value > 1) lines.push(`  planes: ${f.planes.value}`);
  lines.push("fabric:", `  architecture: ${f.architecture.value}`, `  tiers: ${f.tiers.value}`, `  switch_model: ${f.switch_model.value}`);
  if (+f.oversubscription.value > 1) lines.push("  leaf:", `    oversubscription: ${f.oversubscription.value}`);
  return lines.join("\n") + "\n";
}

async function intentForm(onYaml) {
  const cat = await catalog();
  const opt = (items, label, sel) => items.map((i) => el("option", { value: i.name, selected: i.name === sel }, label(i)));
  const form = el("form", { class: "form-grid card", id: "intent-form", onsubmit: (e) => e.preventDefault() },
    el("label", {}, "name", el("input", { type: "text", name: "name", value: "my-fabric" })),
    el("label", {}, "servers", el("input", { type: "number", name: "servers", value: 64, min: 1 })),
    el("label", {}, "GPUs per server", el("input", { type: "number", name: "gpus_per_server", value: 4, min: 1, max: 72 })),
    el("label", {}, "GPU", el("select", { name: "gpu_model" }, opt(cat.gpus, (g) => `${g.name} (${g.hbm_gbytes} GB, ${g.hbm_tbytes_per_s} TB/s)`, "H100"))),
    el("label", {}, "NIC", el("select", { name: "nic_model" }, opt(cat.nics, (n) => `${n.name} (${n.speed_gbps}G)`, "ConnectX-7"))),
    el("label", {}, "switch", el("select", { name: "switch_model" }, opt(cat.switches, (s) => `${s.name} (${s.ports} x ${s.port_speed_gbps}G)`, "CX864E-N"))),
    el("label", {}, "architecture", el("select", { name: "architecture" }, ["rail-optimized", "rail-only", "auto"].map((a) => el("option", { value: a }, a)))),
    el("label", {}, "tiers", el("select", { name: "tiers" }, ["auto", "1", "2", "3"].map((a) => el("option", { value: a }, a)))),
    el("label", {}, "planes", el("input", { type: "number", name: "planes", value: 1, min: 1, max: 8 })),
    el("label", {}, "leaf oversubscription", el("input", { type: "number", name: "oversubscription", value: 1, min: 1, step: 0.5 })),
  );
  form.addEventListener("input", () => onYaml(intentFromForm(form)));
  return form;
}

function yamlEditor(initial, onChange) {
  const ta = el("textarea", { id: "intent-yaml", spellcheck: "false", "aria-label": "intent YAML" });
  ta.value = initial;
  const problems = el("div", { id: "intent-problems" });
  let timer = null;
  const check = async () => {
    try {
      const r = await api("/api/intent/check", { method: "POST", body: { intent_yaml: ta.value } });
      put(problems, r.ok ? el("div", { class: "ok" }, `valid: ${fmt(r.summary.gpus)} GPUs on ${fmt(r.summary.servers)} servers`) :
        el("ul", { class: "problems" }, r.problems.map((p) => el("li", {}, p.line ? `line ${p.line}: ` : "", p.message))));
      onChange && onChange(ta.value, r);
    } catch (e) { put(problems, errorBox(e)); }
  };
  ta.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 300); });
  check();
  return { node: el("div", {}, ta, problems), textarea: ta, check };
}

// ---- views ---------------------------------------------------------------------------------------
async function designsView() {
  const designs = await api("/api/designs");
  const rows = designs.map((d) => [d.name, d.status, d.gpus ?? "", d.switches ?? "", d.price_usd ?? "", d.power_w ? (d.power_w / 1000).toFixed(1) : "",
    d.configured ? "yes" : "no", d.validated === null ? "-" : (d.validated ? "clean" : "violations")]);
  put(view(), el("h1", {}, "Designs"),
    designs.length ? sortableTable(["design", "status", "GPUs", "switches", "cost (USD)", "power (kW)", "configured", "validated"], rows,
      { cell: (c, i) => i === 0 ? el("a", { href: `#/design/${esc(c)}/topology` }, c) : c }) :
      el("p", { class: "muted" }, "No designs yet. ", el("a", { href: "#/new" }, "Create one"), " or plan into WORKSPACE/designs/NAME/plan with the CLI."));
}

async function newDesignView() {
  const status = el("div");
  const editor = yamlEditor(DEFAULT_INTENT);
  const form = await intentForm((y) => { editor.textarea.value = y; editor.check(); });
  const create = el("button", { id: "create-design", onclick: async () => {
    put(status, el("span", { class: "muted" }, "planning..."));
    const name = (editor.textarea.value.match(/^name:\s*([a-z0-9-]+)/m) || [])[1] || form.name.value;
    try {
      await api("/api/designs", { method: "POST", body: { name, intent_yaml: editor.textarea.value } });
      location.hash = `#/design/${esc(name)}/topology`;
    } catch (e) { put(status, errorBox(e)); }
  } }, "Create and plan");
  put(view(), el("h1", {}, "New design"), form,
    el("h2", {}, "Intent (YAML)"), el("p", { class: "muted" }, "The form writes the common fields; edit any field here. Checked as you type."),
    editor.node, el("div", { class: "row" }, create), status);
}

const TABS = [["intent", "Intent"], ["topology", "Topology"], ["bom", "BOM"], ["cabling", "Cabling"], ["ip-plan", "IP plan"],
  ["validate", "Validate"], ["simulate", "Simulate"], ["factory", "Factory"], ["files", "Files"]];

async function designView(name, tab, params) {
  let d;
  try { d = await api(`/api/designs/${esc(name)}`); } catch (e) { put(view(), errorBox(e)); return; }
  const tabs = el("div", { class: "tabs" }, TABS.map(([k, label]) => el("a", { href: `#/design/${esc(name)}/${k}`, class: k === tab ? "active" : "" }, label)));
  const banner = d.status === "invalid" ? el("div", { class: "banner bad", id: "stale-banner" }, "The saved intent has errors; the results below are from the last plan and no longer match it. ", d.error) :
    d.status === "stale" ? el("div", { class: "banner warn", id: "stale-banner" }, "The intent changed since the last plan; results are greyed out until it plans again.") : null;
  const body = el("div", { id: "tab-body", class: (d.status === "planned" || tab === "intent") ? "" : "stale" });
  const s = d.summary;
  const head = el("div", { class: "cards" }, s ? [
    kpi("GPUs", fmt(s.design.gpus)), kpi("architecture", `${s.design.architecture}, ${s.design.tiers} tier(s)`),
    kpi("switches", fmt(s.switches)), kpi("cost", usd(s.totals.price_usd)), kpi("power", fmt(s.totals.power_w / 1000, 1) + " kW"),
    kpi("validated", d.validation ? (d.validation.ok ? "clean" : `${d.validation.violations} violations`) : "not yet"),
  ] : []);
  put(view(), el("h1", {}, name, " ", el("span", { class: "muted" }, d.status)), banner, head, tabs, body);
  const fn = { intent: intentTab, topology: topologyTab, bom: tableTab, cabling: tableTab, "ip-plan": tableTab, validate: validateTab,
    simulate: simulateTab, factory: factoryTab, files: filesTab }[tab] || topologyTab;
  await fn(name, d, body, tab, params);
}

function kpi(k, v) { return el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k)); }

async function intentTab(name, d, body) {
  const status = el("div");
  const editor = yamlEditor(d.intent_yaml);
  const save = el("button", { id: "save-intent", onclick: async () => {
    put(status, el("span", { class: "muted" }, "saving and planning..."));
    try {
      await api(`/api/designs/${esc(name)}/intent`, { method: "PUT", body: { intent_yaml: editor.textarea.value } });
      route();
    } catch (e) { await route(); document.getElementById("tab-body").prepend(errorBox(e)); }
  } }, "Save and plan");
  put(body, editor.node, el("div", { class: "row" }, save, el("a", { href: dl(`/api/designs/${esc(name)}/archive`) }, "download the design folder (zip)")), status);
}

async function tableTab(name, d, body, tab) {
  try {
    const t = await api(`/api/designs/${esc(name)}/tables/${tab}`);
    put(body, el("div", { class: "row" }, el("a", { href: dl(`/api/designs/${esc(name)}/files/plan/${tab}.csv`) }, `download ${tab}.csv`)),
      sortableTable(t.columns, t.rows));
  } catch (e) { put(body, errorBox(e)); }
}

const RAIL_COLORS = ["#888", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

async function topologyTab(name, d, body, _tab, params) {
  const expanded = new Set((params.get("expand") || "").split(",").filter(Boolean));
  const run = params.get("run");
  const panel = el("div", { class: "panel", id: "device-panel" }, el("p", { class: "muted" }, "Click a group to expand it, a device to see its ports, addresses, BGP sessions and configs."));
  const search = el("input", { type: "text", id: "device-search", placeholder: "find a device, e.g. leaf-r1-1" });
  const cyBox = el("div", { id: "cy" });
  const legend = el("div", { class: "legend muted" });
  put(body, el("div", { class: "row" }, search, el("button", { class: "secondary", onclick: () => setExpand(new Set()) }, "Collapse all"), legend),
    el("div", { class: "topo" }, cyBox, panel));
  const setExpand = (set) => {
    const p = new URLSearchParams(params); if (set.size) p.set("expand", [...set].join(",")); else p.delete("expand");
    location.hash = `#/design/${esc(name)}/topology?${p}`;
  };
  let g;
  try { g = await api(`/api/designs/${esc(name)}/topology?expand=${esc([...expanded].join(","))}${run ? "&run=" + esc(run) : ""}`); }
  catch (e) { put(body, errorBox(e)); return; }
  put(legend, g.twins && g.twins.length ? el("span", {}, `twin ${g.twins.join(", ")} running: its failed links in red; `) : null, ...Array.from({ length: g.rails }, (_, i) => el("span", {}, el("span", { class: "swatch", style: `background:${RAIL_COLORS[(i + 1) % RAIL_COLORS.length]}` }), `rail ${i + 1}`)),
    el("span", {}, el("span", { class: "swatch", style: "background:#c62828" }), "failed"));
  const tierOf = (n) => ({ core: 0, spine: 1, pod: 1, leaf: 2, su: 2, servers: 3, server: 3 })[n.kind] ?? 2;
  const cy = cytoscape({
    container: cyBox, elements: [...g.nodes, ...g.edges], wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: { label: "data(label)", "font-size": 11, "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22, "background-color": "#5b6b7f" } },
      { selector: "node[kind='spine'], node[kind='core']", style: { shape: "round-rectangle", "background-color": "#34495e" } },
      { selector: "node[kind='leaf']", style: { shape: "round-rectangle", "background-color": (n) => RAIL_COLORS[n.data("rail") % RAIL_COLORS.length] } },
      { selector: "node[kind='server']", style: { width: 12, height: 12, "font-size": 8, "background-color": "#95a5a6" } },
      { selector: "node[?group]", style: { shape: "round-rectangle", width: 150, height: 34, "text-valign": "center", "text-margin-y": 0, "text-wrap": "wrap",
          "text-max-width": 140, "background-color": "#dfe7f1", "border-width": 2, "border-color": "#5b7fa6", color: "#1d2430" } },
      { selector: "edge", style: { width: (e) => Math.min(8, 1 + Math.log2(e.data("links"))), "line-color": (e) => e.data("rail") ? RAIL_COLORS[e.data("rail") % RAIL_COLORS.length] : "#9aa7b5", opacity: 0.7, "curve-style": "straight" } },
      { selector: "edge[failed > 0]", style: { "line-color": "#c62828", "line-style": "dashed", width: 4, opacity: 1 } },
      { selector: ":selected", style: { "border-width": 3, "border-color": "#f39c12" } },
    ],
    layout: { name: "preset" },
  });
  // layered layout: one row per tier, nodes spread evenly (readable at any size)
  const rows = [[], [], [], []];
  cy.nodes().forEach((n) => rows[tierOf(n.data())].push(n));
  const W = Math.max(900, ...rows.map((r) => r.length * 60));
  rows.forEach((r, y) => r.forEach((n, i) => n.position({ x: (i + 0.5) * W / r.length, y: 60 + y * 170 })));
  cy.fit(undefined, 30);
  window.__cy = cy;  // for the browser tests and the console
  cy.on("tap", "node", async (ev) => {
    const data = ev.target.data();
    if (data.group) { if (data.expandable !== false) { expanded.add(data.id); setExpand(expanded); } return; }
    showDevice(name, data.id, panel);
  });
  cy.on("mouseover", "edge", (ev) => { ev.target.style("label", ev.target.data("label")); });
  cy.on("mouseout", "edge", (ev) => { ev.target.style("label", ""); });
  search.addEventListener("keydown", async (e) => {
    if (e.key !== "Enter") return;
    const q = search.value.trim();
    const hit = cy.getElementById(q);
    if (hit && hit.length) { cy.$(":selected").unselect(); hit.select(); cy.center(hit); showDevice(name, q, panel); return; }
    try { await showDevice(name, q, panel); } catch (err) { /* shown in panel */ }
  });
  if (params.get("device")) showDevice(name, params.get("device"), panel, params.get("find"));
}

async function showDevice(name, device, panel, find) {
  let p;
  try { p = await api(`/api/designs/${esc(name)}/devices/${esc(device)}`); } catch (e) { put(panel, errorBox(e)); return; }
  const dv = p.device;
  const files = Object.entries(p.files).map(([f, text]) => el("details", { open: f === "config_db.json" }, el("summary", {}, f), el("pre", { class: "config", "data-file": f }, text)));
  put(panel, el("h2", { id: "device-name" }, dv.name),
    el("div", { class: "muted" }, `${dv.role} · ${dv.model} · ASN ${dv.asn || "-"} · loopback ${dv.loopback || "-"} · mgmt ${dv.mgmt || "-"} · rack ${dv.rack}`),
    el("h2", {}, `Ports (${p.ports.length})`),
    sortableTable(["port", "peer", "peer port", "Gb/s", "kind", "address", "peer address", "m", "medium"],
      p.ports.map((x) => [x.port, x.peer, x.peer_port, x.speed_gbps, x.kind, x.ip, x.peer_ip, x.length_m, x.medium]), { limit: 600 }),
    el("h2", {}, `BGP sessions (${p.bgp.length})`),
    p.bgp.length ? sortableTable(["neighbor", "ASN", "name", "local"], p.bgp.map((b) => [b.neighbor, b.asn, b.name, b.local_addr])) : el("p", { class: "muted" }, "none"),
    el("h2", {}, "Generated configuration"),
    files.length ? files : el("p", { class: "muted" }, "Not configured yet: run Configure and validate on the Validate tab."));
  if (find) markLine(panel, find);
}

// A violation's table or key: highlight its first line in the device's config and scroll to it.
function markLine(panel, needle) {
  for (const pre of panel.querySelectorAll("pre.config")) {
    const lines = pre.textContent.split("\n");
    const at = lines.findIndex((l) => l.includes(needle));
    if (at < 0) continue;
    pre.closest("details").open = true;
    put(pre, lines.slice(0, at).join("\n") + "\n", el("mark", { id: "config-line", "data-line": at + 1 }, lines[at]),
        "\n" + lines.slice(at + 1).join("\n"));
    document.getElementById("config-line").scrollIntoView({ block: "center" });
    return;
  }
}

async function validateTab(name, d, body) {
  const box = el("div");
  const btn = el("button", { id: "configure-btn", onclick: async () => {
    btn.disabled = true;
    try {
      const r = await api(`/api/designs/${esc(name)}/configure`, { method: "POST" });
      pollJob(r.job.id, box, () => route());
    } catch (e) { put(box, errorBox(e)); btn.disabled = false; }
  } }, d.configured ? "Configure and validate again" : "Configure and validate");
  put(body, el("div", { class: "row" }, btn), box);
  const running = (await api(`/api/jobs?design=${esc(name)}`)).find((j) => j.kind === "configure" && ["queued", "running"].includes(j.state));
  if (running) { btn.disabled = true; pollJob(running.id, box, () => route()); }
  let v;
  try { v = await api(`/api/designs/${esc(name)}/validation`); } catch (e) { if (e.status !== 404) body.append(errorBox(e)); return; }
  body.append(el("h2", { id: "validation-result" }, v.ok ? el("span", { class: "ok" }, `clean: ${v.switches} switches, ${v.hosts} hosts, 0 violations`) :
    el("span", { class: "bad" }, `${v.violations.length} violations`)),
    el("table", {}, el("tr", {}, el("th", {}, "check"), el("th", {}, "violations")), Object.entries(v.counts).map(([k, n]) => el("tr", {}, el("td", {}, k), el("td", { class: "num" }, n)))));
  if (v.violations.length) {
    const cols = Object.keys(v.violations[0]);
    body.append(el("h2", {}, "Violations"), sortableTable(cols, v.violations.map((x) => cols.map((c) => x[c] ?? "")), {
      cell: (c, i, r) => {
        if (cols[i] !== "device" || !c) return c;
        const find = [r[cols.indexOf("table")], r[cols.indexOf("key")]].filter((x) => x && x !== -1).pop() || "";
        return el("a", { href: `#/design/${esc(name)}/topology?device=${esc(c)}${find ? "&find=" + esc(find) : ""}` }, c);
      } }));
  }
}

const SIM_DEFAULTS = { collective: "all_reduce", minbytes: "1M", maxbytes: "1G", routings: ["ecmp", "spray"], qps: 1, fail: "", loss: 0 };

async function simulateTab(name, d, body, _tab, params) {
  const f = el("form", { class: "form-grid card", id: "sim-form", onsubmit: (e) => e.preventDefault() },
    el("label", {}, "collective", el("select", { name: "collective" }, ["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "reduce", "send_recv"].map((c) => el("option", { value: c }, c)))),
    el("label", {}, "smallest size", el("input", { type: "text", name: "minbytes", value: SIM_DEFAULTS.minbytes })),
    el("label", {}, "largest size", el("input", { type: "text", name: "maxbytes", value: SIM_DEFAULTS.maxbytes })),
    el("label", {}, "GPUs (empty: all)", el("input", { type: "number", name: "gpus", min: 2 })),
    el("label", {}, "routing", el("span", {}, ["ecmp", "adaptive", "spray"].map((r) => el("label", { style: "display:inline;margin-right:8px;color:inherit" },
      el("input", { type: "checkbox", name: "routing", value: r, checked: SIM_DEFAULTS.routings.includes(r) }), r)))),
    el("label", {}, "QPs per connection", el("input", { type: "number", name: "qps", value: 1, min: 1, max: 16 })),
    el("label", {}, "down (links or switches, comma separated)", el("input", { type: "text", name: "fail", placeholder: "spine-1" })),
    el("label", {}, "packet loss per link", el("input", { type: "number", name: "loss", value: 0, min: 0, max: 0.5, step: 0.0001 })),
  );
  const box = el("div");
  const runBtn = el("button", { id: "simulate-btn", onclick: async () => {
    const req = { collective: f.collective.value, minbytes: f.minbytes.value, maxbytes: f.maxbytes.value, qps: +f.qps.value, loss: +f.loss.value,
      routings: [...f.querySelectorAll("input[name=routing]:checked")].map((x) => x.value),
      fail: f.fail.value.split(",").map((s) => s.trim()).filter(Boolean) };
    if (f.gpus.value) req.gpus = +f.gpus.value;
    try {
      const r = await api(`/api/designs/${esc(name)}/simulate`, { method: "POST", body: req });
      pollJob(r.job.id, box, (job) => { if (job.state === "done") location.hash = `#/design/${esc(name)}/simulate?run=${esc(r.run)}`; });
    } catch (e) { put(box, errorBox(e)); }
  } }, "Simulate");
  const runs = d.runs.filter((r) => r.kind === "simulate");
  const picks = el("div", { class: "row" }, el("span", { class: "muted" }, "runs:"), runs.map((r) => el("label", {},
    el("input", { type: "checkbox", value: r.run, checked: r.run === params.get("run") || (!params.get("run") && r === runs[runs.length - 1]) }), `${r.run} (${r.params.collective}, ${(r.params.routings || []).join("/")}${(r.params.fail || []).length ? ", down " + r.params.fail.join(",") : ""})`)));
  const chart = el("div", { class: "chart", id: "busbw-chart" });
  const heat = el("div", { class: "chart", id: "link-load-chart" });
  const extra = el("div");
  put(body, f, el("div", { class: "row" }, runBtn), box, runs.length ? picks : null, chart, extra, heat);
  const draw = async () => {
    const chosen = [...picks.querySelectorAll("input:checked")].map((x) => x.value);
    const traces = []; let first = null;
    for (const run of chosen) {
      const r = await api(`/api/designs/${esc(name)}/runs/${esc(run)}`);
      if (!r.result) continue;
      first = first || r;
      for (const s of r.result.series) traces.push({ x: s.size_bytes, y: s.busbw_GBps, name: `${run} ${s.routing}`, mode: "lines+markers" });
    }
    if (!traces.length) { put(chart, el("p", { class: "muted", style: "padding:12px" }, "Run a simulation to see busbw against message size.")); heat.hidden = true; return; }
    Plotly.newPlot(chart, traces, { title: { text: "bus bandwidth by message size" }, xaxis: { title: { text: "message size (bytes)" }, type: "log" },
      yaxis: { title: { text: "busbw (GB/s)" } }, margin: { t: 40 } }, { displaylogo: false, responsive: true });
    const links = first.result.links || [];
    heat.hidden = false;
    const failed = links.filter((l) => l.failed);
    put(extra, el("p", { class: "muted" }, `${first.run}: ${first.result.gpus} GPUs; link load at the largest size (busiest 300 links`,
      failed.length ? el("span", { class: "bad" }, `, ${failed.length} failed links in red`) : null, "). ",
      el("a", { href: `#/design/${esc(name)}/topology?run=${esc(first.run)}` }, "show on the topology")));
    Plotly.newPlot(heat, [{ type: "bar", x: links.map((l, i) => i), y: links.map((l) => l.failed ? 1.0 : l.load * 100),
      marker: { color: links.map((l) => l.failed ? "#c62828" : l.load > 0.9 ? "#e67e22" : "#1f77b4") },
      text: links.map((l) => `${l.link}<br>${l.kind}<br>${l.failed ? "FAILED" : (l.load * 100).toFixed(1) + "% of usable capacity"}`),
      hovertemplate: "%{text}<extra></extra>" }],
      { title: { text: "link load (share of usable capacity, busier direction)" }, xaxis: { title: { text: "links, busiest first" } }, yaxis: { title: { text: "load (%)" } }, margin: { t: 40 } },
      { displaylogo: false, responsive: true });
  };
  picks.addEventListener("change", draw);
  await draw();
}

const FACTORY_DEFAULT = `name: web-day
window_h: 6
network: {model: simulator, routing: ecmp}
scheduler: {policy: topology-aware}
tenants:
  - name: research
  - name: product
workloads:
  pretrain-8b:
    training:
      model: llama3-8b
      seq_len: 8192
      global_batch: 256
      parallelism: {tp: 2, pp: 1, dp: 32, zero: 1}
  chat-8b:
    inference:
      model: llama3-8b
      precision: fp8
      decode: {tp: 1, replicas: 8}
      batch: 32
      input_tokens: 1000
      output_tokens: 300
jobs:
  - {name: pretrain, tenant: research, workload: pretrain-8b, arrive_h: 0, steps: 3000}
  - {name: chat, tenant: product, workload: chat-8b, arrive_h: 0}
compare:
  - {name: spray, network: {model: simulator, routing: spray}}
`;

async function factoryTab(name, d, body, _tab, params) {
  const ta = el("textarea", { id: "factory-yaml", spellcheck: "false", "aria-label": "factory YAML" });
  ta.value = localStorage.getItem("tokenfab-factory-" + name) || FACTORY_DEFAULT;
  const box = el("div");
  const btn = el("button", { id: "factory-btn", onclick: async () => {
    localStorage.setItem("tokenfab-factory-" + name, ta.value);
    try {
      const r = await api(`/api/designs/${esc(name)}/factory`, { method: "POST", body: { factory_yaml: ta.value } });
      pollJob(r.job.id, box, (job) => { if (job.state === "done") location.hash = `#/design/${esc(name)}/factory?run=${esc(r.run)}`; });
    } catch (e) { put(box, errorBox(e)); }
  } }, "Run the factory");
  const runs = d.runs.filter((r) => r.kind === "factory");
  const chosen = params.get("run") || (runs.length ? runs[runs.length - 1].run : null);
  const dash = el("div", { id: "factory-dashboard" });
  put(body, el("p", { class: "muted" }, "A factory file (see examples/factory-demo.yaml); its fabric is this design's plan."),
    el("div", { class: "editor" }, ta), el("div", { class: "row" }, btn,
      runs.length ? el("select", { onchange: (e) => location.hash = `#/design/${esc(name)}/factory?run=${esc(e.target.value)}` },
        runs.map((r) => el("option", { value: r.run, selected: r.run === chosen }, r.run))) : null), box, dash);
  if (!chosen) return;
  const r = await api(`/api/designs/${esc(name)}/runs/${esc(chosen)}`);
  if (!r.factory) { put(dash, el("p", { class: "muted" }, `${chosen} has no results (failed or still running).`)); return; }
  const F = r.factory, t = F.totals, nd = F.network_dollars;
  put(dash, 
    el("h2", {}, `${chosen}: ${F.base}`, " ", el("a", { href: dl(`/api/designs/${esc(name)}/files/runs/${esc(chosen)}/out/report.html`), target: "_blank" }, "full HTML report")),
    F.notes && F.notes.length ? el("div", { class: "banner warn", id: "factory-notes" }, F.notes.map((n) => el("div", {}, n))) : null,
    el("div", { class: "cards" }, kpi("tokens", fmt(t.tokens)), kpi("$ / Mtoken", t.usd_per_mtoken_total !== undefined ? "$" + fmt(t.usd_per_mtoken_total, 3) : "-"),
      kpi("tokens / kWh", fmt(t.tokens_per_kwh)), kpi("SLO attainment", t.slo_attainment_pct === null ? "-" : fmt(t.slo_attainment_pct, 2) + "%"),
      kpi("GPU utilization", fmt(t.gpu_utilization_pct, 1) + "%"), kpi("cost", usd(t.cost_total_usd))),
    el("h2", {}, "What the network costs"),
    el("div", { class: "cards", id: "network-dollars" }, kpi("GPU-hours waiting on the network", fmt(nd.gpu_h_waiting_on_network, 1)),
      kpi("their price", usd(nd.usd_waiting_on_network)), kpi("network capex", usd(nd.network_capex_usd)),
      kpi("network share of capex", fmt(nd.network_share_pct, 1) + "%")),
    el("div", { class: "chart", id: "gpu-time-chart" }),
    F.services.length ? el("div", {}, el("h2", {}, "Services (SLO per service and tenant)"), sortableTable(Object.keys(F.services[0]), F.services.map((x) => Object.values(x)))) : null,
    F.tenants.length ? el("div", {}, el("h2", {}, "Tenants"), sortableTable(Object.keys(F.tenants[0]), F.tenants.map((x) => Object.values(x)))) : null,
    F.comparison.length > 1 ? el("div", {}, el("h2", {}, "Variants side by side"), sortableTable(Object.keys(F.comparison[0]), F.comparison.map((x) => Object.values(x).map((v) => typeof v === "object" && v !== null ? JSON.stringify(v) : v)))) : null);
  const tl = F.timeline;
  Plotly.newPlot("gpu-time-chart", Object.entries(tl.series).map(([k, ys]) => ({ x: tl.t_h, y: ys, name: k.replace(/_gpus$/, "").replace(/_/g, " "), stackgroup: "gpus", mode: "none" })),
    { title: { text: "GPUs by what they do, over the window" }, xaxis: { title: { text: "hour" } }, yaxis: { title: { text: "GPUs" } }, margin: { t: 40 } }, { displaylogo: false, responsive: true });
}

async function filesTab(name, d, body) {
  const files = await api(`/api/designs/${esc(name)}/files`);
  put(body, el("div", { class: "row" }, el("a", { href: dl(`/api/designs/${esc(name)}/archive`), id: "archive-link" }, "download everything (zip)")),
    sortableTable(["file", "bytes"], files.map((f) => [f.path, f.size_bytes]),
      { cell: (c, i) => i === 0 ? el("a", { href: dl(`/api/designs/${esc(name)}/files/${c.split("/").map(esc).join("/")}`) }, c) : c }));
}

async function compareView(params) {
  const designs = await api("/api/designs");
  const names = designs.filter((x) => x.status !== "invalid" && x.status !== "unplanned").map((x) => x.name);
  const pick = (id, sel) => el("select", { id, onchange: () => { location.hash = `#/compare?a=${esc(document.getElementById("cmp-a").value)}&b=${esc(document.getElementById("cmp-b").value)}`; } },
    names.map((n) => el("option", { value: n, selected: n === sel }, n)));
  const a = params.get("a") || names[0], b = params.get("b") || names[1] || names[0];
  const out = el("div");
  put(view(), el("h1", {}, "Compare designs"), el("div", { class: "row" }, pick("cmp-a", a), " vs ", pick("cmp-b", b)), out);
  if (!a || !b) { out.append(el("p", { class: "muted" }, "Two planned designs are needed.")); return; }
  try {
    const c = await api(`/api/compare?a=${esc(a)}&b=${esc(b)}`);
    out.append(el("table", { id: "compare-table" }, el("tr", {}, el("th", {}, ""), el("th", {}, a), el("th", {}, b)),
      c.rows.map((r) => el("tr", { class: r.differs ? "differs" : "" }, el("td", {}, r.item), el("td", { class: "num" }, fmt(r.a, 1)), el("td", { class: "num" }, fmt(r.b, 1))))),
      el("h2", {}, `What ${b} adds, removes and changes against ${a}`),
      el("ul", {}, ["added", "removed", "changed"].flatMap((part) => Object.entries(c.diff[part]).map(([what, x]) =>
        el("li", {}, `${part} ${what}: ${x.count}`, x.first.length ? el("details", {}, el("summary", {}, "show"), el("pre", {}, x.first.join("\n") + (x.count > x.first.length ? "\n..." : ""))) : null)))));
  } catch (e) { out.append(errorBox(e)); }
}

async function sweepsView(params) {
  const sweeps = await api("/api/sweeps");
  const chosen = params.get("sweep") || sweeps[0];
  const out = el("div");
  put(view(), el("h1", {}, "Sweeps"), sweeps.length ? el("div", { class: "row" }, el("select", { onchange: (e) => location.hash = `#/sweeps?sweep=${esc(e.target.value)}` },
    sweeps.map((s) => el("option", { value: s, selected: s === chosen }, s)))) :
    el("p", { class: "muted" }, "No sweeps yet: run `tokenfab sweep SPEC -o WORKSPACE/sweeps/NAME`."), out);
  if (!chosen) return;
  const t = await api(`/api/sweeps/${esc(chosen)}`);
  const numeric = t.columns.filter((c, i) => t.rows.length && t.rows.every((r) => r[i] === "" || !isNaN(parseFloat(r[i]))));
  const xs = el("select", { id: "sweep-x" }, numeric.map((c, i) => el("option", { value: c, selected: i === 0 }, c)));
  const ys = el("select", { id: "sweep-y" }, numeric.map((c, i) => el("option", { value: c, selected: i === Math.min(1, numeric.length - 1) }, c)));
  const chart = el("div", { class: "chart", id: "pareto-chart" });
  const detail = el("div");
  out.append(el("div", { class: "row" }, "x:", xs, "y:", ys), chart, detail, sortableTable(t.columns, t.rows));
  const draw = () => {
    const xi = t.columns.indexOf(xs.value), yi = t.columns.indexOf(ys.value), pi = t.columns.indexOf("pareto");
    const isP = (r) => pi >= 0 && String(r[pi]).toLowerCase() === "true";
    Plotly.newPlot(chart, [false, true].map((p) => ({ x: t.rows.filter((r) => isP(r) === p).map((r) => +r[xi]), y: t.rows.filter((r) => isP(r) === p).map((r) => +r[yi]),
      mode: "markers", name: p ? "Pareto front" : "designs", marker: { size: p ? 11 : 7 }, customdata: t.rows.filter((r) => isP(r) === p).map((r) => t.rows.indexOf(r)) })),
      { xaxis: { title: { text: xs.value } }, yaxis: { title: { text: ys.value } }, margin: { t: 20 } }, { displaylogo: false, responsive: true });
    chart.on("plotly_click", (ev) => showPoint(t.rows[ev.points[0].customdata]));
  };
  // a point of the front opens as a design of the workspace (its intent is in the sweep's best/ folder)
  const best = await api(`/api/sweeps/${esc(chosen)}/best`);
  const pointCol = t.columns.indexOf("point");
  const showPoint = (row) => {
    const hit = best.find((b) => String(b.point) === String(row[pointCol]));
    put(detail, el("h2", {}, `Point ${row[pointCol]}`),
      hit ? el("button", { id: "open-point", onclick: async () => {
        try {
          const d = await api(`/api/sweeps/${esc(chosen)}/best/${esc(hit.file)}/design`, { method: "POST" });
          location.hash = `#/design/${esc(d.name)}/topology`;
        } catch (e) { detail.append(errorBox(e)); }
      } }, "Open this design") : el("p", { class: "muted" }, "Not among the sweep's best designs (best/): plan it from its axes."),
      el("table", {}, t.columns.map((c, i) => el("tr", {}, el("td", {}, c), el("td", {}, row[i])))));
  };
  window.__showPoint = (n) => showPoint(t.rows.find((r) => String(r[pointCol]) === String(n)));
  xs.addEventListener("change", draw); ys.addEventListener("change", draw);
  if (numeric.length) draw();
}

async function twinView() {
  put(view(), el("h1", {}, "Twin"), el("p", { class: "muted" }, "reading the twins on this machine..."));
  const twins = await api("/api/twin");
  put(view(), el("h1", {}, "Twin"), twins.length ? twins.map((t) => el("div", { class: "card" }, el("h2", {}, t.name),
    t.error ? el("div", { class: "bad" }, t.error) : null,
    t.check ? el("div", {}, el("b", { class: t.check.ok ? "ok" : "bad" }, t.check.ok ? "check: all expectations hold" : "check: failures"),
      el("pre", {}, JSON.stringify(t.check, null, 1).slice(0, 20000))) : null,
    t.status ? el("details", {}, el("summary", {}, "status"), el("pre", {}, JSON.stringify(t.status, null, 1).slice(0, 20000))) : null)) :
    el("p", { class: "muted" }, "No twin is running on this machine. Start one with `sudo tokenfab twin up PLAN` (needs root)."));
}

// ---- router --------------------------------------------------------------------------------------
async function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent);
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === (parts[0] || "designs")));
  try {
    if (!parts.length) await designsView();
    else if (parts[0] === "new") await newDesignView();
    else if (parts[0] === "design" && parts[1]) await designView(parts[1], parts[2] || "topology", params);
    else if (parts[0] === "compare") await compareView(params);
    else if (parts[0] === "sweeps") await sweepsView(params);
    else if (parts[0] === "twin") await twinView();
    else put(view(), el("p", {}, "No such page. ", el("a", { href: "#/" }, "Designs")));
  } catch (e) { put(view(), errorBox(e)); }
}
window.addEventListener("hashchange", route);
route();
refreshJobs();
