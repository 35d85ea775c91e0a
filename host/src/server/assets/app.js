// The dashboard: draws the view the path names from the JSON API and keeps it live with the
// server's event streams. Text from executions is only ever set as text, never as markup.
"use strict";

const app = document.getElementById("app");
const live = document.getElementById("live");
const params = new URLSearchParams(location.search);
// An approval link's grant opens one execution without a login; it rides on every call.
const grant = params.get("grant");
let closeView = () => {};

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    // Through the CSSOM: the page's policy refuses inline style attributes.
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (grant) headers["X-Approval-Grant"] = grant;
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((data && data.error && data.error.message) || response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

function withGrant(path) {
  return grant ? `${path}${path.includes("?") ? "&" : "?"}grant=${encodeURIComponent(grant)}` : path;
}

function stream(path, handlers) {
  const source = new EventSource(withGrant(path));
  source.onopen = () => live.classList.add("on");
  source.onerror = () => live.classList.remove("on");
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (message) => handler(JSON.parse(message.data)));
  }
  return () => source.close();
}

function money(cost) {
  if (!cost) return "–";
  return `${(cost.amount_micros / 1e6).toFixed(cost.amount_micros % 10000 === 0 ? 2 : 4)} ${cost.currency}`;
}

function totalCost(report) {
  const entries = Object.entries(report.cost.total_micros || {});
  if (!entries.length) return "–";
  return entries.map(([currency, micros]) => money({ amount_micros: micros, currency })).join(" + ");
}

function ago(ms) {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

function statusName(status, interrupted) {
  const name = interrupted ? "interrupted" : status;
  return el("span", { class: `badge ${name}`, "data-status": name, text: name.replaceAll("_", " ") });
}

function progressBar(completed, total) {
  const percent = total ? Math.round((100 * completed) / total) : 0;
  return el("div", {},
    el("div", { class: "progress", role: "progressbar", "aria-valuenow": percent },
      el("div", { style: { width: `${percent}%` } })),
    el("div", { class: "progress-label", text: `${completed} / ${total}` }));
}

function problem(message) {
  return el("div", { class: "problem", role: "alert", text: message });
}

function navigate(path) {
  history.pushState({}, "", path);
  route();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (link && !event.metaKey && !event.ctrlKey) {
    event.preventDefault();
    navigate(link.getAttribute("href"));
  }
});
window.addEventListener("popstate", route);

function route() {
  closeView();
  closeView = () => {};
  const path = location.pathname;
  let match;
  if ((match = path.match(/^\/(executions|approve)\/([^/]+)$/))) {
    executionView(decodeURIComponent(match[2]));
  } else if (path === "/shows") {
    showsView();
  } else {
    listView();
  }
}

// ---- Executions list ------------------------------------------------------------------

const FILTERS = ["all", "running", "waiting_for_approval", "paused", "completed", "failed", "rejected", "cancelled"];

