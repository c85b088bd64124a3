// Shared by every page: the page's strings, API calls that understand RFC 9457 problems,
// and small DOM helpers. No framework, no build step.
"use strict";
const T = JSON.parse(document.getElementById("messages").textContent);
const LANG = document.documentElement.lang;

class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || ("HTTP " + status));
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({ accept: "application/json" }, options.headers || {});
  const init = Object.assign({}, options, { headers });
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(options.json);
    delete init.json;
  }
  const response = await fetch(path, init);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    throw new ApiProblem(response.status, typeof body === "object" ? body : { title: String(body) });
  }
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function showProblem(target, error) {
  target.replaceChildren(el("div", { class: "panel problem", role: "alert" },
    el("strong", { text: T.error_title }), " ",
    error instanceof ApiProblem ? error.message : T.error_network));
  target.focus && target.focus();
}

function formatTime(value) {
  if (!value) return "—";
  return new Intl.DateTimeFormat(LANG === "ko" ? "ko-KR" : "en-GB", {
    dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Seoul" }).format(new Date(value));
}

function statusLabel(status) {
  return T["status_" + status] || status;
}

function statusBadge(status) {
  return el("span", { class: "status " + status, text: statusLabel(status) });
}
