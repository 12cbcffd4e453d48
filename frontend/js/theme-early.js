// Run before the first paint: a classic script, not a module, loaded without defer or async ahead of the stylesheet
// in index.html's <head>, so it blocks. It sets data-theme on <html> as js/theme.js would (the choice kept in this
// browser, else the system's setting), so a browser asking for dark colours never paints the light page first while
// the modules load; css/app.css draws the dark theme under [data-theme=dark] only. theme.js takes over from there
// (the header's switch, following the system). The key and the rule are theme.js's; tests/frontend/comfort.test.mjs
// holds the two to the same answer.
(function () {
  "use strict";
  var stored = null;
  try {
    stored = localStorage.getItem("trainboard:theme");
  } catch (e) {
    // storage refused (a private window's policy): the system decides
  }
  var dark = stored === "dark" || (stored !== "light" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
})();