async function listView() {
  document.title = "Executions · host";
  const filter = params.get("status") || "all";
  const body = el("tbody");
  const rows = new Map();
  const head = el("div", { class: "page-head" },
    el("div", {}, el("h1", { text: "Executions" }), el("div", { class: "sub", text: "Every episode and run, updating live." })),
    el("button", { class: "primary", id: "new-execution", onclick: () => startDialog() }, "New episode"));
  const chips = el("div", { class: "filters" }, FILTERS.map((name) =>
    el("button", {
      class: `chip${name === filter ? " on" : ""}`,
      onclick: () => { params.set("status", name); history.replaceState({}, "", name === "all" ? "/" : `/?status=${name}`); route(); },
    }, name.replaceAll("_", " "))));
  const table = el("table", { id: "executions" },
    el("thead", {}, el("tr", {}, ["Episode", "Status", "Stage", "Progress", "Cost", "Updated"].map((h) => el("th", { text: h })))),
    body);
  app.replaceChildren(head, el("div", { class: "card" }, chips, table));
  const query = filter === "all" ? "" : `&status=${filter}`;
  let page;
  try {
    page = await api(`/api/executions?limit=200${query}`);
  } catch (error) {
    app.append(problem(error.message));
    return;
  }
  const draw = (listing) => {
    if (filter !== "all" && listing.status !== filter) {
      rows.get(listing.id)?.remove();
      rows.delete(listing.id);
      return;
    }
    const progress = listing.progress;
    const row = el("tr", { class: "row", "data-id": listing.id, onclick: () => navigate(`/executions/${encodeURIComponent(listing.id)}`) },
      el("td", {}, el("div", { class: "topic", text: listing.topic || listing.workflow }), el("div", { class: "id", text: listing.id })),
      el("td", {}, statusName(listing.status, listing.interrupted)),
      el("td", { text: listing.stage || "–" }),
      el("td", {}, progress && progress.total ? progressBar(progress.completed, progress.total) : "–"),
      el("td", { text: money(listing.cost) }),
      el("td", { class: "muted", text: ago(listing.updated_at_ms) }));
    const old = rows.get(listing.id);
    if (old) {
      old.replaceWith(row);
      row.classList.add("flash");
    } else {
      body.prepend(row);
    }
    rows.set(listing.id, row);
    document.getElementById("empty")?.remove();
  };
  for (const listing of page.executions.slice().reverse()) draw(listing);
  if (!page.executions.length) {
    body.append(el("tr", { id: "empty" }, el("td", { colspan: 6, class: "empty" }, "No executions yet. Start an episode with “New episode”.")));
  }
  closeView = stream(`/api/events?after=${page.cursor}`, { listing: draw, resync: () => route() });
}

async function startDialog() {
  let workflows;
  try {
    workflows = (await api("/api/workflows")).filter((workflow) => !workflow.problems);
  } catch (error) {
    alert(error.message);
    return;
  }
  const select = el("select", { name: "workflow", id: "workflow" },
    workflows.map((workflow) => el("option", { value: workflow.name, text: `${workflow.name} — ${workflow.description || ""}` })));
  const fields = el("div");
  const errors = el("div");
  const drawInputs = () => {
    const workflow = workflows.find((w) => w.name === select.value);
    fields.replaceChildren(...(workflow ? workflow.inputs : []).map((input) => {
      const id = `input-${input.name}`;
      if (input.type === "bool") {
        return el("label", {}, el("input", { type: "checkbox", id, "data-input": input.name, "data-type": "bool", checked: input.default === true, class: "inline-check" }), input.description || input.name);
      }
      return el("label", {}, `${input.name}${input.required ? " *" : ""} — ${input.description || ""}`,
        el("input", { id, "data-input": input.name, "data-type": input.type, placeholder: input.default === null || input.default === undefined ? "" : String(input.default), required: input.required }));
    }));
  };
  select.addEventListener("change", drawInputs);
  drawInputs();
  const modal = el("div", { class: "modal" });
  const close = () => modal.remove();
  const submit = async (event) => {
    event.preventDefault();
    const inputs = {};
    for (const field of fields.querySelectorAll("[data-input]")) {
      if (field.dataset.type === "bool") inputs[field.dataset.input] = field.checked;
      else if (field.value.trim() !== "") inputs[field.dataset.input] = field.value;
    }
    try {
      const report = await api("/api/executions", { method: "POST", body: { workflow: select.value, inputs } });
      close();
      navigate(`/executions/${encodeURIComponent(report.id)}`);
    } catch (error) {
      errors.replaceChildren(problem(error.message));
    }
  };
  modal.append(el("form", { class: "card", id: "start-form", onsubmit: submit },
    el("h2", { text: "New episode" }),
    el("label", {}, "Workflow", select),
    fields, errors,
    el("div", { class: "actions" },
      el("button", { class: "primary", type: "submit", id: "start" }, "Start"),
      el("button", { type: "button", onclick: close }, "Cancel"))));
  document.body.append(modal);
  modal.querySelector("input")?.focus();
}

