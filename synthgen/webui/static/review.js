// synthgen review: plain JavaScript, no build step. Every text from the data goes into the
// page through textContent or .value, never as HTML: records are model output.
"use strict";

const TOKEN = document.querySelector('meta[name="synthgen-token"]').content;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-Synthgen-Token": TOKEN},
    body: JSON.stringify(body),
  };
  const res = await fetch(path, init);
  const data = await res.json();
  if (!res.ok) throw new Error(data.error + (data.hint ? " (" + data.hint + ")" : ""));
  return data;
}

function say(text) {
  const status = document.getElementById("status");
  if (status) status.textContent = text;
}

// ---- audit ---------------------------------------------------------------------------

const audit = {items: [], labels: {}, reasons: [], at: 0, busy: false};

function reviewer() {
  return document.getElementById("reviewer").value.trim();
}

function highlighted(text, marks) {
  // text with the [start, end) ranges in marks wrapped in <mark>, built as DOM nodes
  const box = el("div", undefined, "text");
  let pos = 0;
  for (const [start, end] of marks.sort((a, b) => a[0] - b[0])) {
    if (start < pos || end > text.length || start >= end) continue;
    box.appendChild(document.createTextNode(text.slice(pos, start)));
    box.appendChild(el("mark", text.slice(start, end)));
    pos = end;
  }
  box.appendChild(document.createTextNode(text.slice(pos)));
  return box;
}

function sourceBlock(item) {
  const src = item.source || {};
  const chunk = (src.chunk && typeof src.chunk === "object") ? src.chunk : {};
  const text = [chunk.text, src.text, src.chunk_text].find((t) => typeof t === "string");
  const base = Array.isArray(chunk.span) ? chunk.span[0] : (Array.isArray(src.span) ? src.span[0] : 0);
  const box = el("section", undefined, "source");
  const chunkId = typeof src.chunk === "string" ? src.chunk : chunk.id || src.chunk_id;
  const where = [src.document, src.heading_path && [].concat(src.heading_path).join(" › "),
    chunkId].filter(Boolean).join(" · ");
  box.appendChild(el("h3", "Source" + (where ? ": " + where : "")));
  const evidence = (item.evidence || []).filter((e) => e && typeof e === "object");
  if (typeof text === "string") {
    const marks = [];
    for (const ev of evidence) {
      if (Array.isArray(ev.span) && ev.span.length === 2) {
        marks.push([ev.span[0] - base, ev.span[1] - base]);
      } else if (typeof ev.quote === "string" && text.indexOf(ev.quote) >= 0) {
        const i = text.indexOf(ev.quote);
        marks.push([i, i + ev.quote.length]);
      }
    }
    box.appendChild(highlighted(text, marks));
  }
  if (evidence.length) {
    box.appendChild(el("h4", "Evidence"));
    const list = el("ul");
    for (const ev of evidence) list.appendChild(el("li", [ev.quote, ev.match].filter(Boolean).join(" · ")));
    box.appendChild(list);
  }
  return box;
}

function renderRecord() {
  const box = document.getElementById("record");
  box.replaceChildren();
  const item = audit.items[audit.at];
  if (!item) { box.appendChild(el("p", "nothing to review")); return; }
  const label = audit.labels[item.id];
  document.getElementById("position").textContent =
    "record " + item.k + " of " + audit.items.length + " · " + Object.keys(audit.labels).length + " labelled";
  box.appendChild(el("p", (item.dropped ? "ledger line " + item.line + ", dropped by the judge" : "line " + item.line) + " · " + item.id, "dim"));
  const state = el("p", label ? "your label: " + label.verdict + (label.note ? " (" + label.note + ")" : "") : "not labelled yet",
    label ? "label-" + label.verdict : "dim");
  state.id = "label";
  box.appendChild(state);
  if (item.messages && item.messages.length) {
    for (const turn of item.messages) {
      box.appendChild(el("h3", turn.role.charAt(0).toUpperCase() + turn.role.slice(1)));
      box.appendChild(el("div", turn.content, "text"));
    }
  } else {
    for (const [name, key] of [["Instruction", "instruction"], ["Input", "input"], ["Output", "output"]]) {
      if (key === "input" && !item.input.trim()) continue;
      box.appendChild(el("h3", name));
      const text = el("div", item[key], "text");
      text.id = "field-" + key;
      box.appendChild(text);
    }
  }
  if (item.source) box.appendChild(sourceBlock(item));
  const judge = el("div", undefined, "judge");
  judge.id = "judge";
  const shown = (label && label.judge) || item.judge;  // item.judge: --show-judge
  if (shown) {
    const j = shown;
    const passed = j.passed === true ? "passed" : j.passed === false ? "failed" : "?";
    judge.appendChild(el("p", "Judge: " + (j.score === null ? "–" : j.score) + " (" + passed + ")"));
    if (j.rationale) judge.appendChild(el("p", j.rationale, "dim"));
  } else {
    judge.appendChild(el("p", "the judge's verdict is hidden until you decide" +
      (label ? " (a skip is not a decision)" : ""), "dim"));
  }
  box.appendChild(judge);
}

