// The live board: the public feed as it happens (server-sent events, resumed by the
// browser with Last-Event-ID), today's counts, open complaints by district on the map,
// and the month's speed index and satisfaction (statistics API), drawn with Leaflet and
// Chart.js.
"use strict";
const live = document.getElementById("live");
const feed = document.getElementById("feed");
const counts = { received: 0, answered: 0, open: 0, overdue: 0 };
let openByDistrict = {};
let districtLayer = null;

function setCount(name, value) {
  counts[name] = value;
  document.getElementById(`count-${name}`).textContent = String(value);
}

async function refreshSummary() {
  try {
    const board = await api("/api/v1/board");
    for (const name of Object.keys(counts)) setCount(name, board.today[name]);
    openByDistrict = board.open_by_district || {};
    if (districtLayer) districtLayer.setStyle(styleOf);
  } catch (error) { /* the feed still shows what happens */ }
}

const map = L.map("map", { keyboard: false, zoomControl: false, dragging: false, scrollWheelZoom: false })
  .setView([37.5665, 126.978], 10);
const shades = ["#eef4fb", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
function styleOf(feature) {
  const n = openByDistrict[feature.properties.district] || 0;
  return { color: "#1a1a1a", weight: 1, fillOpacity: 0.8, fillColor: shades[Math.min(shades.length - 1, n)] };
}
fetch("/static/seoul-districts.geojson").then((r) => r.json()).then((districts) => {
  districtLayer = L.geoJSON(districts, {
    style: styleOf,
    onEachFeature: (feature, layer) => layer.bindTooltip(LANG === "ko" ? feature.properties.name : feature.properties.name_eng),
  }).addTo(map);
  map.fitBounds(districtLayer.getBounds());
  map.attributionControl.addAttribution("KOSTAT 2013 (southkorea/seoul-maps)");
});

function chart(canvasId, label) {
  return new Chart(document.getElementById(canvasId), {
    type: "bar", data: { labels: [], datasets: [{ label, data: [], backgroundColor: "#0b4f9c" }] },
    options: { animation: false, indexAxis: "y", plugins: { legend: { display: false } } },
  });
}
const speedChart = chart("speed-chart", T.board_speed);
const satisfactionChart = chart("satisfaction-chart", T.board_satisfaction);

async function refreshCharts() {
  const month = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Seoul", year: "numeric", month: "2-digit" }).format(new Date());
  const fill = (c, rows, value) => {
    c.data.labels = rows.map((r) => r.value || "—");
    c.data.datasets[0].data = rows.map(value);
    c.update();
  };
  try {
    const byOffice = await api(`/api/v1/statistics?month=${month}&by=office`);
    fill(speedChart, byOffice.rows.filter((r) => r.speed_index !== null).slice(0, 10), (r) => r.speed_index);
    const byDistrict = await api(`/api/v1/statistics?month=${month}&by=district`);
    fill(satisfactionChart, byDistrict.rows.filter((r) => r.satisfaction_count), (r) => r.satisfaction_mean);
  } catch (error) { /* charts stay empty until statistics answer */ }
}

function onEvent(message) {
  let item;
  try { item = JSON.parse(message.data); } catch (error) { return; }
  const line = el("li", {},
    el("strong", { text: item.receipt_no }), " ", statusBadge(item.status), " ",
    el("span", { class: "muted", text: [item.office && (item.office.name || item.office.code), item.district].filter(Boolean).join(" · ") }));
  feed.prepend(line);
  while (feed.children.length > 50) feed.lastChild.remove();
  refreshSummary();
}

const source = new EventSource("/api/v1/feed");
source.addEventListener("open", () => { live.textContent = T.board_live; });
source.addEventListener("error", () => { live.textContent = T.board_offline; });
source.addEventListener("message", onEvent);
source.addEventListener("status", onEvent);
refreshSummary();
refreshCharts();
setInterval(refreshCharts, 60000);