// ---- One execution --------------------------------------------------------------------

async function executionView(id) {
  let report;
  try {
    report = await api(`/api/executions/${encodeURIComponent(id)}`);
  } catch (error) {
    app.replaceChildren(problem(error.message));
    return;
  }
  const events = el("tbody");
  let shownEvents = 0;
  let lastStatus = null;
  const draw = (next) => {
    // The approval form keeps what the producer typed while progress elsewhere updates.
    const editing = app.querySelector(".approval form");
    const sameGate = editing && next.approval && lastStatus === "waiting_for_approval" && next.status === lastStatus;
    report = next;
    lastStatus = next.status;
    document.title = `${next.inputs.topic || next.id} · host`;
    const header = el("div", { class: "page-head" },
      el("div", {},
        el("h1", { id: "title", text: next.inputs.topic || next.id }),
        el("div", { class: "sub" }, el("span", { class: "id", text: next.id }), " · ", next.workflow, " · ", statusName(next.status, next.status === "running" && !next.driver))),
      actions(next));
    const main = el("div", {});
    if (next.approval) main.append(sameGate ? editing.closest(".approval") : approvalPanel(next));
    if (next.status === "completed") main.append(episodePanel(next));
    main.append(timeline(next));
    main.append(el("div", { class: "card" }, el("h2", { text: "History" }),
      el("div", { class: "events" }, el("table", {}, events))));
    const side = el("div", {}, summaryPanel(next));
    app.replaceChildren(header, el("div", { class: "grid" }, main, side));
  };
  const addEvent = (event) => {
    if (event.sequence <= shownEvents) return;
    shownEvents = event.sequence;
    events.prepend(el("tr", {},
      el("td", { class: "muted", text: event.sequence }),
      el("td", { text: event.type }),
      el("td", { class: "muted", text: describe(event) }),
      el("td", { class: "muted", text: new Date(event.recorded_at_ms).toLocaleTimeString() })));
  };
  draw(report);
  closeView = stream(`/api/executions/${encodeURIComponent(id)}/events`, { event: addEvent, status: draw });
}

function describe(event) {
  const parts = [event.stage, event.activity, event.attempt && `attempt ${event.attempt}`, event.call,
    event.error && event.error.message, event.feedback, event.reason, event.to_stage];
  return parts.filter(Boolean).join(" · ");
}

function actions(report) {
  const box = el("div", { class: "actions" });
  if (grant) return box;
  const live = !["completed", "failed", "rejected", "cancelled"].includes(report.status);
  if (live) {
    box.append(el("button", { class: "danger", onclick: async () => {
      if (!confirm("Cancel this execution?")) return;
      await api(`/api/executions/${encodeURIComponent(report.id)}/cancel`, { method: "POST", body: {} }).catch((e) => alert(e.message));
    } }, "Cancel"));
  }
  const stages = report.stages.filter((stage) => stage.status !== "pending");
  if (stages.length) {
    const select = el("select", { class: "inline-select" }, stages.map((stage) => el("option", { value: stage.id, text: stage.title })));
    box.append(select, el("button", { onclick: async () => {
      if (!confirm(`Run again from ${select.value}? Earlier stages keep their results.`)) return;
      await api(`/api/executions/${encodeURIComponent(report.id)}/reset`, { method: "POST", body: { stage: select.value } }).catch((e) => alert(e.message));
    } }, "Run again from"));
  }
  return box;
}

