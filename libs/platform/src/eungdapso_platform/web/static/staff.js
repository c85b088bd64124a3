// Staff pages: the office inbox (casework API), the review queue after low ratings, and the
// triage desk (router API). The key stays in this tab (sessionStorage) and is sent as a
// bearer token to this origin only.
"use strict";
const PAGE = document.currentScript.dataset.page;
const STORE = PAGE === "triage" ? "triage-key" : "office-key";
const list = document.getElementById("list");
const detail = document.getElementById("detail");
const keyInput = document.getElementById("key");

function authed(path, options = {}) {
  const key = sessionStorage.getItem(STORE);
  return api(path, Object.assign({}, options, { headers: Object.assign({ authorization: `Bearer ${key}` }, options.headers || {}) }));
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows));
}

function field(id, label, input) {
  return el("div", {}, el("label", { for: id, text: label }), input);
}

// -- the office inbox ---------------------------------------------------------------------
async function loadInbox() {
  const page = await authed("/api/v1/inbox/cases?sort=deadline&limit=100");
  list.replaceChildren(el("h2", { text: `${T.staff_cases} (${page.office})` }),
    page.cases.length ? table([T.staff_receipt, T.status, T.staff_subject, T.staff_deadline, ""],
      page.cases.map((c) => el("tr", {},
        el("td", { text: c.receipt_no }), el("td", {}, statusBadge(c.status)),
        el("td", { text: [c.classification.field, c.classification.district].filter(Boolean).join(" · ") }),
        el("td", { text: formatTime(c.deadline) }),
        el("td", {}, el("button", { type: "button", class: "secondary", "data-case": c.case_id, text: T.staff_open_case })))))
      : el("p", { class: "muted", text: T.none }));
  list.querySelectorAll("button[data-case]").forEach((b) => b.addEventListener("click", () => openCase(b.dataset.case)));
}

async function openCase(caseId) {
  const c = await authed(`/api/v1/inbox/cases/${caseId}`);
  const staff = el("input", { type: "text", id: "staff-id", required: true, maxlength: 40, value: sessionStorage.getItem("staff-id") || "" });
  const reason = el("textarea", { id: "reason", maxlength: 2000 });
  const toOffice = el("input", { type: "text", id: "to-office", maxlength: 80 });
  const answer = el("textarea", { id: "answer-text", maxlength: 10000 });
  const resolution = el("select", { id: "resolution" }, ...["resolved", "partly", "not_possible"].map((r) => el("option", { value: r, text: T["resolution_" + r] })));
  const objection = el("textarea", { id: "objection", maxlength: 2000 });
  const outcome = el("div", { id: "action-outcome", "aria-live": "polite", tabindex: "-1" });
  const act = (action, body) => async () => {
    sessionStorage.setItem("staff-id", staff.value.trim());
    try {
      await authed(`/api/v1/inbox/cases/${caseId}/${action}`, { method: "POST", json: Object.assign({ staff: staff.value.trim() }, body()) });
      await loadInbox();
      await openCase(caseId);
      document.getElementById("action-outcome").replaceChildren(el("p", { class: "panel notice", role: "status", text: T.staff_done }));
    } catch (error) { showProblem(outcome, error); }
  };
  const button = (id, label, handler) => { const b = el("button", { type: "button", id, text: label }); b.addEventListener("click", handler); return b; };
  detail.replaceChildren(el("div", { class: "panel" },
    el("h2", { text: `${c.receipt_no} · ${statusLabel(c.status)}` }),
    el("p", { text: `${T.staff_deadline}: ${formatTime(c.deadline)}` }),
    c.complaint ? el("p", { id: "case-text", text: c.complaint.text }) : null,
    c.answer ? el("p", { class: "notice", text: c.answer.text }) : null,
    field("staff-id", T.staff_staff_id, staff),
    el("p", { class: "row" },
      button("do-accept", T.staff_accept, act("accept", () => ({})))),
    field("reason", T.staff_reason, reason),
    el("p", { class: "row" },
      button("do-reject", T.staff_reject, act("reject", () => ({ reason: reason.value }))),
      button("do-extend", T.staff_extend, act("extension", () => ({ reason: reason.value })))),
    field("to-office", T.staff_to_office, toOffice),
    el("p", {}, button("do-transfer", T.staff_transfer, act("transfer", () => ({ reason: reason.value, to_office: toOffice.value.trim() })))),
    field("answer-text", T.staff_answer_text, answer),
    field("resolution", T.staff_resolution, resolution),
    field("objection", T.staff_objection, objection),
    el("p", { class: "row" },
      button("do-answer", T.staff_answer, act("answer", () => ({ text: answer.value, resolution: resolution.value, objection: objection.value.trim() || null }))),
      button("do-close", T.staff_close, act("close", () => ({})))),
    outcome));
  detail.focus();
}

