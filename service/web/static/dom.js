// Building DOM nodes without HTML strings: every value becomes text, never markup.
// CAP text comes from outside; nothing here parses it as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// h("td", {className: "num", title: "x", onclick: fn}, "text", otherNode)
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  return append(node, children);
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return append(node, children);
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function replace(node, ...children) {
  return append(clear(node), children);
}

export function formatTime(value) {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function formatMs(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

export function formatKm2(value) {
  return typeof value === "number" ? `${value.toLocaleString(undefined, {maximumFractionDigits: 2})} km²` : "—";
}

// Status other than Actual never reaches the public: say so loudly.
export function statusBadge(status) {
  const value = String(status || "?");
  const label = value === "Actual" ? "Actual" : value.toUpperCase();
  return h("span", {className: `badge status-${value.toLowerCase()}`, title: `CAP status ${value}`}, label);
}

export function stateBadge(state) {
  const value = String(state || "?");
  return h("span", {className: `badge state-${value.replace(/[^a-z-]/g, "")}`}, value);
}

// At most one run of `fn` per `ms`, and always one after the last call.
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
}
