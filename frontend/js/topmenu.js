// The top bar's menu button, shown on a narrow screen (css/app.css, "phone"): it opens and closes the nav
// links, which the stylesheet hides there until then. Choosing a link, Escape or a click elsewhere closes it.

export function setUpMenu(bar, button) {
  const set = (open) => {
    bar.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
  };
  button.addEventListener("click", () => set(!bar.classList.contains("open")));
  bar.querySelector(".nav").addEventListener("click", (event) => {
    if (event.target.closest("a")) set(false);
  });
  document.addEventListener("trainboard:route", () => set(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && bar.classList.contains("open")) {
      set(false);
      button.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!bar.contains(event.target)) set(false);
  });
}
