// The runs table's filter bar: status chips, the search box (free text or a query, with its help and the place a
// bad query went wrong), tag, sweep and the "Archived" toggle. Each change updates the shared state and calls
// `changed()`; typing waits 300 ms.

import { get } from "../../api.js";
import { STATUSES, debounce, h } from "../../dom.js";
import { markAt } from "./query.js";

const QUERY_PLACEHOLDER = "Search, or query: config.optimizer.lr >= 0.01 and summary.best_valid_acc > 0.9 and tag:fig5";
const QUERY_HELP = [
  ["config.optimizer.lr >= 0.01", "a config key (dotted path); numbers compare as numbers"],
  ["summary.best_valid_acc > 0.9", "a summary key; = != < <= > >="],
  ["config.optimizer.name = adam", 'text: a bare word or "quoted"'],
  ["name ~ resnet", "~ contains, any case"],
  ["tag:fig5  status:succeeded", "a tag; key:value is key = value"],
  ["created_at > 2026-11-30", "columns: id, name, status, arch, dataset, sweep, epoch, batch_size, lr, best_valid_acc, test_acc_at_best, duration_s, worker, created_at"],
  ["a and b, a or b, not a, (a or b) c", "side by side is and"],
  ["resnet", "no operator: search name, tag, architecture, id"],
];

export class RunsFilters {
  /** state: the page's table state (mutated here); page: {destroyed}. */
  constructor(state, page, { changed }) {
    this.state = state;
    this.page = page;
    this.changed = changed;
    this.chips = STATUSES.map((status) => this.#chip(status));
    this.search = h("input", {
      type: "search",
      placeholder: QUERY_PLACEHOLDER,
      title: QUERY_PLACEHOLDER,
      value: state.q,
      "aria-label": "Search or query runs",
      "aria-describedby": "runs-query-problem",
      name: "q",
      spellcheck: "false",
      autocomplete: "off",
      maxlength: "2000",
    });
    this.problem = h("p", { class: "query-problem", id: "runs-query-problem", role: "alert", hidden: true, dataset: { testid: "query-problem" } });
    this.tagInput = h("input", { type: "text", placeholder: "tag", value: state.tag, "aria-label": "Filter by tag", name: "tag", class: "narrow" });
    this.sweepSelect = h("select", { "aria-label": "Filter by sweep", name: "sweep_id" }, h("option", { value: "" }, "All sweeps"));
    if (state.sweep_id) this.sweepSelect.append(h("option", { value: state.sweep_id, selected: true }, `Sweep #${state.sweep_id}`));
    const debounced = debounce(() => changed(), 300);
    this.search.addEventListener("input", () => {
      state.q = this.search.value.trim();
      debounced();
    });
    this.tagInput.addEventListener("input", () => {
      state.tag = this.tagInput.value.trim();
      debounced();
    });
    this.sweepSelect.addEventListener("change", () => {
      state.sweep_id = this.sweepSelect.value;
      changed();
    });
    this.archivedToggle = h(
      "button",
      {
        type: "button",
        class: "chip chip-archived",
        "aria-pressed": String(state.archived),
        title: "Show the archived runs instead of the others",
        dataset: { testid: "archived-filter" },
        onclick: () => {
          state.archived = !state.archived;
          this.archivedToggle.setAttribute("aria-pressed", String(state.archived));
          changed();
        },
      },
      "Archived",
    );
    this.resetButton = h("button", { type: "button", class: "link-button", onclick: () => this.#reset() }, "Reset");
    this.el = h(
      "div",
      { class: "card filters" },
      h("div", { class: "chips", role: "group", "aria-label": "Filter by status" }, this.chips),
      this.search,
      queryHelp(),
      this.tagInput,
      this.sweepSelect,
      this.archivedToggle,
      this.resetButton,
      this.problem,
    );
  }

  /** Says where the query went wrong ({message, position} from the API's 422), or hides the message (null). */
  showQueryProblem(problem) {
    this.search.setAttribute("aria-invalid", String(Boolean(problem)));
    this.problem.hidden = !problem;
    if (!problem) return this.problem.replaceChildren();
    this.el.append(this.problem); // on a line of its own under the bar, after whatever the page added to it
    const [before, at, after] = markAt(this.state.q, problem.position);
    const where = problem.position === null ? [] : [h("code", { class: "query-where" }, before, h("mark", {}, at || " "), after)];
    this.problem.replaceChildren(h("span", {}, `Query: ${problem.message}`), ...where);
  }

  #chip(status) {
    return h(
      "button",
      {
        type: "button",
        class: `chip chip-${status}`,
        "aria-pressed": String(this.state.status.includes(status)),
        dataset: { status },
        onclick: (e) => {
          const on = e.currentTarget.getAttribute("aria-pressed") !== "true";
          e.currentTarget.setAttribute("aria-pressed", String(on));
          this.state.status = STATUSES.filter((s) => (s === status ? on : this.state.status.includes(s)));
          this.changed();
        },
      },
      status,
    );
  }

  #reset() {
    Object.assign(this.state, { status: [], tag: "", sweep_id: "", q: "", archived: false, offset: 0 });
    this.archivedToggle.setAttribute("aria-pressed", "false");
    this.search.value = "";
    this.tagInput.value = "";
    this.sweepSelect.value = "";
    this.chips.forEach((chip) => chip.setAttribute("aria-pressed", "false"));
    this.changed();
  }

  /** "Clear the filters" under an empty table does what Reset does. */
  reset() {
    this.resetButton.click();
  }

  /** A click on a run's tag filters by it. */
  setTag(tag) {
    this.state.tag = tag;
    this.tagInput.value = tag;
    this.changed();
  }

  /** The sweep filter's choices: every sweep, and the one in the URL even if the list does not have it. */
  async loadSweeps() {
    try {
      const sweeps = await get("/sweeps");
      if (this.page.destroyed || !Array.isArray(sweeps)) return;
      const current = this.sweepSelect.value;
      this.sweepSelect.replaceChildren(
        h("option", { value: "" }, "All sweeps"),
        ...sweeps.map((s) => h("option", { value: String(s.id) }, `#${s.id} ${s.name}${s.runs ? ` (${s.runs.length})` : ""}`)),
      );
      if (current && !sweeps.some((s) => String(s.id) === current)) this.sweepSelect.append(h("option", { value: current }, `Sweep #${current}`));
      this.sweepSelect.value = current;
    } catch {
      // no sweeps route on this server: the filter keeps working for a sweep id given in the URL
      this.sweepSelect.hidden = !this.state.sweep_id;
    }
  }
}

/** The "?" beside the search box: the query language in a few lines. */
function queryHelp() {
  const rows = QUERY_HELP.map(([example, words]) => h("tr", {}, h("td", {}, h("code", {}, example)), h("td", {}, words)));
  return h(
    "details",
    { class: "query-help" },
    h("summary", { title: "How to query runs", "aria-label": "Query help" }, "?"),
    h("div", { class: "query-help-panel" }, h("table", {}, h("tbody", {}, rows))),
  );
}
