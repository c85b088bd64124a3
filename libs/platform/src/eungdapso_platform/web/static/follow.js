// Follow a complaint. With the private key (in the URL's fragment, never sent to a server
// log) the notifier answers the citizen's own text, answer, deadline and notices; with the
// receipt number alone the publisher answers the public status.
"use strict";
const box = document.getElementById("complaint");
const key = new URLSearchParams(location.hash.slice(1)).get("key");

function facts(pairs) {
  return el("dl", { class: "facts" }, ...pairs.filter(([, v]) => v !== null && v !== undefined)
    .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
}

async function show(receiptNo) {
  try {
    if (key) {
      const mine = await api(`/api/v1/follow/${receiptNo}`, { headers: { authorization: `Follow ${key}` } });
      box.replaceChildren(
        facts([
          [T.follow_receipt, mine.receipt_no],
          [T.status, statusBadge(mine.status)],
          [T.follow_office, mine.office ? (LANG === "en" && mine.office.name_en ? mine.office.name_en : mine.office.name) : T.none],
          [T.follow_deadline, formatTime(mine.deadline)],
          [T.received_at, formatTime(mine.received_at)],
        ]),
        el("h2", { text: T.follow_text }), el("p", { id: "my-text", text: mine.text }),
        el("h2", { text: T.follow_answer }),
        mine.answer ? el("div", { class: "panel notice", id: "my-answer" }, el("p", { text: mine.answer.text }),
          el("p", { class: "muted", text: `${T.answered_at}: ${formatTime(mine.answer.answered_at)}` })) : el("p", { class: "muted", text: T.none }),
        mine.rating_url ? el("p", {}, el("a", { class: "button", id: "rate-link", href: mine.rating_url.replace("#", `?lang=${LANG}#`), text: T.follow_rate })) : null,
        el("h2", { text: T.follow_notices }),
        (mine.notices || []).length
          ? el("ol", { class: "timeline" }, ...mine.notices.map((n) => el("li", { text: `${formatTime(n.sent_at)} — ${statusLabel(n.stage)} (${n.medium})` })))
          : el("p", { class: "muted", text: T.none }),
      );
    } else {
      const status = await api(`/api/v1/complaints/${receiptNo}`);
      box.replaceChildren(
        facts([
          [T.follow_receipt, status.receipt_no],
          [T.status, statusBadge(status.status)],
          [T.follow_office, status.office ? (status.office.name || status.office.code) : T.none],
          [T.follow_deadline, formatTime(status.deadline && status.deadline.due)],
          [T.received_at, formatTime(status.received_at)],
          [T.answered_at, formatTime(status.answered_at)],
        ]),
        status.answer ? el("div", { class: "panel notice" }, el("h2", { text: T.follow_answer }), el("p", { text: status.answer })) : null,
        el("p", { class: "muted", text: T.follow_private_only }),
      );
    }
  } catch (error) {
    showProblem(box, error);
  }
}

document.getElementById("lookup").addEventListener("submit", (event) => {
  event.preventDefault();
  const receipt = document.getElementById("receipt").value.trim();
  if (receipt) show(receipt);
});
if (box.dataset.receipt) show(box.dataset.receipt);