function renderAgreement(a) {
  document.getElementById("kappa").textContent = a.kappa_text;
  document.getElementById("paired").textContent = a.paired_with_judge;
  document.getElementById("reject-rate").textContent =
    "human reject rate " + a.reject_rate_text + " (95% Wilson CI " + a.ci_text + ", n=" + a.decided + ")";
  const body = document.querySelector("#between tbody");
  body.replaceChildren();
  for (const p of a.between.pairs) {
    const row = el("tr");
    for (const cell of [p.a + " · " + p.b, p.shared, p.agreement_text, p.kappa_text]) row.appendChild(el("td", cell));
    body.appendChild(row);
  }
  if (!a.between.pairs.length) {
    const row = el("tr");
    row.appendChild(el("td", "one reviewer so far", "dim"));
    body.appendChild(row);
  }
}

async function loadAudit() {
  const who = reviewer();
  const data = await api("/api/audit?reviewer=" + encodeURIComponent(who));
  audit.items = data.items;
  audit.labels = data.labels;
  audit.reasons = data.reasons;
  const first = audit.items.findIndex((i) => !(i.id in audit.labels));
  audit.at = first < 0 ? Math.max(0, audit.items.length - 1) : first;
  const list = document.getElementById("reasons");
  const ol = document.getElementById("reason-list");
  list.replaceChildren();
  ol.replaceChildren();
  for (const r of audit.reasons) {
    const opt = el("option");
    opt.value = r;
    list.appendChild(opt);
  }
  audit.reasons.slice(0, 9).forEach((r) => ol.appendChild(el("li", r)));
  renderAgreement(data.agreement);
  renderRecord();
  document.body.dataset.ready = "1";
}

async function decide(verdict, note) {
  const item = audit.items[audit.at];
  if (!item || audit.busy) return;
  if (!reviewer()) { say("type your name first (labels are kept per reviewer)"); document.getElementById("reviewer").focus(); return; }
  audit.busy = true;
  try {
    const res = await api("/api/label", {reviewer: reviewer(), id: item.id, verdict: verdict, note: note || ""});
    audit.labels[item.id] = res.label;
    renderAgreement(res.agreement);
    const j = res.label.judge;
    const judged = j ? "judge " + (j.score === null ? "–" : j.score) + " (" +
      (j.passed === true ? "passed" : j.passed === false ? "failed" : "?") + ")" : "judge still hidden";
    document.getElementById("last").replaceChildren(el("h3", "Last decision"),
      el("p", "#" + item.k + " " + verdict + " · " + judged));
    if (audit.at < audit.items.length - 1) audit.at += 1;
    renderRecord();
    say("saved");
  } catch (e) {
    say("not saved: " + e.message);
  } finally {
    audit.busy = false;
  }
}

function openReason() {
  const box = document.getElementById("reason-box");
  box.hidden = false;
  const input = document.getElementById("reason");
  input.value = "";
  input.focus();
}

function closeOverlays() {
  for (const id of ["reason-box", "help"]) document.getElementById(id).hidden = true;
}

function auditKeys(ev) {
  const reasonOpen = !document.getElementById("reason-box").hidden;
  if (reasonOpen) {
    const input = document.getElementById("reason");
    const pick = audit.reasons[Number(ev.key) - 1];
    if (/^[1-9]$/.test(ev.key) && !input.value && pick) {
      ev.preventDefault();
      closeOverlays();
      decide("reject", pick);
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      const note = input.value.trim();
      closeOverlays();
      decide("reject", note);
    } else if (ev.key === "Escape") {
      closeOverlays();
    }
    return;
  }
  if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement) {
    if (ev.key === "Enter" || ev.key === "Escape") ev.target.blur();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const keys = {
    a: () => decide("accept"),
    s: () => decide("skip"),
    r: openReason,
    ArrowRight: () => { audit.at = Math.min(audit.at + 1, audit.items.length - 1); renderRecord(); },
    ArrowLeft: () => { audit.at = Math.max(audit.at - 1, 0); renderRecord(); },
    "?": () => { document.getElementById("help").hidden = !document.getElementById("help").hidden; },
    Escape: closeOverlays,
  };
  const act = keys[ev.key];
  if (act) { ev.preventDefault(); act(); }
}

