// Rendering one alert's delivery summary (GET /api/v1/alerts/{id}/delivery)
// and targeting (GET /api/v1/alerts/{id}/targeting). Pure: data in, nodes out.

import {formatKm2, formatMs, formatTime, h, stateBadge} from "./dom.js";

const CHANNEL_NAMES = {cbs: "Cell broadcast", sms: "SMS", lbsms: "Location SMS (operator)"};
const BATCHED = new Set(["sms"]); // SMS to subscribers goes in batches; the others are broadcasts
const REACHED = new Set(["submitted", "acknowledged", "delivered"]);

function channelName(channel) {
  return CHANNEL_NAMES[channel] || channel;
}

function percent(part, whole) {
  return whole > 0 ? Math.min(100, (100 * part) / whole) : 0;
}

// A stacked bar: segments of [className, value] out of `total`.
export function progress(segments, total, label) {
  const bar = h("div", {className: "progress", role: "img", "aria-label": label});
  for (const [className, value] of segments) {
    const part = h("span", {className});
    part.style.width = `${percent(value, total)}%`;
    bar.append(part);
  }
  return bar;
}

function meter(title, figure, bar) {
  return h("div", {className: "meter"},
    h("div", {className: "label"}, h("span", {}, title), h("span", {className: "figure"}, figure)),
    bar);
}

function legend(...items) {
  return h("div", {className: "legend"},
    items.map(([className, text]) => h("span", {}, h("i", {className}), text)));
}

// A cell counts once, whatever the number of broadcasts (one per language) on it.
export function cellsCard(summary) {
  const {targeted = 0, acknowledged = 0, failed = 0} = summary.cells || {};
  const whole = Math.max(targeted, acknowledged + failed);
  return h("div", {className: "card", id: "cells-card"},
    h("h2", {}, "Cell broadcast"),
    meter("Cells acknowledged", h("span", {dataset: {cells: "acknowledged"}}, `${acknowledged} / ${whole}`),
      progress([["ok", acknowledged], ["bad", failed]], whole, "cells acknowledged")),
    legend(["ok", `acknowledged ${acknowledged}`], ["bad", `failed ${failed}`]),
    h("p", {className: "muted"}, h("span", {dataset: {cells: "targeted"}}, targeted),
      " cells targeted; a cell counts as acknowledged once the warning is on air there"));
}

export function smsCard(sms) {
  const s = {total: 0, submitted: 0, delivered: 0, failed: 0, pending: 0, cancelled: 0, unknown: 0,
    ...(sms || {})};
  const figures = ["total", "delivered", "submitted", "pending", "failed", "cancelled", "unknown"];
  return h("div", {className: "card", id: "sms-card"},
    h("h2", {}, "SMS"),
    meter("Delivered", `${s.delivered} / ${s.total}`,
      progress([["ok", s.delivered], ["sent", s.submitted], ["bad", s.failed]], s.total,
        "SMS delivered")),
    legend(["ok", "delivered"], ["sent", "submitted, awaiting report"], ["bad", "failed"]),
    h("table", {className: "figures"}, h("tbody", {},
      figures.map((name) => h("tr", {},
        h("th", {}, name), h("td", {className: "num", dataset: {sms: name}}, s[name]))))));
}

export function latencyCard(latency) {
  const l = latency || {};
  const row = (title, p) => h("tr", {},
    h("th", {}, title),
    h("td", {className: "num"}, formatMs(p && p.p50)),
    h("td", {className: "num"}, formatMs(p && p.p95)));
  return h("div", {className: "card", id: "latency-card"},
    h("h2", {}, "Latency"),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {className: "num"}, "p50"),
        h("th", {className: "num"}, "p95"))),
      h("tbody", {},
        row("accept → submit", l.accept_to_submit),
        row("submit → delivered (SMS)", l.submit_to_delivered))));
}

// One row per operator and channel, from the dispatches and the summary's per-operator figures.
export function operatorRows(summary) {
  const groups = new Map();
  for (const d of summary.dispatches || []) {
    if (d.action === "kill") continue;
    const key = `${d.operator}\u0000${d.channel}`;
    if (!groups.has(key)) groups.set(key, {operator: d.operator, channel: d.channel, items: []});
    groups.get(key).items.push(d);
  }
  const figures = new Map((summary.operators || []).map((o) => [o.operator, o]));
  return [...groups.values()]
    .map((group) => ({...group, figures: figures.get(group.operator)}))
    .sort((a, b) => `${a.operator} ${a.channel}`.localeCompare(`${b.operator} ${b.channel}`));
}

// What reached people on this operator and channel: cells on air, or SMS delivered.
function reach(row) {
  if (!row.figures) return "—";
  if (BATCHED.has(row.channel)) {
    const {delivered = 0, total = 0} = row.figures.sms || {};
    return `${delivered} / ${total} SMS delivered`;
  }
  if (row.channel !== "cbs") return "";
  const {acknowledged = 0, targeted = 0} = row.figures.cells || {};
  return `${acknowledged} / ${targeted} cells`;
}

