// The REST client: JSON in and out, the bearer token, and the one prompt for it on a 401.

const TOKEN_KEY = "trainboard.token";

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(typeof detail === "string" ? detail : `HTTP ${status} on ${path}`);
    this.status = status;
    this.detail = detail;
    this.path = path;
  }
}

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives for this page only */
  }
  document.dispatchEvent(new CustomEvent("trainboard:token"));
}

// Set by app.js: shows the token dialog and resolves once the user saved a token.
let askForToken = null;
let pendingAsk = null;
export function onTokenNeeded(handler) {
  askForToken = handler;
}

function tokenPrompt(message) {
  if (!askForToken) return Promise.reject(new ApiError(401, "a token is required", ""));
  if (!pendingAsk) {
    pendingAsk = askForToken(message).finally(() => {
      pendingAsk = null;
    });
  }
  return pendingAsk;
}

export function buildQuery(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Call the API. Returns {data, headers, status}; throws ApiError for an HTTP error (detail = FastAPI's detail).
 * A 401 asks for the token once and retries.
 */
export async function request(path, { method = "GET", body, query, signal, raw = false, retried = false } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api${path}${buildQuery(query)}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (response.status === 401 && !retried) {
    await tokenPrompt(token ? "The saved token was refused." : "");
    return request(path, { method, body, query, signal, raw, retried: true });
  }
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const payload = await response.json();
      if (payload && payload.detail !== undefined) detail = payload.detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, detail, path);
  }
  if (raw) return { data: response, headers: response.headers, status: response.status };
  const text = await response.text();
  return { data: text ? JSON.parse(text) : null, headers: response.headers, status: response.status };
}

export const get = async (path, query, opts) => (await request(path, { query, ...opts })).data;
export const post = async (path, body, opts) => (await request(path, { method: "POST", body, ...opts })).data;

/** GET /runs: one page and the total from X-Total-Count. */
export async function listRuns(query, opts) {
  const { data, headers } = await request("/runs", { query, ...opts });
  const total = Number(headers.get("X-Total-Count"));
  return { runs: data, total: Number.isFinite(total) ? total : data.length };
}

export const getRun = (id, opts) => get(`/runs/${id}`, undefined, opts);
export const cancelRun = (id) => post(`/runs/${id}/cancel`);
/** PATCH /runs/{id}: any of name, tags, notes, archived; returns the run. */
export const patchRun = async (id, body) => (await request(`/runs/${id}`, { method: "PATCH", body })).data;
export const deleteRun = (id) => request(`/runs/${id}`, { method: "DELETE" });
export const patchSweep = async (id, body) => (await request(`/sweeps/${id}`, { method: "PATCH", body })).data;
export const deleteSweep = (id) => request(`/sweeps/${id}`, { method: "DELETE" });
export const getMetrics = (id, query, opts) => get(`/runs/${id}/metrics`, query, opts);
export const listArtifacts = (id) => get(`/runs/${id}/artifacts`);
/** Every key the run logged: [{key, count, last_step, last_value}], sorted by key. */
export const getKeys = (id) => get(`/runs/${id}/keys`);
export const getLogs = (id, query, opts) => get(`/runs/${id}/logs`, query, opts);

/** The URL of a run's live stream; EventSource cannot send headers, so the token rides in the query. */
export function eventsUrl(id, after) {
  const token = getToken();
  return `/api/runs/${id}/events${buildQuery({ after: after || undefined, token: token || undefined })}`;
}

/** An URL an <img> can show: the artifact's own URL, or a blob: URL fetched with the token when one is set. */
export async function artifactSrc(url) {
  const token = getToken();
  if (!token) return url;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new ApiError(response.status, `could not load ${url}`, url);
  return URL.createObjectURL(await response.blob());
}

/** An artifact's bytes fetched with the token: a plain download link sends none, so a token-protected API refuses it. */
export async function artifactBlob(url) {
  const token = getToken();
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new ApiError(response.status, `could not download ${url}`, url);
  return response.blob();
}

export async function artifactJson(url) {
  const token = getToken();
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new ApiError(response.status, `could not load ${url}`, url);
  return response.json();
}

/** A human sentence from an ApiError or any other error. */
export function errorText(error) {
  if (error instanceof ApiError) {
    if (Array.isArray(error.detail)) {
      return error.detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
    }
    return typeof error.detail === "string" ? error.detail : JSON.stringify(error.detail);
  }
  return error && error.message ? error.message : String(error);
}
