// Liveview (auto-refreshing, filterable) and the per-minute chart of the status page.
// Everything from the server is inserted with textContent: payload values never become markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const main = document.getElementById("status");
const form = document.getElementById("liveview-filters");
const rowsBody = document.getElementById("liveview-rows");

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function shortTime(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace(/(Z|\+00:00)$/, "") : "";
}

function filterParams() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v && k !== "window") params.set(k, v);
  return params;
}

// Labels of an event's detail fields; a field the server adds later shows under its own name.
const DETAIL_LABELS = {
  id: "Event id", segment_message_id: "Segment messageId", customer_event_alias: "Alias", revenue: "Revenue",
  currency: "Currency", attributed: "Attributed", campaign: "Campaign", channel: "Channel",
  user_agent: "User agent", custom_data: "Custom data",
};
const expanded = new Set();  // keys of the rows whose details are open, kept across refreshes

function rowKey(row) {
  return row.detail.id || row.payload_url || [row.outcome, row.processed_at, row.name].join(" ");
}

// One line of the table: the stylesheet cuts it with an ellipsis, the title holds it whole.
function cell(text, className) {
  const td = el("td", text, className);
  if (text) td.title = text;
  return td;
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function field(dl, label, value) {
  if (value === undefined || value === null || value === "") return;
  const dd = el("dd");
  if (value instanceof Node) dd.append(value);
  else dd.textContent = String(value);
  dl.append(el("dt", label), dd);
}

function details(row) {
  const dl = el("dl", null, "details");
  field(dl, "Name", row.name);
  field(dl, "Event time", row.timestamp && shortTime(row.timestamp) + " UTC");
  field(dl, "Processed", shortTime(row.processed_at) + " UTC");
  field(dl, "Identifiers", row.identifiers.join(", "));
  field(dl, "Warnings", row.warnings.join(", "));
  if (row.reason) {
    const link = el("a", row.reason + " (raw payload)");
    link.href = row.payload_url;
    field(dl, "Reason", link);
  }
  for (const [key, value] of Object.entries(row.detail || {})) {
    const shown = key === "custom_data" ? el("pre", prettyJson(value))
      : typeof value === "boolean" ? (value ? "yes" : "no") : value;
    field(dl, DETAIL_LABELS[key] || key, shown);
  }
  return dl;
}

// An event's row and, below it, its details row: shown when the row is clicked or its toggle
// button pressed (Enter or Space), hidden again the same way.
function liveviewRows(row, index) {
  const key = rowKey(row), open = expanded.has(key), detailsId = "liveview-details-" + index;
  const tr = el("tr", null, "event outcome-" + row.outcome);
  tr.dataset.key = key;
  tr.dataset.outcome = row.outcome;
  tr.dataset.platform = row.platform || "";
  tr.dataset.category = row.category || "";
  const toggle = el("button", null, "toggle");
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", String(open));
  toggle.setAttribute("aria-controls", detailsId);
  toggle.setAttribute("aria-label", "Details");
  const toggleCell = el("td", null, "toggle-cell");
  toggleCell.append(toggle);
  const last = cell(row.warnings.join(", "));
  if (row.reason) {
    const link = el("a", row.reason);
    link.href = row.payload_url;
    if (last.textContent) last.append("; ");
    last.append(link);
    last.title = last.textContent;
  }
  tr.append(toggleCell, cell(shortTime(row.timestamp || row.processed_at)), cell(row.outcome),
            cell(row.name, "name"), cell(row.category), cell(row.platform), cell(row.origin),
            cell(row.identifiers.join(", ")), last);
  const detailsRow = el("tr", null, "event-details");
  detailsRow.id = detailsId;
  detailsRow.dataset.key = key;
  detailsRow.hidden = !open;
  const td = el("td");
  td.colSpan = 9;
  td.append(details(row));
  detailsRow.append(td);
  return [tr, detailsRow];
}

function setExpanded(tr, open) {
  const toggle = tr.querySelector("button.toggle");
  toggle.setAttribute("aria-expanded", String(open));
  document.getElementById(toggle.getAttribute("aria-controls")).hidden = !open;
  if (open) expanded.add(tr.dataset.key);
  else expanded.delete(tr.dataset.key);
}

rowsBody.addEventListener("click", event => {
  const tr = event.target.closest("tr.event");
  // A link keeps its own click; selecting a cell's text is not a click on the row.
  if (!tr || event.target.closest("a")) return;
  if (!event.target.closest("button") && String(window.getSelection())) return;
  setExpanded(tr, tr.querySelector("button.toggle").getAttribute("aria-expanded") !== "true");
});

// What has the focus in Liveview (row key, row kind, element), to give it back after a refresh.
function focusInRows() {
  const active = document.activeElement, tr = active && rowsBody.contains(active) && active.closest("tr[data-key]");
  return tr ? { key: tr.dataset.key, kind: tr.classList[0], tag: active.tagName.toLowerCase() } : null;
}

async function refreshLiveview() {
  const response = await fetch("/v1/status/liveview?" + filterParams(), { credentials: "same-origin" });
  const updated = document.getElementById("liveview-updated");
  if (!response.ok) {
    updated.textContent = "refresh failed (" + response.status + ")";
    return;
  }
  const data = await response.json();
  const keys = new Set(data.rows.map(rowKey));
  for (const key of expanded) if (!keys.has(key)) expanded.delete(key);
  const focus = focusInRows();
  const rows = data.rows.flatMap(liveviewRows);
  rowsBody.replaceChildren(...(rows.length ? rows : [emptyRow()]));
  if (focus) {
    const selector = `tr.${focus.kind}[data-key="${CSS.escape(focus.key)}"] ${focus.tag}`;
    rowsBody.querySelector(selector)?.focus({ preventScroll: true });
  }
  updated.textContent = data.rows.length + " rows, updated " + shortTime(data.generated_at) + " UTC";
  main.dataset.liveviewLoaded = String(Date.now());
}

function emptyRow() {
  const tr = el("tr");
  const td = el("td", "No events match.", "muted");
  td.colSpan = 9;
  tr.append(td);
  return tr;
}

async function refreshChart() {
  const response = await fetch("/v1/status/chart?hours=3", { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  const start = Date.parse(data.start), minutes = Math.round((Date.parse(data.end) - start) / 60000);
  const stacks = new Map();  // minute index -> [[category, count]...]
  for (const p of data.points) {
    const i = Math.round((Date.parse(p.minute) - start) / 60000);
    if (!stacks.has(i)) stacks.set(i, []);
    stacks.get(i).push([p.category, p.count]);
  }
  const peak = Math.max(1, ...[...stacks.values()].map(s => s.reduce((n, [, c]) => n + c, 0)));
  const W = 720, H = 180, left = 28, bottom = 16, barW = (W - left) / minutes;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  chart.append(svg("line", { x1: left, y1: H - bottom, x2: W, y2: H - bottom, class: "axis" }));
  const top = svg("text", { x: 0, y: 10 });
  top.textContent = String(peak);
  chart.append(top);
  for (let h = 0; h <= minutes; h += 60) {
    const label = svg("text", { x: left + h * barW, y: H - 2 });
    label.textContent = shortTime(new Date(start + h * 60000).toISOString()).slice(11, 16);
    chart.append(label);
  }
  for (const [i, stack] of stacks) {
    let y = H - bottom;
    for (const [category, count] of stack) {
      const height = (count / peak) * (H - bottom - 14);
      y -= height;
      const bar = svg("rect", { x: left + i * barW, y, width: Math.max(barW - 0.5, 0.5), height,
                                class: "bar cat-" + category });
      const tip = svg("title", {});
      tip.textContent = `${category}: ${count}`;
      bar.append(tip);
      chart.append(bar);
    }
  }
  document.getElementById("chart").replaceChildren(chart);
  document.getElementById("chart-legend").replaceChildren(...data.categories.map(c => {
    const item = el("li", c);
    item.prepend(el("span", null, "swatch cat-" + c));
    return item;
  }));
}

async function refreshCampaigns() {
  const response = await fetch("/v1/status/campaigns?hours=24", { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  const totals = new Map();  // "campaign / channel" -> conversions (all currencies)
  for (const row of data.rows) {
    const label = (row.campaign || "(none)") + " / " + (row.channel || "-");
    totals.set(label, (totals.get(label) || 0) + row.conversions);
  }
  const entries = [...totals.entries()].slice(0, 10);
  const peak = Math.max(1, ...entries.map(([, n]) => n));
  const W = 720, rowH = 18, labelW = 260;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${Math.max(rowH, entries.length * rowH)}` });
  entries.forEach(([label, count], i) => {
    const text = svg("text", { x: 0, y: i * rowH + 13 });
    text.textContent = label;
    const bar = svg("rect", { x: labelW, y: i * rowH + 3, height: rowH - 6,
                              width: Math.max(1, (count / peak) * (W - labelW - 40)), class: "bar campaign-bar" });
    const value = svg("text", { x: labelW + (count / peak) * (W - labelW - 40) + 4, y: i * rowH + 13 });
    value.textContent = String(count);
    chart.append(text, bar, value);
  });
  document.getElementById("campaign-chart").replaceChildren(chart);
  main.dataset.campaignsLoaded = String(entries.length);
}

form.addEventListener("submit", event => {
  event.preventDefault();
  const params = filterParams();
  params.set("window", form.elements.window.value);
  history.replaceState(null, "", "/status?" + params);
  refreshLiveview();
});
for (const select of form.querySelectorAll("select")) {
  select.addEventListener("change", () => form.requestSubmit());
}

const seconds = Number(main.dataset.refreshSeconds) || 10;
setInterval(() => {
  if (document.getElementById("auto-refresh").checked) refreshLiveview();
}, seconds * 1000);
setInterval(refreshChart, 60000);
refreshLiveview();
refreshChart();
refreshCampaigns();
