// The run page's log: the tail of what the run printed (its last TAIL lines, "Load earlier" for more), live from
// `log` events, with a search box that keeps only the matching lines. The log is untrusted text: it only ever
// becomes text nodes (never HTML), its ANSI colour codes are stripped, and it is shown in a monospace font.

import { errorText, getLogs } from "../../api.js";
import { debounce, h } from "../../dom.js";

export const TAIL = 1000;
const MAX_HELD = 5000; // lines kept while following a long run: the oldest go (and "Load earlier" brings them back)
const NEAR_BOTTOM_PX = 24;
// CSI sequences (colours, cursor moves), OSC sequences (titles, links) and the other two-character escapes
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** `text` without its ANSI escape sequences (terminal colours, cursor moves). */
export function stripAnsi(text) {
  return String(text).replace(ANSI, "");
}

/** `text` cut around the case-insensitive matches of `query`: [{text, match}], or null when it has none. */
export function matchParts(text, query) {
  if (!query) return [{ text, match: false }];
  const lower = text.toLowerCase();
  const needle = query.toLowerCase();
  if (lower.length !== text.length) return lower.includes(needle) ? [{ text, match: true }] : null; // rare: case mapping changed lengths
  const parts = [];
  let at = 0;
  for (let found = lower.indexOf(needle); found !== -1; found = lower.indexOf(needle, at)) {
    if (found > at) parts.push({ text: text.slice(at, found), match: false });
    parts.push({ text: text.slice(found, found + needle.length), match: true });
    at = found + needle.length;
  }
  if (!parts.length) return null;
  if (at < text.length) parts.push({ text: text.slice(at), match: false });
  return parts;
}

/** What the card's count says: how many lines, which ones are shown, how many match. */
export function countText({ first, held, total, matches, query }) {
  const lines = `${total.toLocaleString("en-US")} line${total === 1 ? "" : "s"}`;
  const shown = first > 0 ? ` · showing the last ${held.toLocaleString("en-US")}` : "";
  return query ? `${matches.toLocaleString("en-US")} matching · ${lines}${shown}` : `${lines}${shown}`;
}

