// Small DOM and formatting helpers shared by the views.

/** h("div", {class: "x", onclick: fn, dataset: {id: 1}}, child, "text", [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (value === true) el.setAttribute(key, "");
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export function statusBadge(status) {
  return h("span", { class: `badge badge-${status}`, dataset: { status } }, status);
}

export function progressBar(fraction, label) {
  const pct = Math.max(0, Math.min(1, Number(fraction) || 0)) * 100;
  return h(
    "div",
    { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": pct.toFixed(0) },
    h("div", { class: "progress-fill", style: { width: `${pct}%` } }),
    label ? h("span", { class: "progress-label" }, label) : null,
  );
}

/** 0.8567 → "85.67 %" */
export function pct(value, digits = 2) {
  return typeof value === "number" && Number.isFinite(value) ? `${(value * 100).toFixed(digits)} %` : "—";
}

export function num(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

export function duration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const hr = Math.floor(m / 60);
  return `${hr} h ${String(m % 60).padStart(2, "0")} min`;
}

/** API timestamps are UTC; one without an offset (SQLite) is read as UTC too. */
export function parseTime(text) {
  if (!text) return null;
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`;
  const date = new Date(withZone);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function timeAgo(text, now = Date.now()) {
  const date = parseTime(text);
  if (!date) return "—";
  const s = Math.max(0, (now - date.getTime()) / 1000);
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return date.toLocaleDateString();
}

export function localTime(text) {
  const date = parseTime(text);
  return date ? date.toLocaleString() : "—";
}

/** Seconds elapsed for a run: finished − started, or now − started while it runs. */
export function elapsed(run, now = Date.now()) {
  const start = parseTime(run.started_at);
  if (!start) return null;
  const end = parseTime(run.finished_at);
  return ((end ? end.getTime() : now) - start.getTime()) / 1000;
}

/** Remaining seconds from elapsed time and progress, or null when it cannot be told yet. */
export function eta(run, now = Date.now()) {
  if (run.status !== "running") return null;
  const spent = elapsed(run, now);
  const p = Number(run.progress) || 0;
  if (spent === null || p <= 0.005 || p >= 1) return null;
  return (spent * (1 - p)) / p;
}

export function toast(message, kind = "info", ms = 5000, action = null) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  if (action) {
    // e.g. "Archived 3 runs · Undo": the button acts once, then the toast goes
    const button = h("button", { type: "button", class: "toast-action link-button", dataset: { action: "toast-action" } }, action.label);
    button.addEventListener("click", () => {
      item.remove();
      action.onClick();
    });
    item.append(" · ", button);
  }
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Trigger a download of text content as a file. */
export function downloadText(filename, text, type = "text/csv") {
  downloadBlob(filename, new Blob([text], { type }));
}

/** Save a Blob as a file named `filename`, as a download link would. */
export function downloadBlob(filename, blob) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, style: { display: "none" } });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * One CSV cell. Text a spreadsheet would run as a formula (starting with = + - @, a tab or a CR: OWASP's CSV
 * injection rule) gets a leading single quote; numbers are never text, so -0.5 stays a number.
 */
export function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value !== "number" && typeof value !== "bigint" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Run every `ms` while the page is visible; returns stop(). The callback may be async; runs never overlap. */
export function whileVisible(fn, ms) {
  let stopped = false;
  let busy = false;
  const tick = async () => {
    if (stopped || busy || document.visibilityState !== "visible") return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, ms);
  const onVisible = () => {
    if (document.visibilityState === "visible") tick();
  };
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}

/**
 * Make `tbody` show one <tr> per item, in the items' order, reusing the rows kept in `rows` (a Map id -> tr):
 * a row is refilled only when its signature changes (or `force`), moved only when out of place, and removed when
 * its item is gone, so a refresh leaves unchanged rows (and their focus or hover) alone.
 * `each(tr, item)`, when given, runs for every row: for state that changes without the data (a checkbox).
 */
export function syncRows(tbody, rows, items, { id, dataset, signature, fill, each = null, force = false }) {
  const seen = new Set();
  let previous = null;
  items.forEach((item, i) => {
    const key = id(item);
    seen.add(key);
    let tr = rows.get(key);
    if (!tr) {
      tr = h("tr", { dataset: dataset(item) });
      rows.set(key, tr);
    }
    const sig = signature(item, i);
    if (force || tr.dataset.sig !== sig) {
      fill(tr, item, i);
      tr.dataset.sig = sig;
    }
    if (each) each(tr, item);
    const wanted = previous ? previous.nextSibling : tbody.firstChild;
    if (wanted !== tr) tbody.insertBefore(tr, wanted);
    previous = tr;
  });
  for (const [key, tr] of rows) {
    if (!seen.has(key)) {
      tr.remove();
      rows.delete(key);
    }
  }
}
