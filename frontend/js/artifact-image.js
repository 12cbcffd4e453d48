// An artifact's image as the run page's gallery and the report show it: fetched with the token, shown from a
// blob: URL, loading lazily over a neutral placeholder (css: .lazy-img) and saying what it shows (alt) until then.

import { artifactSrc } from "./api.js";
import { h } from "./dom.js";

/** An <img> for the artifact at `url`; data-src keeps the URL for the report's HTML export. */
export function artifactImage(url, alt, cls) {
  const img = h("img", { alt, class: `${cls} lazy-img`, loading: "lazy", decoding: "async", dataset: { src: url } });
  img.addEventListener("load", () => img.classList.add("loaded"), { once: true });
  artifactSrc(url)
    .then((src) => {
      img.src = src;
    })
    .catch(() => img.replaceWith(h("span", { class: "muted" }, `missing: ${alt}`)));
  return img;
}

// A printout (or a PDF of the page) must hold every image, not only those scrolled to: load them all first.
window.addEventListener("beforeprint", () => {
  for (const img of document.querySelectorAll('img[loading="lazy"]')) img.loading = "eager";
});