// -- the review queue ---------------------------------------------------------------------
async function loadReviews() {
  const page = await authed("/api/v1/inbox/reviews");
  const reviews = page.reviews || page.cases || [];
  list.replaceChildren(el("h2", { text: T.staff_reviews }),
    reviews.length ? table([T.staff_receipt, T.rate_score, T.rate_comment],
      reviews.map((r) => el("tr", {}, el("td", { text: r.receipt_no }), el("td", { text: String(r.score) }), el("td", { text: r.comment || "" }))))
      : el("p", { class: "muted", text: T.none }));
}

// -- the triage desk ----------------------------------------------------------------------
async function loadTriage() {
  const page = await authed("/api/v1/triage/cases");
  list.replaceChildren(el("h2", { text: T.staff_triage }),
    page.cases.length ? table([T.staff_receipt, ""], page.cases.map((c) => el("tr", {},
      el("td", { text: c.receipt_no }),
      el("td", {}, el("button", { type: "button", class: "secondary", "data-complaint": c.complaint_id, text: T.staff_open_case })))))
      : el("p", { class: "muted", text: T.none }));
  list.querySelectorAll("button[data-complaint]").forEach((b) => b.addEventListener("click", () => openTriage(b.dataset.complaint)));
}

async function openTriage(complaintId) {
  const c = await authed(`/api/v1/triage/cases/${complaintId}`);
  const office = el("input", { type: "text", id: "triage-office", maxlength: 80, value: (c.candidates[0] && c.candidates[0].office.code) || "" });
  const outcome = el("div", { "aria-live": "polite", tabindex: "-1" });
  const decide = el("button", { type: "button", id: "do-decide", text: T.triage_decide });
  decide.addEventListener("click", async () => {
    try {
      await authed(`/api/v1/triage/cases/${complaintId}/decision`, { method: "POST", json: { office: office.value.trim() } });
      detail.replaceChildren(el("p", { class: "panel notice", role: "status", text: T.staff_done }));
      await loadTriage();
    } catch (error) { showProblem(outcome, error); }
  });
  detail.replaceChildren(el("div", { class: "panel" }, el("h2", { text: c.receipt_no }), el("p", { text: c.text }),
    el("ul", {}, ...c.candidates.map((k) => el("li", { text: `${k.subject} (${k.score.toFixed(2)}) → ${k.office.code}` }))),
    field("triage-office", T.triage_office, office), el("p", {}, decide), outcome));
  detail.focus();
}

const LOADERS = { inbox: loadInbox, reviews: loadReviews, triage: loadTriage };
async function load() {
  if (!sessionStorage.getItem(STORE)) return;
  try { await LOADERS[PAGE](); } catch (error) { showProblem(list, error); }
}
document.getElementById("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(STORE, keyInput.value.trim());
  keyInput.value = "";
  load();
});
document.getElementById("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(STORE);
  list.replaceChildren();
  detail.replaceChildren();
});
load();
