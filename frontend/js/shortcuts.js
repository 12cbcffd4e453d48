// Keyboard shortcuts: a view lends its keys while it is shown (useShortcuts), `?` lists the ones at hand in a small
// dialog. A key never fires while the user types in a field, with Ctrl, Alt or Meta held, or under another dialog.

import { h } from "./dom.js";

const HELP = { key: "?", label: "Show these shortcuts" };
let viewKeys = []; // [{key, label, run(event)}] of the view on screen

/** Whether a key pressed here is text being typed (a field, a list box, an editable element). */
export function isTyping(target) {
  if (!target || !target.tagName) return false;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || Boolean(target.isContentEditable);
}

/** The shortcut a key press means ("j", "?", "Enter"), or null: typing, a modifier held, or already handled. */
export function shortcutOf(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return null;
  if (isTyping(event.target)) return null;
  // Enter on a focused button or link is that control's own click
  if (event.key === "Enter" && event.target.closest && event.target.closest("a, button, summary, [role=button]")) return null;
  return event.key;
}

/** The view's keys while it is shown; returns the function that takes them back (the view's cleanup). */
export function useShortcuts(keys) {
  viewKeys = keys;
  return () => {
    if (viewKeys === keys) viewKeys = [];
  };
}

function fillDialog(dialog) {
  const rows = [...viewKeys, HELP].map(({ key, label }) => h("tr", {}, h("th", { scope: "row" }, h("kbd", {}, key)), h("td", {}, label)));
  const close = h("button", { type: "submit", class: "primary" }, "Close");
  dialog.replaceChildren(
    h(
      "form",
      { method: "dialog" },
      h("h2", {}, "Keyboard shortcuts"),
      h("table", { class: "shortcuts-table", dataset: { testid: "shortcuts" } }, h("tbody", {}, rows)),
      h("p", { class: "muted small-text" }, "Not while typing in a field."),
      h("div", { class: "actions" }, close),
    ),
  );
  return close;
}

/** Listen to the keyboard for the whole app; `dialog` is the <dialog> that `?` opens. */
export function setUpShortcuts(dialog) {
  document.addEventListener("keydown", (event) => {
    const key = shortcutOf(event);
    if (key === null || document.querySelector("dialog[open]")) return;
    if (key === HELP.key) {
      event.preventDefault();
      const close = fillDialog(dialog);
      dialog.showModal();
      close.focus();
      return;
    }
    const shortcut = viewKeys.find((s) => s.key === key);
    if (!shortcut) return;
    event.preventDefault();
    shortcut.run(event);
  });
}