function timeline(report) {
  return el("div", { class: "card" }, el("h2", { text: "Stages" }),
    el("ol", { class: "timeline", id: "timeline" }, report.stages.map((stage) => {
      const cost = report.cost.by_stage[stage.id];
      const took = stage.started_at_ms && stage.finished_at_ms ? `${((stage.finished_at_ms - stage.started_at_ms) / 1000).toFixed(1)} s` : "";
      return el("li", { "data-stage": stage.id, "data-status": stage.status },
        el("span", { class: `dot ${stage.status}` }),
        el("div", {},
          el("div", { class: "stage-title", text: stage.title }),
          el("div", { class: "stage-meta", text: [stage.status.replaceAll("_", " "), took, cost && cost.amount_micros ? money(cost) : ""].filter(Boolean).join(" · ") }),
          stage.total > 1 && stage.status === "running" ? progressBar(stage.completed, stage.total) : null),
        el("div", { class: "stage-meta", text: stage.total ? `${stage.completed}/${stage.total}` : "" }));
    })));
}

function summaryPanel(report) {
  const rows = [["Status", statusName(report.status)], ["Stage", report.stage || "–"], ["Cost", totalCost(report)], ["Events", report.events]];
  if (report.budget) rows.push(["Budget", money({ amount_micros: report.budget.limit_micros, currency: report.budget.currency || "" })]);
  if (report.driver) rows.push(["Driven by", report.driver]);
  for (const [name, value] of Object.entries(report.inputs)) rows.push([name, typeof value === "string" ? value : JSON.stringify(value)]);
  const card = el("div", { class: "card" }, el("h2", { text: "Summary" }),
    el("dl", { class: "kv" }, rows.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value)])));
  if (report.error) {
    card.append(el("h2", { text: "Last error", class: "spaced" }),
      problem(`${report.error.kind}: ${report.error.message}${report.error.stage ? ` (${report.error.stage})` : ""}`));
  }
  if (report.feedback.length) {
    card.append(el("h2", { text: "Feedback", class: "spaced" }), el("ul", {}, report.feedback.map((text) => el("li", { text }))));
  }
  return card;
}

// ---- Approval -------------------------------------------------------------------------

function approvalPanel(report) {
  const approval = report.approval;
  const card = el("div", { class: "card approval", id: "approval" });
  card.append(el("h2", { text: `Waiting for your approval · ${approval.stage}` }));
  if (approval.decision) {
    card.append(el("div", { class: "notice", text: "A decision is recorded and about to be acted on." }));
    return card;
  }
  // The names the subject's schema allows (the show's hosts), then any the subject uses.
  const speakers = new Set(approval.speakers || []);
  collectSpeakers(approval.subject, speakers);
  const editor = el("div", { class: "editor" }, field("", approval.subject, [...speakers]));
  const feedback = el("textarea", { id: "feedback", placeholder: "Notes for the record, or what to change when asking for changes" });
  const errors = el("div", { id: "approval-errors" });
  const id = encodeURIComponent(report.id);
  const send = async (what, body) => {
    errors.replaceChildren();
    try {
      await api(`/api/executions/${id}/${what}`, { method: "POST", body });
    } catch (error) {
      errors.replaceChildren(problem(error.message));
    }
  };
  const text = () => feedback.value.trim() || undefined;
  const form = el("form", { onsubmit: (event) => { event.preventDefault(); send("approve", { outline: read(editor.firstChild), feedback: text() }); } },
    editor,
    el("label", {}, "Feedback", feedback),
    errors,
    el("div", { class: "actions" },
      el("button", { class: "primary", type: "submit", id: "approve" }, "Approve"),
      el("button", { type: "button", id: "revise", onclick: () => text() ? send("revise", { feedback: text() }) : errors.replaceChildren(problem("Say what to change in Feedback first.")) }, "Ask for changes"),
      el("button", { type: "button", class: "danger", id: "reject", onclick: () => text() ? send("reject", { feedback: text() }) : errors.replaceChildren(problem("Say why in Feedback first.")) }, "Reject")));
  card.append(form);
  return card;
}