export class RunLog {
  /** page: {runId, destroyed}, kept current by the page shell. */
  constructor(page) {
    this.page = page;
    this.first = 0; // the number of the first line held
    this.lines = []; // held lines, escape codes stripped
    this.total = 0;
    this.loaded = false;
    this.early = []; // live events that came before the first read
    this.query = "";
    this.follow = true; // keep the newest line in view, until the user scrolls up
    this.catching = null;
    this.search = h("input", { type: "search", class: "log-search", placeholder: "Search the log", "aria-label": "Search the log", oninput: debounce(() => this.#setQuery(this.search.value), 120) });
    this.count = h("span", { class: "muted log-count", dataset: { testid: "log-count" } });
    this.earlier = h("button", { type: "button", class: "small", hidden: true, onclick: () => this.#loadEarlier() }, "Load earlier");
    this.notice = h("p", { class: "banner banner-warn log-notice", hidden: true, role: "status" });
    this.body = h("div", { class: "log-lines", dataset: { testid: "log-lines" }, tabindex: "0", onscroll: () => this.#onScroll() });
    this.el = h(
      "section",
      { class: "card log-card", dataset: { testid: "log" } },
      h("header", { class: "card-head" }, h("h3", {}, "Log"), h("div", { class: "tools" }, this.count, this.search)),
      this.notice,
      this.earlier,
      this.body,
    );
  }

  /** The first read: the last TAIL lines. */
  async load() {
    try {
      const page = await getLogs(this.page.runId, { offset: -TAIL, limit: TAIL });
      if (this.page.destroyed) return;
      this.first = page.offset;
      this.lines = page.lines.map(stripAnsi);
      this.#setTotals(page);
    } catch (error) {
      this.body.replaceChildren(h("p", { class: "muted" }, `Could not read the log: ${errorText(error)}`));
      return;
    }
    this.loaded = true;
    this.#render();
    for (const data of this.early.splice(0)) this.append(data);
  }

  /** A `log` event: its lines past those held (a replay is harmless); a gap is read from the API. */
  append(data) {
    if (!this.loaded) {
      this.early.push(data);
      return;
    }
    if (Number.isFinite(data.refused)) this.#showRefused(data.refused);
    const lines = Array.isArray(data.lines) ? data.lines : [];
    const next = this.first + this.lines.length;
    if (data.first_line > next) {
      this.catchUp();
      return;
    }
    const fresh = lines.slice(next - data.first_line).map(stripAnsi);
    if (!fresh.length) return;
    this.#add(fresh);
    this.total = Math.max(this.total, this.first + this.lines.length);
    this.#updateCount();
  }

  /** Read every line after those held (the stream ended, or skipped some). One read at a time. */
  catchUp() {
    if (!this.loaded || this.page.destroyed) return Promise.resolve();
    if (!this.catching) {
      this.catching = this.#readOn().finally(() => {
        this.catching = null;
      });
    }
    return this.catching;
  }

  async #readOn() {
    for (;;) {
      let page;
      try {
        page = await getLogs(this.page.runId, { offset: this.first + this.lines.length, limit: TAIL });
      } catch {
        return; // the next event or the next catch-up brings them
      }
      if (this.page.destroyed) return;
      this.#setTotals(page);
      if (!page.lines.length) return;
      if (page.offset === this.first + this.lines.length) this.#add(page.lines.map(stripAnsi));
      this.#updateCount();
      if (page.next_offset >= page.total) return;
    }
  }

  async #loadEarlier() {
    const count = Math.min(TAIL, this.first);
    if (!count) return;
    let page;
    try {
      page = await getLogs(this.page.runId, { offset: this.first - count, limit: count });
    } catch (error) {
      this.notice.hidden = false;
      this.notice.textContent = `Could not read earlier lines: ${errorText(error)}`;
      return;
    }
    if (this.page.destroyed || page.offset !== this.first - count) return;
    const height = this.body.scrollHeight;
    this.first = page.offset;
    this.lines = [...page.lines.map(stripAnsi), ...this.lines];
    this.#render();
    this.body.scrollTop += this.body.scrollHeight - height; // the line that was on top stays in view
  }

  #add(fresh) {
    this.lines.push(...fresh);
    const placeholder = this.body.querySelector(".log-empty");
    if (placeholder) placeholder.remove();
    this.body.append(...this.#rows(fresh, this.first + this.lines.length - fresh.length));
    if (this.follow && this.lines.length > MAX_HELD) {
      const drop = this.lines.length - MAX_HELD;
      this.lines.splice(0, drop);
      this.first += drop;
      this.#render();
      return;
    }
    this.#scrollIfFollowing();
  }

  #setTotals(page) {
    this.total = Math.max(this.total, page.total);
    if (page.refused) this.#showRefused(page.refused);
    this.#updateCount();
  }

  #showRefused(refused) {
    this.notice.hidden = false;
    this.notice.textContent = `This run's log reached its limit (100,000 lines or 32 MiB): ${refused.toLocaleString("en-US")} later line${refused === 1 ? " was" : "s were"} not stored.`;
  }

  #setQuery(query) {
    this.query = query.trim();
    this.#render();
  }

  #render() {
    const rows = this.#rows(this.lines, this.first);
    this.body.replaceChildren(...(rows.length ? rows : [h("div", { class: "log-empty muted" }, this.query ? "No line matches." : "Nothing printed yet.")]));
    this.earlier.hidden = this.first === 0;
    this.#updateCount();
    this.#scrollIfFollowing();
  }

  /** One element per line that matches the search (every line without one), its matches in <mark>. */
  #rows(lines, firstNumber) {
    const rows = [];
    lines.forEach((text, i) => {
      const parts = matchParts(text, this.query);
      if (!parts) return;
      const children = parts.map((p) => (p.match ? h("mark", {}, p.text) : p.text));
      rows.push(h("div", { class: "log-line", dataset: { line: String(firstNumber + i) } }, text ? children : "\u00a0"));
    });
    return rows;
  }

  #updateCount() {
    const matches = this.query ? this.body.querySelectorAll(".log-line").length : 0;
    this.count.textContent = countText({ first: this.first, held: this.lines.length, total: Math.max(this.total, this.first + this.lines.length), matches, query: this.query });
  }

  #onScroll() {
    const { scrollHeight, scrollTop, clientHeight } = this.body;
    this.follow = scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
  }

  #scrollIfFollowing() {
    if (this.follow) this.body.scrollTop = this.body.scrollHeight;
  }
}
