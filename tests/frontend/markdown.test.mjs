// node --test tests/frontend/ (tests/frontend/test_node.py runs it under pytest where Node.js is installed).
import assert from "node:assert/strict";
import { test } from "node:test";

import { escapeHtml, renderMarkdown } from "../../frontend/js/markdown.js";

test("markup the user typed stays text", () => {
  const html = renderMarkdown('<script>alert(1)</script> <img src=x onerror="alert(2)">');
  assert.equal(html, "<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=&quot;alert(2)&quot;&gt;</p>");
  assert.ok(!/<(script|img)/i.test(html));
});

test("bold, italic, strike and code", () => {
  assert.equal(renderMarkdown("**bold** and *it* and _it_ ~~old~~ `a*b*`"), "<p><strong>bold</strong> and <em>it</em> and <em>it</em> <del>old</del> <code>a*b*</code></p>");
});

test("snake_case names and 2*3*4 stay as typed", () => {
  assert.equal(renderMarkdown("valid_acc_best and 2*3*4"), "<p>valid_acc_best and 2*3*4</p>");
});

test("headings, paragraphs with line breaks, lists", () => {
  const html = renderMarkdown("# Title\nfirst line\nsecond line\n\n- a\n- **b**\n\n1. one\n2. two");
  assert.equal(html, "<h3>Title</h3>\n<p>first line<br>second line</p>\n<ul><li>a</li><li><strong>b</strong></li></ul>\n<ol><li>one</li><li>two</li></ol>");
});

test("a code block keeps its text, escaped and unformatted", () => {
  assert.equal(renderMarkdown("```\n<b>**x**</b>\n```"), "<pre><code>&lt;b&gt;**x**&lt;/b&gt;</code></pre>");
});

test("links only to http(s) and mailto; a quote cannot leave the attribute", () => {
  assert.equal(renderMarkdown("[docs](https://example.org/a?b=1&c=2)"), '<p><a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a></p>');
  assert.equal(renderMarkdown("[x](javascript:alert(1))"), "<p>[x](javascript:alert(1))</p>");
  assert.equal(renderMarkdown("[x](data:text/html,hi)"), "<p>[x](data:text/html,hi)</p>");
  const quoted = renderMarkdown('[x](https://e.org/"onmouseover="alert(1))');
  assert.ok(!quoted.includes('"onmouseover'), quoted);
});

test("empty notes render nothing, and escapeHtml covers the five characters", () => {
  assert.equal(renderMarkdown(""), "");
  assert.equal(renderMarkdown(null), "");
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});
