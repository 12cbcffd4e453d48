// The colour theme: light, dark, or the system's (prefers-color-scheme), chosen in the header and kept in this
// browser's local storage. The CSS follows `data-theme` on <html>; charts (js/charts.js) hear "trainboard:theme".
// js/theme-early.js (a classic script in index.html's <head>) sets data-theme by the same rule before the first paint,
// so the first apply() here usually finds it right and sends nothing; it sends "trainboard:theme" on every change.

export const THEME_CHOICES = ["system", "light", "dark"];
const KEY = "trainboard:theme";
const DARK_QUERY = "(prefers-color-scheme: dark)";

/** What the user chose: "system" unless "light" or "dark" was picked in this browser. */
export function themeChoice() {
  let stored = null;
  try {
    stored = localStorage.getItem(KEY);
  } catch {
    // storage refused (a private window's policy): the system decides
  }
  return THEME_CHOICES.includes(stored) ? stored : "system";
}

/** The theme drawn for a choice: "light" or "dark" ("system" asks the operating system). */
export function resolveTheme(choice, systemDark) {
  if (choice === "light" || choice === "dark") return choice;
  return systemDark ? "dark" : "light";
}

export function currentTheme() {
  return resolveTheme(themeChoice(), matchMedia(DARK_QUERY).matches);
}

function apply() {
  const theme = currentTheme();
  if (document.documentElement.dataset.theme === theme) return;
  document.documentElement.dataset.theme = theme;
  document.dispatchEvent(new CustomEvent("trainboard:theme", { detail: { theme } }));
}

export function setThemeChoice(choice) {
  try {
    if (choice === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // not kept, but still drawn for this page
  }
  apply();
}

/** Apply the theme now, follow the system's setting while "system" is chosen, and wire the header's switch. */
export function setUpTheme(select) {
  apply();
  matchMedia(DARK_QUERY).addEventListener("change", apply);
  select.value = themeChoice();
  select.addEventListener("change", () => setThemeChoice(select.value));
  window.addEventListener("storage", (event) => {
    if (event.key !== KEY) return;
    select.value = themeChoice(); // chosen in another tab
    apply();
  });
}
