// The theme's and the runs page keyboard's pure helpers (js/theme.js, js/theme-early.js, js/shortcuts.js,
// js/views/runs/keys.js).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";

import { stepIndex } from "../../frontend/js/views/runs/keys.js";
import { isTyping, shortcutOf } from "../../frontend/js/shortcuts.js";
import { currentTheme, resolveTheme } from "../../frontend/js/theme.js";

test("a chosen theme wins; system follows the operating system", () => {
  assert.equal(resolveTheme("light", true), "light");
  assert.equal(resolveTheme("dark", false), "dark");
  assert.equal(resolveTheme("system", true), "dark");
  assert.equal(resolveTheme("system", false), "light");
});

/** A browser's storage (one key stored, or refused) and system setting, as both theme scripts read them. */
function browser(stored, systemDark) {
  const store = new Map(stored === undefined ? [] : [["trainboard:theme", stored]]);
  const localStorage = {
    getItem(key) {
      if (stored === "refused") throw new Error("SecurityError");
      return store.has(key) ? store.get(key) : null;
    },
  };
  const matchMedia = (query) => ({ matches: query === "(prefers-color-scheme: dark)" && systemDark });
  return { localStorage, matchMedia };
}

const EARLY = readFileSync(new URL("../../frontend/js/theme-early.js", import.meta.url), "utf8");

test("the script that runs before the first paint draws the theme theme.js draws", () => {
  for (const stored of [undefined, "light", "dark", "system", "blue", "refused"]) {
    for (const systemDark of [false, true]) {
      const { localStorage, matchMedia } = browser(stored, systemDark);
      const documentElement = { dataset: {} };
      vm.runInNewContext(EARLY, { localStorage, matchMedia, document: { documentElement } });

      Object.assign(globalThis, { localStorage, matchMedia });
      try {
        assert.equal(documentElement.dataset.theme, currentTheme(), `stored ${stored}, system dark ${systemDark}`);
      } finally {
        delete globalThis.localStorage;
        delete globalThis.matchMedia;
      }
    }
  }
  const { localStorage, matchMedia } = browser(undefined, true);
  const documentElement = { dataset: {} };
  vm.runInNewContext(EARLY, { localStorage, matchMedia, document: { documentElement } });
  assert.equal(documentElement.dataset.theme, "dark"); // nothing chosen, a dark system: dark from the first paint
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