function stateCounts(items) {
  const counts = new Map();
  for (const d of items) counts.set(d.state, (counts.get(d.state) || 0) + 1);
  return [...counts.entries()].map(([state, n]) => h("span", {className: "count"},
    stateBadge(state), ` ${n} `));
}

export function operatorsCard(summary) {
  const rows = operatorRows(summary);
  const body = rows.map((row) => {
    const reached = row.items.filter((d) => REACHED.has(d.state)).length;
    const failed = row.items.filter((d) => d.state === "failed").length;
    const live = row.items.filter((d) => d.live).length;
    const unit = BATCHED.has(row.channel) ? "batches" : "broadcasts";
    return h("tr", {dataset: {operator: row.operator, channel: row.channel}},
      h("td", {}, row.operator),
      h("td", {}, channelName(row.channel)),
      h("td", {className: "num", dataset: {reach: row.channel}}, reach(row)),
      h("td", {className: "progress-cell"},
        h("div", {className: "figure"}, `${reached} / ${row.items.length} ${unit} sent`),
        progress([["ok", reached], ["bad", failed]], row.items.length, `${unit} sent`)),
      h("td", {}, stateCounts(row.items)),
      h("td", {className: "num"}, BATCHED.has(row.channel) ? "" : live));
  });
  return h("div", {className: "card", id: "operators-card"},
    h("h2", {}, "Per operator and channel"),
    rows.length === 0
      ? h("p", {className: "muted"}, "Nothing planned yet.")
      : h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Operator"), h("th", {}, "Channel"),
          h("th", {className: "num"}, "Reached"), h("th", {}, "Progress"),
          h("th", {}, "States"), h("th", {className: "num"}, "Live"))),
        h("tbody", {}, body)));
}

export function failuresCard(summary) {
  const failed = (summary.dispatches || []).filter((d) => d.state === "failed" || d.error);
  const cells = (summary.cells && summary.cells.failed) || 0;
  const sms = (summary.sms && summary.sms.failed) || 0;
  return h("div", {className: "card", id: "failures-card"},
    h("h2", {}, "Failures"),
    h("p", {className: cells || sms ? "failure" : "muted"},
      `${cells} cells failed, ${sms} SMS failed or expired`),
    failed.length === 0
      ? h("p", {className: "muted"}, "No dispatch errors.")
      : h("table", {}, h("tbody", {}, failed.map((d) => h("tr", {},
        h("td", {}, d.operator), h("td", {}, channelName(d.channel)), h("td", {}, stateBadge(d.state)),
        h("td", {className: "num"}, `${d.attempts} attempts`),
        h("td", {className: "failure"}, d.error || "—"))))));
}

export function dispatchesCard(summary) {
  const items = summary.dispatches || [];
  const head = ["Operator", "Channel", "Action", "Language", "Batch", "State", "Attempts",
    "Endpoint", "Submitted", "Finished"];
  return h("div", {className: "card", id: "dispatches-card"},
    h("h2", {}, `Dispatches (${items.length})`),
    h("table", {},
      h("thead", {}, h("tr", {}, head.map((name) => h("th", {}, name)))),
      h("tbody", {}, items.map((d) => h("tr", {dataset: {dispatch: d.id}},
        h("td", {}, d.operator), h("td", {}, channelName(d.channel)), h("td", {}, d.action),
        h("td", {}, d.language || ""), h("td", {className: "num"}, d.batch ?? ""),
        h("td", {}, stateBadge(d.state), d.live ? " live" : ""),
        h("td", {className: "num"}, d.attempts), h("td", {}, d.endpoint || ""),
        h("td", {}, formatTime(d.submitted_at)), h("td", {}, formatTime(d.finished_at)))))));
}

export function targetingCard(targeting, map) {
  const operators = (targeting && targeting.operators) || [];
  const row = (t) => {
    const m = t.metrics || {};
    return h("tr", {dataset: {operator: t.operator_id}},
      h("td", {}, t.operator_id), h("td", {}, t.policy), h("td", {className: "num"}, t.cell_count),
      h("td", {className: "num"}, formatKm2(m.target_km2)),
      h("td", {className: "num"}, formatKm2(m.covered_km2)),
      h("td", {className: "num"}, formatKm2(m.under_alert_km2)),
      h("td", {className: "num"}, formatKm2(m.overshoot_km2)),
      h("td", {className: "failure"}, (t.problems || []).join("; ")));
  };
  return h("div", {className: "card", id: "targeting-card"},
    h("h2", {}, "Targeting", targeting && targeting.state === "pending" ? " (pending)" : ""),
    operators.length === 0
      ? h("p", {className: "muted"}, "Not resolved yet.")
      : h("table", {},
        h("thead", {}, h("tr", {}, ["Operator", "Policy", "Cells", "Target", "Covered",
          "Under-alert", "Overshoot", "Problems"].map((name) => h("th", {}, name)))),
        h("tbody", {}, operators.map(row))),
    map || null);
}
