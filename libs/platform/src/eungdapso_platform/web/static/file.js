// File a complaint: photos uploaded first (intake answers each with its sha256), then the
// complaint, with one Idempotency-Key per attempt so a retry never files it twice.
"use strict";
const form = document.getElementById("complaint");
const outcome = document.getElementById("outcome");
let picked = null;
const idempotencyKey = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());

const map = L.map("place-map", { keyboard: false, attributionControl: true }).setView([37.5665, 126.978], 11);
fetch("/static/seoul-districts.geojson").then((r) => r.json()).then((districts) => {
  L.geoJSON(districts, { style: { color: "#0b4f9c", weight: 1, fillOpacity: 0.05 } }).addTo(map);
  map.attributionControl.addAttribution("KOSTAT 2013 (southkorea/seoul-maps)");
});
let marker = null;
map.on("click", (event) => {
  picked = { lat: Number(event.latlng.lat.toFixed(6)), lon: Number(event.latlng.lng.toFixed(6)) };
  marker = marker ? marker.setLatLng(event.latlng) : L.marker(event.latlng).addTo(map);
  document.getElementById("picked").textContent = `${T.file_picked}: ${picked.lat}, ${picked.lon}`;
});

async function upload(file) {
  const body = new FormData();
  body.append("file", file);
  const ref = await api("/api/v1/attachments", { method: "POST", body });
  return ref.sha256;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("text");
  if (!text.value.trim()) { text.focus(); text.setAttribute("aria-invalid", "true"); return; }
  const button = document.getElementById("submit");
  button.disabled = true;
  button.textContent = T.file_sending;
  try {
    const files = Array.from(document.getElementById("photos").files).slice(0, 5);
    const attachments = [];
    for (const file of files) attachments.push(await upload(file));
    const address = document.getElementById("address").value.trim();
    const place = address || picked ? Object.assign({ address: address || null }, picked || {}) : null;
    const contact = {
      name: document.getElementById("name").value.trim() || null,
      phone: document.getElementById("phone").value.trim() || null,
      email: document.getElementById("email").value.trim() || null,
    };
    const receipt = await api("/api/v1/complaints", {
      method: "POST",
      headers: { "Idempotency-Key": "web-" + idempotencyKey },
      json: {
        text: text.value.trim(),
        kind: form.elements.kind.value,
        language: LANG,
        disclosure: form.elements.disclosure.value,
        place,
        attachments,
        contact: contact.name || contact.phone || contact.email ? contact : null,
      },
    });
    const follow = receipt.follow_url ? receipt.follow_url.replace("#", `?lang=${LANG}#`) : null;
    form.hidden = true;
    outcome.replaceChildren(el("div", { class: "panel notice" },
      el("h2", { text: T.receipt_title }),
      el("p", {}, T.receipt_no + ": ", el("strong", { id: "receipt-no", text: receipt.receipt_no })),
      follow ? el("p", {}, T.receipt_follow + ": ", el("a", { id: "follow-link", href: follow, text: location.origin + follow })) : null,
      follow ? el("p", { class: "hint", text: T.receipt_follow_hint }) : null,
    ));
    outcome.focus();
  } catch (error) {
    showProblem(outcome, error);
  } finally {
    button.disabled = false;
    button.textContent = T.file_submit;
  }
});
