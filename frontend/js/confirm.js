// Asking before a destructive action, in the page: window.confirm() is suppressed by headless browsers and some
// embedding pages, and cannot say which button is the safe one.

import { h } from "./dom.js";

let asked = 0; // gives each dialog's title its own id

/**
 * A modal <dialog> with a title, a sentence and two buttons; resolves true only when `yes` is clicked. The `keep`
 * button has the focus, so Enter keeps; Escape and leaving the view keep too.
 */
export function confirmAction({ title, message = "", yes = "Yes, cancel", keep = "Keep running" }) {
  const titleId = `confirm-title-${++asked}`;
  const keepButton = h("button", { type: "button", value: "keep", dataset: { confirm: "keep" } }, keep);
  const yesButton = h("button", { type: "button", class: "danger", value: "yes", dataset: { confirm: "yes" } }, yes);
  const dialog = h(
    "dialog",
    { class: "dialog confirm-dialog", "aria-labelledby": titleId, dataset: { testid: "confirm" } },
    h("h2", { id: titleId }, title),
    message ? h("p", {}, message) : null,
    h("div", { class: "actions" }, keepButton, yesButton),
  );
  for (const button of [keepButton, yesButton]) button.addEventListener("click", () => dialog.close(button.value));
  const onRoute = () => dialog.close("keep");
  document.addEventListener("trainboard:route", onRoute);
  document.body.append(dialog);
  dialog.showModal();
  keepButton.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      document.removeEventListener("trainboard:route", onRoute);
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
  });
}

/** "run #12", "3 runs": the object of "Cancel …?" */
export function runsNoun(ids) {
  return ids.length === 1 ? `run #${ids[0]}` : `${ids.length} runs`;
}

/** The question before "Cancel sweep": how many of its runs it stops. */
export function sweepCancelQuestion(sweepId, open) {
  return {
    title: `Cancel sweep #${sweepId}?`,
    message: `Its ${open} unfinished ${open === 1 ? "run stops" : "runs stop"} (queued ones never start); finished runs keep their results.`,
  };
}