function collectSpeakers(value, speakers) {
  if (Array.isArray(value)) value.forEach((item) => collectSpeakers(item, speakers));
  else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "speaker" && typeof inner === "string") speakers.add(inner);
      else collectSpeakers(inner, speakers);
    }
  }
}

// Names first, then prose, then other values, then lists: the order a person reads an outline.
const FIRST = ["title", "name", "speaker", "summary", "text"];
function byReadingOrder([a, x], [b, y]) {
  const rank = (key, value) => {
    const named = FIRST.indexOf(key);
    if (named >= 0) return named;
    return Array.isArray(value) ? 20 : 10;
  };
  return rank(a, x) - rank(b, y);
}

function humanize(key) {
  return key.replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
}

// A form for any JSON subject: text fields, lists that can be reordered and trimmed, and a
// speaker picker where lines name a speaker. `read` turns it back into JSON.
function field(key, value, speakers) {
  if (Array.isArray(value)) {
    const list = el("div", { "data-kind": "array", "data-key": key });
    const add = (item) => list.append(arrayItem(key, item, speakers));
    value.forEach(add);
    const fieldset = el("fieldset", { "data-kind": "wrap" }, el("legend", { text: humanize(key) }), list);
    if (value.length && typeof value[0] === "string") {
      fieldset.append(el("div", { class: "item-tools" }, el("button", { type: "button", class: "small", onclick: () => add("") }, "+ Add")));
    }
    return fieldset;
  }
  if (value && typeof value === "object") {
    const object = el("div", { "data-kind": "object", "data-key": key });
    for (const [name, inner] of Object.entries(value).sort(byReadingOrder)) object.append(field(name, inner, speakers));
    return key ? el("fieldset", { "data-kind": "wrap" }, el("legend", { text: humanize(key) }), object) : object;
  }
  if (key === "speaker" && speakers.length) {
    return el("label", {}, "Speaker", el("select", { "data-kind": "string", "data-key": key, name: key },
      speakers.map((name) => el("option", { value: name, selected: name === value, text: name }))));
  }
  if (typeof value === "number") return el("label", {}, humanize(key), el("input", { type: "number", "data-kind": "number", "data-key": key, value }));
  if (typeof value === "boolean") return el("label", {}, el("input", { type: "checkbox", "data-kind": "bool", "data-key": key, checked: value, class: "inline-check" }), humanize(key));
  const long = String(value ?? "").length > 70 || key === "summary" || key === "text";
  const input = long
    ? el("textarea", { "data-kind": "string", "data-key": key, name: key, text: value ?? "" })
    : el("input", { "data-kind": "string", "data-key": key, name: key, value: value ?? "" });
  return el("label", {}, humanize(key), input);
}

function arrayItem(key, item, speakers) {
  const entry = el("div", { "data-kind": "item" });
  const tools = el("div", { class: "item-tools" },
    el("button", { type: "button", class: "small", title: "Move up", onclick: () => entry.previousElementSibling?.before(entry) }, "↑"),
    el("button", { type: "button", class: "small", title: "Move down", onclick: () => entry.nextElementSibling?.after(entry) }, "↓"),
    el("button", { type: "button", class: "small danger", title: "Remove", onclick: () => entry.remove() }, "Remove"));
  if (typeof item === "string") {
    entry.className = "list-entry";
    entry.append(el("input", { "data-kind": "string", value: item }), ...tools.children);
  } else {
    entry.append(el("fieldset", {}, el("legend", { class: "numbered", text: humanize(key).replace(/s$/, "") }), tools, field("", item, speakers)));
  }
  return entry;
}

function read(node) {
  const kind = node.dataset.kind;
  if (kind === "object") {
    const object = {};
    for (const child of node.children) {
      const target = child.matches("[data-key]") ? child : child.querySelector("[data-key]");
      if (target) object[target.dataset.key] = read(target);
    }
    return object;
  }
  if (kind === "array") {
    return [...node.children].map((entry) => {
      const target = entry.querySelector("[data-kind='object'], [data-kind='array'], [data-kind='string'], [data-kind='number'], [data-kind='bool']");
      return read(target);
    });
  }
  if (kind === "number") return Number(node.value);
  if (kind === "bool") return node.checked;
  return node.value;
}

