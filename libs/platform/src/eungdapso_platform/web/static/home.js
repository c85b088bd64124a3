// Search the FAQ (router) and answered public complaints (publisher) before filing.
"use strict";
document.getElementById("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = document.getElementById("q").value.trim();
  const out = document.getElementById("results");
  if (!q) return;
  const query = encodeURIComponent(q);
  try {
    const [faq, answered] = await Promise.all([
      api(`/api/v1/faq?q=${query}&limit=5`),
      api(`/api/v1/search?q=${query}&limit=5`).catch(() => ({ results: [] })),
    ]);
    const section = (title, items, render) => [
      el("h2", { text: title }),
      items.length ? el("ul", {}, ...items.map((item) => el("li", {}, ...render(item))))
                   : el("p", { class: "muted", text: T.no_results }),
    ];
    out.replaceChildren(
      ...section(T.faq_results, faq.results, (hit) => [
        el("details", {}, el("summary", { text: hit.question }), el("p", { text: hit.answer })),
      ]),
      ...section(T.answered_results, answered.results || [], (hit) => [
        el("a", { href: `/follow/${hit.receipt_no}?lang=${LANG}`, text: hit.receipt_no }), " ",
        statusBadge(hit.status || "answered"), " ",
        el("span", { text: hit.text || "" }),
        hit.answer ? el("p", { class: "muted", text: hit.answer }) : null,
      ]),
    );
    out.focus();
  } catch (error) {
    showProblem(out, error);
  }
});
