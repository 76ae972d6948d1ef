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

function liveviewRow(row) {
  const tr = el("tr", null, "outcome-" + row.outcome);
  tr.dataset.outcome = row.outcome;
  tr.dataset.platform = row.platform || "";
  tr.dataset.category = row.category || "";
  tr.append(el("td", shortTime(row.timestamp || row.processed_at)), el("td", row.outcome),
            el("td", row.name, "name"), el("td", row.category), el("td", row.platform),
            el("td", row.origin), el("td", row.identifiers.join(", ")),
            el("td", Object.entries(row.detail || {}).map(([k, v]) => k + ": " + v).join(", "), "detail"));
  const last = el("td", row.warnings.join(", "));
  if (row.reason) {
    const link = el("a", row.reason);
    link.href = row.payload_url;
    last.append(link);
  }
  tr.append(last);
  return tr;
}

async function refreshLiveview() {
  const response = await fetch("/v1/status/liveview?" + filterParams(), { credentials: "same-origin" });
  const updated = document.getElementById("liveview-updated");
  if (!response.ok) {
    updated.textContent = "refresh failed (" + response.status + ")";
    return;
  }
  const data = await response.json();
  const rows = data.rows.map(liveviewRow);
  rowsBody.replaceChildren(...(rows.length ? rows : [emptyRow()]));
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