// ---- The finished episode -------------------------------------------------------------

function episodePanel(report) {
  const files = new Map((report.artifacts || []).map((artifact) => [artifact.name, artifact]));
  const url = (name) => withGrant(`/api/executions/${encodeURIComponent(report.id)}/artifacts/${encodeURIComponent(name)}`);
  const card = el("div", { class: "card", id: "episode" }, el("h2", { text: "Episode" }));
  const audioName = files.has("episode.mp3") ? "episode.mp3" : files.has("episode.wav") ? "episode.wav" : null;
  const audio = audioName ? el("audio", { controls: true, preload: "metadata", src: url(audioName), id: "player" }) : null;
  const chapters = el("ol", { class: "chapters", id: "chapters" });
  const body = el("div", {}, audio || el("p", { class: "muted", text: "No mixed episode was published." }), chapters);
  card.append(el("div", { class: "player" },
    files.has("cover.png") ? el("img", { src: url("cover.png"), alt: "Cover art", id: "cover" }) : el("div"),
    body));
  if (files.has("chapters.json") && audio) {
    fetch(url("chapters.json")).then((r) => r.json()).then((data) => {
      for (const chapter of data.chapters || []) {
        chapters.append(el("li", { onclick: () => { audio.currentTime = chapter.startTime; audio.play().catch(() => {}); } },
          el("span", { text: chapter.title }), el("span", { class: "muted", text: clock(chapter.startTime) })));
      }
      audio.addEventListener("timeupdate", () => {
        const items = [...chapters.children];
        const list = data.chapters || [];
        items.forEach((item, index) => item.classList.toggle("current",
          audio.currentTime >= list[index].startTime && (index + 1 >= list.length || audio.currentTime < list[index + 1].startTime)));
      });
    }).catch(() => {});
  }
  const downloads = el("div", { class: "downloads" }, [...files.keys()].map((name) => el("a", { href: url(name), download: name, text: name })));
  card.append(downloads);
  if (files.has("transcript.md")) {
    const transcript = el("div", { class: "transcript", id: "transcript", text: "Loading the transcript…" });
    fetch(url("transcript.md")).then((r) => r.text()).then((text) => { transcript.textContent = text; }).catch(() => {});
    card.append(el("h2", { text: "Transcript", class: "spaced" }), transcript);
  }
  return card;
}

function clock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

// ---- Shows ----------------------------------------------------------------------------

async function showsView() {
  document.title = "Shows · host";
  let shows;
  try {
    shows = await api("/api/shows");
  } catch (error) {
    app.replaceChildren(problem(error.message));
    return;
  }
  app.replaceChildren(el("div", { class: "page-head" }, el("div", {}, el("h1", { text: "Shows" }), el("div", { class: "sub", text: "Each show's episodes and the concepts they covered." }))));
  if (!shows.length) app.append(el("div", { class: "card empty", text: "No episodes yet." }));
  for (const show of shows) {
    const done = show.episodes.filter((episode) => episode.status === "completed").length;
    app.append(el("div", { class: "card show-card" },
      el("h2", {}, el("span", { text: show.show }), el("span", { class: "muted", text: `${done} episode(s)` })),
      el("table", {}, el("tbody", {}, show.episodes.map((episode) => el("tr", { class: "row", onclick: () => navigate(`/executions/${encodeURIComponent(episode.id)}`) },
        el("td", { class: "id", text: episode.id }),
        el("td", {}, statusName(episode.status)),
        el("td", {}, el("div", { class: "concepts" }, episode.covered_concepts.map((concept) => el("span", { class: "concept", text: concept }))))))))));
  }
}

route();
