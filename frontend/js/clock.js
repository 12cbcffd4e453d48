// Relative times that stay true while a page stays open: each "5 min ago" is a <time data-time=ISO> element, and
// one shared ticker rewrites them all every few seconds. It runs only while such an element is in the page: it
// stops at the first tick that finds none, and at once when a view is swapped for one without any.

import { h, localTime, timeAgo } from "./dom.js";

export const TICK_MS = 5000;
let timer = null;

/** "5 min ago" for an API timestamp, kept true by the ticker; the local date and time as its tooltip. */
export function ago(iso, attrs = {}) {
  const el = h("time", { ...attrs, datetime: iso || undefined, title: iso ? localTime(iso) : undefined, dataset: { time: iso || "" } }, timeAgo(iso));
  if (timer === null) timer = setInterval(tick, TICK_MS);
  return el;
}

/** A fact's date: "12/05/2025, 14:02:11 · 5 min ago" (the second part kept true), or "—" without one. */
export function when(iso) {
  return iso ? h("span", {}, localTime(iso), h("span", { class: "muted" }, " · ", ago(iso))) : "—";
}

/** Rewrite every relative time under `root` for `now`; how many there are. */
export function refreshTimes(root = document, now = Date.now()) {
  const els = root.querySelectorAll("time[data-time]");
  for (const el of els) {
    const text = timeAgo(el.dataset.time, now);
    if (el.textContent !== text) el.textContent = text;
  }
  return els.length;
}

/** Whether the ticker runs (for the tests: it must not outlive the times it keeps). */
export function ticking() {
  return timer !== null;
}

function tick() {
  if (document.visibilityState === "hidden") return; // rewritten on the first tick after the tab shows again
  if (refreshTimes() === 0) stop();
}

function stop() {
  clearInterval(timer);
  timer = null;
}

// the router empties the page, then says which view comes: nothing left to keep true means no ticker
document.addEventListener("trainboard:route", () => {
  if (timer !== null && !document.querySelector("time[data-time]")) stop();
});
