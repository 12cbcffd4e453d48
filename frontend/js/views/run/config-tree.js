// A run's config as a tree of nodes for the run page's config card: mappings (and long lists) are branches,
// everything else a leaf with its value in words. No DOM, so tests/browser/test_view_helpers.py calls it directly.

const INLINE_LIST_CHARS = 60; // a list of plain values this short stays on its key's line
const OPEN_UP_TO = 30; // a branch with more children than this starts folded

/** The text of a plain value: exact numbers, strings as they are (never markup: the card sets text only). */
export function leafText(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return `[${value.map(leafText).join(", ")}]`;
  if (typeof value === "object") return Object.keys(value).length ? JSON.stringify(value) : "{}";
  return String(value);
}

const plain = (value) => value === null || typeof value !== "object";

/** Whether a list reads best inline: plain values only, and short. */
export function inlineList(list) {
  return list.every(plain) && leafText(list).length <= INLINE_LIST_CHARS;
}

/**
 * [{key, path, text}] for leaves and [{key, path, size, open, children}] for branches, in the config's own order.
 * path: the dotted key ("optimizer.lr", a list's items "layers.0"); size: "3 keys" or "12 items".
 */
export function configNodes(config, prefix = "") {
  const entries = Array.isArray(config) ? config.map((v, i) => [String(i), v]) : Object.entries(config || {});
  return entries.map(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    const isList = Array.isArray(value);
    const branch = value !== null && typeof value === "object" && (isList ? !inlineList(value) : Object.keys(value).length > 0);
    if (!branch) return { key, path, text: leafText(value) };
    const count = isList ? value.length : Object.keys(value).length;
    const size = `${count} ${isList ? (count === 1 ? "item" : "items") : count === 1 ? "key" : "keys"}`;
    return { key, path, size, open: count <= OPEN_UP_TO, children: configNodes(value, path) };
  });
}
