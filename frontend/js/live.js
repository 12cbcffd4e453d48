// Live data of one run: the series store (no gaps, no duplicates) and the resumable Server-Sent Events stream.

import { eventsUrl } from "./api.js";

/** Series by metric key. New points are kept only past the last step already held, so replays are harmless. */
export class SeriesStore {
  constructor() {
    this.series = new Map();
  }

  get(key) {
    return this.series.get(key);
  }

  has(key) {
    const s = this.series.get(key);
    return Boolean(s && s.step.length);
  }

  /** Replace a key's series (initial load, or a fresh downsampled read). Points newer than it survive. */
  replace(key, fresh) {
    const old = this.series.get(key);
    const step = [...fresh.step];
    const value = [...fresh.value];
    if (old) {
      const last = step.length ? step[step.length - 1] : -Infinity;
      for (let i = 0; i < old.step.length; i++) {
        if (old.step[i] > last) {
          step.push(old.step[i]);
          value.push(old.value[i]);
        }
      }
    }
    this.series.set(key, { step, value });
  }

  /** Append points; returns the ones accepted ({step, value}), i.e. those past the last step held. */
  append(key, steps, values) {
    let s = this.series.get(key);
    if (!s) {
      s = { step: [], value: [] };
      this.series.set(key, s);
    }
    const order = steps.map((_, i) => i).sort((a, b) => steps[a] - steps[b]);
    const accepted = { step: [], value: [] };
    let last = s.step.length ? s.step[s.step.length - 1] : -Infinity;
    for (const i of order) {
      if (!(steps[i] > last)) continue;
      last = steps[i];
      s.step.push(steps[i]);
      s.value.push(values[i]);
      accepted.step.push(steps[i]);
      accepted.value.push(values[i]);
    }
    return accepted;
  }
}

/**
 * The run's event stream. Every reconnect (dropped connection, server-side lifetime, a refused request) is done
 * here with ?after=<last event id>, so the query never disagrees with Last-Event-ID; events already seen are
 * skipped by their seq.
 */
export class LiveStream {
  constructor(runId, { after = 0, onStatus, onMetrics, onInterrupted, onWarning, onLog, onEdited, onEnd, onState } = {}) {
    this.runId = runId;
    this.lastId = after;
    this.handlers = { onStatus, onMetrics, onInterrupted, onWarning, onLog, onEdited, onEnd, onState };
    this.source = null;
    this.closed = false;
    this.failures = 0;
    this.timer = null;
    this.suspended = false;
    this.state = "connecting";
  }

  start() {
    this.open();
    return this;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    if (this.handlers.onState) this.handlers.onState(state);
  }

  open() {
    if (this.closed) return;
    const source = new EventSource(eventsUrl(this.runId, this.lastId));
    this.source = source;
    source.onopen = () => {
      this.setState("live");
    };
    source.addEventListener("status", (e) => this.dispatch(e, this.handlers.onStatus));
    source.addEventListener("metrics", (e) => this.dispatch(e, this.handlers.onMetrics));
    // the run's worker stopped responding and the run went back to the queue, to resume on another worker
    source.addEventListener("interrupted", (e) => this.dispatch(e, this.handlers.onInterrupted));
    // something the user should know but that does not stop the run, e.g. a checkpoint too large to store
    source.addEventListener("warning", (e) => this.dispatch(e, this.handlers.onWarning));
    // new lines of the run's log: {first_line, lines}
    source.addEventListener("log", (e) => this.dispatch(e, this.handlers.onLog));
    source.addEventListener("edited", (e) => this.dispatch(e, this.handlers.onEdited)); // renamed, retagged, notes
    source.addEventListener("end", () => {
      this.close("ended");
      if (this.handlers.onEnd) this.handlers.onEnd();
    });
    source.onerror = () => {
      if (this.closed || this.suspended || source !== this.source) return;
      source.close();
      this.source = null;
      this.failures += 1;
      this.setState("reconnecting");
      // every second for the first few tries (a restarting API is back within seconds), then backing off to 5 s:
      // a page open through a longer outage catches up at most 5 s after the API is back
      const delay = this.failures <= 5 ? 1000 : Math.min(5000, 1000 * 2 ** (this.failures - 5));
      this.timer = setTimeout(() => this.open(), delay);
    };
  }

  dispatch(event, handler) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    const seq = Number(data.seq ?? event.lastEventId);
    if (Number.isFinite(seq)) {
      if (seq <= this.lastId) return; // already seen before a reconnect
      this.lastId = seq;
    }
    this.failures = 0;
    this.setState("live");
    if (handler) handler(data);
  }

  /** Let go of the connection (a hidden tab): browsers allow only ~6 per server, and each open run page holds one. */
  suspend() {
    if (this.closed || this.suspended) return;
    this.suspended = true;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
    this.setState("paused");
  }

  /** Reconnect after suspend(), getting exactly what was missed meanwhile. */
  resume() {
    if (this.closed || !this.suspended) return;
    this.suspended = false;
    this.failures = 0;
    this.setState("connecting");
    this.open();
  }

  close(state = "closed") {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
    this.setState(state);
  }
}

/** The series of a `metrics` event: every key but seq. */
export function metricsOf(data) {
  const out = {};
  for (const [key, value] of Object.entries(data)) {
    if (key !== "seq" && value && Array.isArray(value.step)) out[key] = value;
  }
  return out;
}