function startAudit() {
  const input = document.getElementById("reviewer");
  input.value = localStorage.getItem("synthgen-reviewer") || "";
  input.addEventListener("change", () => {
    localStorage.setItem("synthgen-reviewer", reviewer());
    loadAudit().catch((e) => say(e.message));
  });
  document.addEventListener("keydown", auditKeys);
  loadAudit().catch((e) => say(e.message));
}

// ---- seeds ---------------------------------------------------------------------------

const seeds = {rows: [], diffShown: false};

function seedEdits() {
  const edits = {};
  for (const row of seeds.rows) {
    const change = {};
    if (row.drop.checked) change.drop = true;
    const fields = {};
    for (const [key, area] of Object.entries(row.areas)) {
      if (area.value !== row.fields[key]) fields[key] = area.value;
    }
    if (Object.keys(fields).length) change.fields = fields;
    if (Object.keys(change).length) edits[row.line] = change;
  }
  return edits;
}

function invalidateDiff() {
  seeds.diffShown = false;
  document.getElementById("save").disabled = true;
}

async function loadSeeds() {
  const data = await api("/api/seeds");
  const warnings = document.getElementById("warnings");
  for (const w of data.warnings) warnings.appendChild(el("li", w, "finding"));
  const box = document.getElementById("seeds");
  for (const row of data.rows) {
    const card = el("div", undefined, "seed");
    card.id = "seed-" + row.line;
    const head = el("p");
    head.appendChild(el("b", "line " + row.line + " "));
    const drop = el("input");
    drop.type = "checkbox";
    drop.className = "drop";
    const dropLabel = el("label", " drop");
    dropLabel.prepend(drop);
    head.appendChild(dropLabel);
    card.appendChild(head);
    for (const f of row.findings) card.appendChild(el("p", f, "finding"));
    const areas = {};
    for (const [key, value] of Object.entries(row.fields)) {
      card.appendChild(el("h4", key));
      const area = el("textarea");
      area.value = value;
      area.rows = Math.max(1, Math.min(8, value.split("\n").length + Math.floor(value.length / 110)));
      area.dataset.field = key;
      area.addEventListener("input", invalidateDiff);
      card.appendChild(area);
      areas[key] = area;
    }
    if (row.rest) card.appendChild(el("pre", row.rest));  // turns and other non-text fields
    drop.addEventListener("change", () => { card.classList.toggle("dropped", drop.checked); invalidateDiff(); });
    box.appendChild(card);
    seeds.rows.push({line: row.line, fields: row.fields, areas: areas, drop: drop});
  }
  const only = document.getElementById("only-findings");
  only.addEventListener("change", () => {
    data.rows.forEach((row) => {
      document.getElementById("seed-" + row.line).hidden = only.checked && !row.findings.length;
    });
  });
  const name = document.getElementById("save-name");
  if (!name.value) name.value = data.file.replace(/\.jsonl$/, "") + ".curated.jsonl";
  name.addEventListener("input", invalidateDiff);
  document.body.dataset.ready = "1";
}

async function showDiff() {
  try {
    const name = document.getElementById("save-name").value.trim();
    const res = await api("/api/seeds/diff", {name: name, edits: seedEdits()});
    const pre = document.getElementById("diff");
    pre.textContent = res.diff || "(no changes)";
    pre.hidden = false;
    seeds.diffShown = true;
    document.getElementById("save").disabled = false;
    say("review the diff, then Save");
  } catch (e) {
    say(e.message);
  }
}

async function saveSeeds() {
  if (!seeds.diffShown) return;
  try {
    const name = document.getElementById("save-name").value.trim();
    const res = await api("/api/seeds/save", {name: name, edits: seedEdits()});
    say("saved as " + res.saved + " (the original is unchanged)");
    document.getElementById("save").disabled = true;
  } catch (e) {
    say(e.message);
  }
}

function startSeeds() {
  if (!document.getElementById("seeds")) return;
  document.getElementById("show-diff").addEventListener("click", showDiff);
  document.getElementById("save").addEventListener("click", saveSeeds);
  loadSeeds().catch((e) => say(e.message));
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "audit") startAudit();
  else if (page === "seeds") startSeeds();
  else document.body.dataset.ready = "1";
});
