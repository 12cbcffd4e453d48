// The runs picked for comparison, kept across views and reloads (sessionStorage).

const KEY = "trainboard.selection";

function read() {
  try {
    const ids = JSON.parse(sessionStorage.getItem(KEY) || "[]");
    return Array.isArray(ids) ? ids.filter(Number.isInteger) : [];
  } catch {
    return [];
  }
}

function write(ids) {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(ids));
  } catch {
    /* storage disabled */
  }
  document.dispatchEvent(new CustomEvent("trainboard:selection", { detail: { ids } }));
}

export const selection = {
  ids: () => read(),
  has: (id) => read().includes(id),
  set(ids) {
    write([...new Set(ids)].sort((a, b) => a - b));
  },
  toggle(id, on) {
    const ids = new Set(read());
    if (on ?? !ids.has(id)) ids.add(id);
    else ids.delete(id);
    this.set([...ids]);
  },
  clear() {
    write([]);
  },
};
