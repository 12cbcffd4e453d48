// The theme's and the runs page keyboard's pure helpers (js/theme.js, js/shortcuts.js, js/views/runs/keys.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { stepIndex } from "../../frontend/js/views/runs/keys.js";
import { isTyping, shortcutOf } from "../../frontend/js/shortcuts.js";
import { resolveTheme } from "../../frontend/js/theme.js";

test("a chosen theme wins; system follows the operating system", () => {
  assert.equal(resolveTheme("light", true), "light");
  assert.equal(resolveTheme("dark", false), "dark");
  assert.equal(resolveTheme("system", true), "dark");
  assert.equal(resolveTheme("system", false), "light");
});

test("j and k start at the first or last row and stop at the ends", () => {
  assert.equal(stepIndex(-1, 1, 3), 0);
  assert.equal(stepIndex(-1, -1, 3), 2);
  assert.equal(stepIndex(0, 1, 3), 1);
  assert.equal(stepIndex(2, 1, 3), 2);
  assert.equal(stepIndex(0, -1, 3), 0);
  assert.equal(stepIndex(-1, 1, 0), -1);
});

const key = (k, extra = {}) => ({ key: k, target: { tagName: "BODY", closest: () => null }, ...extra });

test("a key is a shortcut only outside fields and without Ctrl, Alt or Meta", () => {
  assert.equal(shortcutOf(key("j")), "j");
  assert.equal(shortcutOf(key("?", { shiftKey: true })), "?");
  assert.equal(shortcutOf(key("j", { ctrlKey: true })), null);
  assert.equal(shortcutOf(key("j", { metaKey: true })), null);
  assert.equal(shortcutOf(key("j", { altKey: true })), null);
  for (const tagName of ["INPUT", "TEXTAREA", "SELECT"]) {
    assert.equal(isTyping({ tagName }), true);
    assert.equal(shortcutOf(key("j", { target: { tagName } })), null);
  }
  assert.equal(shortcutOf(key("j", { target: { tagName: "DIV", isContentEditable: true } })), null);
  // Enter on a focused button is the button's click, not "open the highlighted run"
  assert.equal(shortcutOf(key("Enter", { target: { tagName: "BUTTON", closest: () => ({}) } })), null);
  assert.equal(shortcutOf(key("Enter")), "Enter");
});
