// Hash routing: #/runs, #/runs/12, #/launch, #/compare?ids=1,2, #/sweeps, #/sweeps/3, #/report. A view is mount(el, route) → cleanup();
// route.prefetched is what the route's prefetch(params, query) started while the view's module loaded.

export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#/, "") || "/runs";
  const [pathPart, queryPart = ""] = text.split("?");
  const segments = pathPart.split("/").filter(Boolean);
  const query = Object.fromEntries(new URLSearchParams(queryPart));
  return { path: `/${segments.join("/")}`, segments, query };
}

/** Build "#/path?query" (empty values left out). */
export function hrefFor(path, query = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = search.toString().replace(/%2C/g, ",");
  return `#${path}${text ? `?${text}` : ""}`;
}

export function navigate(path, query) {
  location.hash = hrefFor(path, query);
}

let mountedPath = null; // the path of the view on screen: only its URL's query is the view's to rewrite

/** Change the query of the current URL without re-rendering the view (filters, sort, paging). A late write (a
 * search box's debounce) after the URL moved on to the next view, which is not mounted yet, is dropped. */
export function replaceQuery(query) {
  const { path } = parseHash();
  if (mountedPath !== null && path !== mountedPath) return;
  history.replaceState(history.state, "", hrefFor(path, query));
}

export class Router {
  constructor(outlet, routes, notFound) {
    this.outlet = outlet;
    // [{pattern: /^\/runs\/(\d+)$/, name, load: () => import(...), prefetch?: (params, query) => promise | undefined}]
    this.routes = routes;
    this.notFound = notFound;
    this.cleanup = null;
    this.token = 0;
    window.addEventListener("hashchange", () => this.render());
  }

  async render() {
    const route = parseHash();
    if (!location.hash || route.path === "/") {
      history.replaceState(null, "", "#/runs");
      return this.render();
    }
    const token = ++this.token;
    for (const entry of this.routes) {
      const match = entry.pattern.exec(route.path);
      if (!match) continue;
      const params = match.slice(1);
      const prefetched = entry.prefetch ? entry.prefetch(params, route.query) : undefined; // fetched while the module loads
      const module = await entry.load();
      if (token !== this.token) return undefined; // a newer navigation won
      this.teardown();
      this.outlet.replaceChildren();
      document.dispatchEvent(new CustomEvent("trainboard:route", { detail: { name: entry.name, route } }));
      window.scrollTo(0, 0);
      mountedPath = route.path;
      this.cleanup = module.mount(this.outlet, { ...route, params, prefetched }) || null;
      return undefined;
    }
    this.teardown();
    this.outlet.replaceChildren();
    mountedPath = route.path;
    this.notFound(this.outlet, route);
    return undefined;
  }

  teardown() {
    if (typeof this.cleanup === "function") {
      try {
        this.cleanup();
      } catch (error) {
        console.warn("view cleanup failed", error);
      }
    }
    this.cleanup = null;
  }
}
