// Workers view (#/workers): every worker the API heard from in the last day, online first, with the run each is
// executing, and each queue's length; refreshed every 3 s while visible.

import { errorText, get } from "../../api.js";
import { h, localTime, syncRows, timeAgo, whileVisible } from "../../dom.js";
import { devicesText, getWorkers, queuesText, summaryText } from "../../workers.js";

const POLL_MS = 3000;
const QUEUE_LABELS = { any: "any (device auto)", cpu: "cpu", cuda: "cuda (GPU)" };

function headRow(labels, numeric = []) {
  return h("thead", {}, h("tr", {}, labels.map((label) => h("th", { scope: "col", class: numeric.includes(label) ? "num" : "" }, label))));
}

export function mount(root) {
  let destroyed = false;
  const rows = new Map(); // worker name -> <tr>
  const summary = h("span", { class: "muted", dataset: { testid: "workers-summary" } });
  const errorBanner = h("div", { class: "banner banner-error", hidden: true, role: "alert" });
  const queuesBody = h("tbody");
  const workersBody = h("tbody");
  const empty = h(
    "div",
    { class: "empty-state", hidden: true, dataset: { testid: "no-workers" } },
    h("p", {}, "No worker has reported in the last day. Start one on a machine that can reach this API: "),
    h("code", {}, "trainboard worker"),
    h("p", {}, " (add "),
    h("code", {}, "--device cuda"),
    h("p", {}, " on a GPU machine), or "),
    h("code", {}, "trainboard up"),
    h("p", {}, " for the API and one worker."),
  );
  const note = h("p", { class: "muted small-text" });
  const healthNote = h("p", { class: "muted small-text", dataset: { testid: "api-health" } });
  root.append(
    h("div", { class: "page-head" }, h("div", { class: "page-title" }, h("h1", {}, "Workers"), summary)),
    errorBanner,
    h(
      "section",
      { class: "card table-card workers-card" },
      h("h2", { class: "card-title" }, "Queues"),
      h("div", { class: "table-scroll" }, h("table", { class: "runs-table", dataset: { testid: "queues-table" } }, headRow(["Queue", "Queued runs", "Online workers"], ["Queued runs", "Online workers"]), queuesBody)),
    ),
    h(
      "section",
      { class: "card table-card workers-card" },
      h("h2", { class: "card-title" }, "Workers"),
      h("div", { class: "table-scroll" }, h("table", { class: "runs-table", dataset: { testid: "workers-table" } }, headRow(["Worker", "State", "Host", "Devices", "Queues", "Running", "Since", "Last seen"]), workersBody)),
      empty,
      note,
    ),
    healthNote,
  );

  /** "#5 #6": each run the worker executes (one per GPU at most), or "idle". */
  function runLinks(worker) {
    const ids = worker.run_ids?.length ? worker.run_ids : worker.run_id ? [worker.run_id] : [];
    if (!ids.length) return [h("span", { class: "muted" }, worker.online ? "idle" : "—")];
    return ids.flatMap((id, i) => [...(i ? [" "] : []), h("a", { href: `#/runs/${id}` }, `#${id}`)]);
  }

  function fillWorker(tr, worker) {
    tr.classList.toggle("offline", !worker.online);
    tr.replaceChildren(
      h("td", { class: "mono" }, worker.name),
      h("td", {}, h("span", { class: `badge ${worker.online ? "badge-succeeded" : "badge-cancelled"}`, dataset: { testid: "worker-state" } }, worker.online ? "online" : "offline")),
      h("td", {}, worker.host),
      h("td", {}, devicesText(worker)),
      h("td", { class: "mono", title: worker.queues.join(", ") }, queuesText(worker.queues)),
      h("td", { class: "mono", dataset: { testid: "worker-runs" } }, ...runLinks(worker)),
      h("td", { class: "nowrap", title: localTime(worker.started_at) }, timeAgo(worker.started_at)),
      h("td", { class: "nowrap", title: localTime(worker.last_seen) }, timeAgo(worker.last_seen)),
    );
  }

  function fillQueues(overview) {
    queuesBody.replaceChildren(
      ...overview.queues.map((q) =>
        h(
          "tr",
          { dataset: { queue: q.name } },
          h("td", { class: "mono" }, QUEUE_LABELS[q.name] || q.name),
          h("td", { class: "num mono" }, String(q.queued)),
          h("td", { class: q.queued && !q.workers ? "num mono warn-text" : "num mono" }, String(q.workers)),
        ),
      ),
    );
  }

  async function load() {
    let overview;
    try {
      overview = await getWorkers();
    } catch (error) {
      if (destroyed) return;
      errorBanner.hidden = false;
      errorBanner.textContent = `Could not load the workers: ${errorText(error)}`;
      return;
    }
    if (destroyed) return;
    errorBanner.hidden = true;
    summary.textContent = summaryText(overview);
    fillQueues(overview);
    empty.hidden = overview.workers.length > 0;
    syncRows(workersBody, rows, overview.workers, {
      id: (worker) => worker.name,
      dataset: (worker) => ({ worker: worker.name }),
      signature: () => String(Date.now()), // "last seen" moves every time
      fill: fillWorker,
    });
    note.textContent = `A worker silent for ${overview.offline_after_s} s is offline; one silent for a day leaves this list.`;
  }

  async function loadHealth() {
    try {
      const health = await get("/health");
      healthNote.textContent = `API ${health.version} · database: ${health.database} · broker: ${health.broker}`;
    } catch {
      /* the table's own load says when the API is away */
    }
  }

  load();
  loadHealth();
  const stop = whileVisible(load, POLL_MS);
  return () => {
    destroyed = true;
    stop();
  };
}
