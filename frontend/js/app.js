// Entry point: routes, the top bar (active link, compare count, workers and queued runs) and the token prompt.

import { ApiError, get, getRun, getToken, listRuns, onTokenNeeded, setToken } from "./api.js";
import { expectPlotly } from "./charts.js";
import { h } from "./dom.js";
import { Router } from "./router.js";
import { selection } from "./selection.js";
import { setUpShortcuts } from "./shortcuts.js";
import { setUpTheme } from "./theme.js";
import { setUpMenu } from "./topmenu.js";
import { apiQuery, readState } from "./views/runs/query.js";
import { getWorkers, summaryText } from "./workers.js";

// plotly: the plotly.js bundle a view draws with (js/charts.js), downloaded while the view's module loads;
// read: the view's first API read, started at the same time (the view gets the promise as route.prefetched);
// the runs page's is the URL's page of runs (with 10,000 runs and a query, the read is a third of the wait)
const routes = [
  { name: "runs", pattern: /^\/runs$/, load: () => import("./views/runs/page.js"), read: (_params, query) => listRuns(apiQuery(readState(query))) },
  { name: "run", pattern: /^\/runs\/(\d+)$/, load: () => import("./views/run/page.js"), plotly: "basic", read: ([id]) => getRun(id) },
  { name: "launch", pattern: /^\/launch$/, load: () => import("./views/launch/page.js") },
  { name: "compare", pattern: /^\/compare$/, load: () => import("./views/compare/page.js"), plotly: "basic" },
  { name: "sweeps", pattern: /^\/sweeps$/, load: () => import("./views/sweeps.js") },
  { name: "sweep", pattern: /^\/sweeps\/(\d+)$/, load: () => import("./views/sweep/page.js"), plotly: "full" },
  { name: "report", pattern: /^\/report$/, load: () => import("./views/report.js"), plotly: "cartesian" },
  { name: "workers", pattern: /^\/workers$/, load: () => import("./views/workers/page.js") },
];
for (const route of routes) {
  route.prefetch = (params, query) => {
    expectPlotly(route.plotly || null);
    if (!route.read) return undefined;
    const read = route.read(params, query);
    read.catch(() => {}); // the view handles a failure when it awaits the promise
    return read;
  };
}
const NAV_OF = { run: "runs", sweep: "sweeps" }; // a detail page lights its list's link

function notFound(outlet, route) {
  outlet.append(
    h("section", { class: "card empty-state" }, h("h2", {}, "Page not found"), h("p", {}, `Nothing lives at #${route.path}. `, h("a", { href: "#/runs" }, "Back to the runs"), ".")),
  );
}

// --- token dialog -------------------------------------------------------------------------------------------
const dialog = document.getElementById("token-dialog");
const tokenInput = document.getElementById("token-input");
const tokenError = document.getElementById("token-error");
const tokenButton = document.getElementById("token-button");

onTokenNeeded(
  (message) =>
    new Promise((resolve) => {
      tokenError.hidden = !message;
      tokenError.textContent = message || "";
      tokenInput.value = "";
      const onClose = () => {
        dialog.removeEventListener("close", onClose);
        const value = tokenInput.value.trim();
        if (value) setToken(value);
        resolve();
      };
      dialog.addEventListener("close", onClose);
      if (!dialog.open) dialog.showModal();
      tokenInput.focus();
    }),
);

function refreshTokenButton() {
  tokenButton.hidden = !getToken();
}

// Who the saved token belongs to, next to the sign-out button; nothing when the API checks no tokens.
async function refreshWho() {
  const who = document.getElementById("who");
  try {
    const me = await get("/me");
    who.hidden = me.auth === "none";
    who.textContent = `${me.name} · ${me.role}`;
    who.title = `signed in as ${me.name}, role ${me.role}`;
  } catch {
    who.hidden = true;
  }
}
tokenButton.addEventListener("click", () => {
  if (confirm("Forget the saved API token? You will be asked for it again.")) {
    setToken("");
    location.reload();
  }
});
tokenButton.title = "Forget the saved API token";
document.addEventListener("trainboard:token", () => {
  refreshTokenButton();
  refreshWho();
});
refreshTokenButton();
refreshWho();

// --- top bar ------------------------------------------------------------------------------------------------
function refreshCompareCount() {
  const count = selection.ids().length;
  const badge = document.getElementById("compare-count");
  badge.hidden = count === 0;
  badge.textContent = String(count);
}
document.addEventListener("trainboard:selection", refreshCompareCount);
refreshCompareCount();
setUpMenu(document.querySelector(".topbar"), document.getElementById("menu-button"));
setUpTheme(document.getElementById("theme-select"));
setUpShortcuts(document.getElementById("shortcuts-dialog"));

document.addEventListener("trainboard:route", (event) => {
  const name = NAV_OF[event.detail.name] || event.detail.name;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === name);
  }
});

// "1 worker · 0 queued", linking to the Workers page; every 5 s while the tab is visible.
async function refreshWorkers() {
  const el = document.getElementById("health");
  try {
    const overview = await getWorkers();
    el.className = `health ${overview.online ? "ok" : "bad"}`;
    el.textContent = summaryText(overview);
    el.title = `${overview.online} worker(s) online, ${overview.queued} run(s) waiting: open the Workers page`;
  } catch (error) {
    el.className = "health bad";
    el.textContent = error instanceof ApiError ? "workers unknown" : "API unreachable";
    el.title = String(error.message || error);
  }
}
refreshWorkers();
setInterval(() => document.visibilityState === "visible" && refreshWorkers(), 5000);
document.addEventListener("trainboard:token", refreshWorkers);

new Router(document.getElementById("view"), routes, notFound).render();
