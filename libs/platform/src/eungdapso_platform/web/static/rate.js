// Rate an answer with the single-use token of the link (in the fragment: no log sees it).
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const form = document.getElementById("rating");
const outcome = document.getElementById("outcome");
const about = document.getElementById("rated");

if (!token) {
  form.hidden = true;
  showProblem(outcome, new ApiProblem(400, { detail: T.error_network }));
} else {
  api(`/api/v1/ratings/invitation?token=${encodeURIComponent(token)}`)
    .then((invitation) => about.replaceChildren(el("p", {}, `${T.receipt_no}: `, el("strong", { text: invitation.receipt_no }),
      invitation.office_name ? ` · ${invitation.office_name}` : "")))
    .catch((error) => { form.hidden = true; showProblem(outcome, error); });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const score = form.elements.score.value;
  if (!score) return;
  const comment = document.getElementById("comment").value.trim();
  try {
    await api("/api/v1/ratings", { method: "POST", json: { token, score: Number(score), comment: comment || null } });
    form.hidden = true;
    outcome.replaceChildren(el("div", { class: "panel notice", role: "status", text: T.rate_thanks }));
    outcome.focus();
  } catch (error) {
    showProblem(outcome, error);
  }
});
