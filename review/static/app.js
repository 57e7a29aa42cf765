// faced review page: persons grid, person page, merge suggestions, photo
// view, potentially public photos, videos. No dependencies, no inline code
// (the Content-Security-Policy allows none); every edit is a POST with the
// page's token, answered by package persons.
"use strict";

const token = document.querySelector('meta[name="faced-token"]').content;
const main = document.getElementById("main");
const statusEl = document.getElementById("status");
const PAGE = 60;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

async function get(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
  return r.json();
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Faced-Token": token },
    body: JSON.stringify(body || {}),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

function say(msg) { statusEl.textContent = msg; }

function personName(p) { return p.name || "Person " + p.id; }

function thumb(faceID, alt) {
  return el("img", { src: faceID ? "/thumb/" + faceID : "/static/placeholder.svg", alt: alt || "", loading: "lazy", width: 160, height: 160 });
}

function apparent(f) {
  const g = f.apparent_male >= 0.5 ? "male" : "female";
  return "apparent age " + Math.round(f.apparent_age) + ", apparent " + g;
}

function route() {
  const h = location.hash || "#/";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.getAttribute("href") === h.split("?")[0]);
  const [path, query] = h.slice(1).split("?");
  const q = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  let p;
  if (parts.length === 0) p = gridPage(+q.get("page") || 0);
  else if (parts[0] === "person") p = personPage(+parts[1], +q.get("page") || 0);
  else if (parts[0] === "photo") p = photoPage(+parts[1]);
  else if (parts[0] === "suggestions") p = suggestionsPage();
  else if (parts[0] === "public") p = listPage("/api/public", "Potentially public photos", "No face of a person and no large face: these photos could be shared.");
  else if (parts[0] === "videos") p = listPage("/api/videos", "Videos and their persons", "");
  else p = Promise.resolve(main.replaceChildren(el("p", {}, "Unknown page")));
  p.then(() => { document.body.dataset.ready = h; }).catch(e => { main.replaceChildren(el("p", { class: "error" }, "Error: " + e.message)); });
}

function pager(total, page, href) {
  const pages = Math.max(1, Math.ceil(total / PAGE));
  return el("div", { class: "pager" },
    page > 0 ? el("a", { href: href(page - 1), id: "prev" }, "← previous") : null,
    el("span", { class: "muted" }, "page " + (page + 1) + " of " + pages),
    page + 1 < pages ? el("a", { href: href(page + 1), id: "next" }, "next →") : null);
}

// Persons grid: unnamed first, then by face count. Type a name, Enter, and
// the next person's field takes the focus.
async function gridPage(page) {
  const t0 = performance.now();
  const res = await get("/api/persons?offset=" + page * PAGE + "&limit=" + PAGE);
  const grid = el("div", { class: "grid", id: "persons" });
  const inputs = [];
  for (const p of res.persons) {
    const input = el("input", { type: "text", value: p.name || "", placeholder: "Name Person " + p.id, "data-person": p.id, "aria-label": "name of person " + p.id });
    input.addEventListener("keydown", async ev => {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      const name = input.value.trim();
      try {
        await post("/api/persons/" + p.id + "/name", { name });
        say(name ? "Person " + p.id + " is " + name : "Person " + p.id + " is unnamed");
        input.dataset.saved = name;
        const i = inputs.indexOf(input);
        if (i + 1 < inputs.length) inputs[i + 1].focus();
      } catch (e) { say("Error: " + e.message); }
    });
    inputs.push(input);
    grid.append(el("div", { class: "card", "data-person": p.id },
      el("a", { href: "#/person/" + p.id }, thumb(p.best_face, personName(p))),
      input,
      el("div", { class: "meta" }, el("span", {}, p.faces + " faces"), el("span", {}, p.hidden ? "hidden" : (p.birth_year ? "born ~" + p.birth_year : "")))));
  }
  main.replaceChildren(
    el("h2", {}, res.total + " persons"),
    el("p", { class: "muted" }, "Unnamed persons first. Type a name and press Enter to go to the next one."),
    grid, pager(res.total, page, n => "#/?page=" + n));
  if (inputs.length) inputs.find(i => !i.value)?.focus();
  say("grid in " + Math.round(performance.now() - t0) + " ms");
}

// A person's faces, paged; select faces, then: not this person, move to,
// new person.
async function personPage(id, page) {
  const [p, res] = await Promise.all([get("/api/persons/" + id), get("/api/persons/" + id + "/faces?offset=" + page * PAGE + "&limit=" + PAGE)]);
  const selected = new Set();
  const grid = el("div", { class: "grid", id: "faces" });
  for (const f of res.faces) {
    const card = el("div", { class: "face", "data-face": f.id, title: f.path },
      thumb(f.id, "face " + f.id),
      el("div", { class: "meta" }, apparent(f), " · ", el("a", { href: "#/photo/" + f.file_id }, f.video ? "video" : "photo")));
    card.addEventListener("click", ev => {
      if (ev.target.tagName === "A") return;
      if (selected.has(f.id)) selected.delete(f.id); else selected.add(f.id);
      card.classList.toggle("sel", selected.has(f.id));
      count.textContent = selected.size + " selected";
    });
    grid.append(card);
  }
  const count = el("span", { class: "muted", id: "selcount" }, "0 selected");
  const moveTo = el("input", { type: "number", min: 1, placeholder: "person id", id: "move-to", style: null });
  const need = () => { if (!selected.size) throw new Error("select faces first"); return [...selected]; };
  const act = fn => async () => { try { await fn(); route(); } catch (e) { say("Error: " + e.message); } };
  const name = el("input", { type: "text", value: p.name || "", id: "person-name", placeholder: "Name" });
  name.addEventListener("keydown", act2(async ev => {
    if (ev.key !== "Enter") return false;
    await post("/api/persons/" + id + "/name", { name: name.value.trim() }); say("named"); return true;
  }));
  const birth = el("input", { type: "number", value: p.birth_year || "", id: "birth-year", placeholder: "birth year" });
  birth.addEventListener("keydown", act2(async ev => {
    if (ev.key !== "Enter") return false;
    await post("/api/persons/" + id + "/birth-year", { birth_year: +birth.value || 0 }); say("birth year set"); return true;
  }));
  main.replaceChildren(
    el("h2", {}, personName(p), " ", el("span", { class: "muted" }, "#" + p.id + " · " + p.faces + " faces" +
      (p.gender ? " · apparent " + p.gender : "") + (p.opt_out ? " · forgotten" : "") + (p.merged_into ? " · merged into " + p.merged_into : "") + (p.hidden ? " · hidden" : ""))),
    el("div", { class: "toolbar" }, name, birth,
      el("button", { id: "hide", onclick: act(() => post("/api/persons/" + id + "/hide", { hidden: !p.hidden })) }, p.hidden ? "Export again" : "Hide (never exported)"),
      el("button", { id: "forget", class: "danger", onclick: act(async () => {
        if (!confirm("Forget " + personName(p) + "? Name, face features and thumbnails are erased and their regions leave the sidecars.")) return;
        await post("/api/persons/" + id + "/forget", {}); location.hash = "#/";
      }) }, "Forget this person")),
    el("div", { class: "toolbar" }, count,
      el("button", { id: "not-person", onclick: act(() => post("/api/persons/" + id + "/not", { faces: need() })) }, "Not this person"),
      moveTo,
      el("button", { id: "move", onclick: act(() => post("/api/faces/move", { faces: need(), to: +moveTo.value || 0 })) }, "Move to"),
      el("button", { id: "split", onclick: act(async () => { const r = await post("/api/persons/" + id + "/split", { faces: need() }); say("new person " + r.person.id); }) }, "New person")),
    grid, pager(res.total, page, n => "#/person/" + id + "?page=" + n));
  function act2(fn) { return async ev => { try { if (await fn(ev)) route(); } catch (e) { say("Error: " + e.message); } }; }
}

async function suggestionsPage() {
  const res = await get("/api/suggestions?limit=100");
  const list = el("div", { id: "suggestions" });
  for (const s of res.suggestions) {
    const act = fn => async () => { try { await fn(); route(); } catch (e) { say("Error: " + e.message); } };
    list.append(el("div", { class: "pair", "data-a": s.A.id, "data-b": s.B.id },
      el("a", { href: "#/person/" + s.A.id }, thumb(s.A.best_face, personName(s.A))),
      el("a", { href: "#/person/" + s.B.id }, thumb(s.B.best_face, personName(s.B))),
      el("div", {}, el("div", {}, personName(s.A) + " (" + s.A.faces + ") and " + personName(s.B) + " (" + s.B.faces + ")"),
        el("div", { class: "muted" }, "distance " + s.distance.toFixed(3))),
      el("button", { class: "merge", onclick: act(() => post("/api/persons/" + s.A.id + "/merge", { other: s.B.id })) }, "Same person: merge"),
      el("button", { class: "different", onclick: act(() => post("/api/persons/" + s.A.id + "/different", { other: s.B.id })) }, "Different persons")));
  }
  main.replaceChildren(el("h2", {}, "Merge suggestions"),
    el("p", { class: "muted" }, "Pairs of persons whose faces are close, closest first."),
    res.suggestions.length ? list : el("p", { class: "muted" }, "No suggestions."));
}

async function photoPage(id) {
  const ph = await get("/api/photos/" + id);
  const names = {};
  await Promise.all([...new Set(ph.faces.map(f => f.person_id).filter(Boolean))].map(async pid => {
    names[pid] = personName(await get("/api/persons/" + pid));
  }));
  const wrap = el("div", { class: "photo", id: "photo" });
  if (ph.kind !== "video") {
    wrap.append(el("img", { src: "/api/photos/" + id + "/image", alt: ph.path }));
    for (const f of ph.faces) {
      const [x1, y1, x2, y2] = f.box;
      const b = el("a", { class: "box", href: f.person_id ? "#/person/" + f.person_id : null, "data-face": f.id },
        el("span", {}, (f.person_id ? names[f.person_id] : "unassigned") + " · " + apparent(f)));
      b.style.left = (100 * x1 / ph.width) + "%"; b.style.top = (100 * y1 / ph.height) + "%";
      b.style.width = (100 * (x2 - x1) / ph.width) + "%"; b.style.height = (100 * (y2 - y1) / ph.height) + "%";
      wrap.append(b);
    }
  }
  const rows = ph.faces.map(f => el("tr", {}, el("td", {}, thumb(f.id, "")),
    el("td", {}, f.person_id ? el("a", { href: "#/person/" + f.person_id }, names[f.person_id]) : "unassigned"),
    el("td", { class: "muted" }, apparent(f) + (f.video ? " · at " + f.frame_time.toFixed(1) + " s" : ""))));
  main.replaceChildren(el("h2", {}, ph.path), el("p", { class: "muted" }, (ph.visibility || "visibility not decided") + " · " + ph.width + "×" + ph.height),
    wrap, el("table", {}, rows));
}

async function listPage(path, title, help) {
  const res = await get(path + "?limit=200");
  const list = el("div", { class: "grid", id: "list" });
  for (const p of res.photos) {
    list.append(el("div", { class: "card" },
      el("a", { href: "#/photo/" + p.id }, p.path.split("/").pop()),
      (p.persons || []).map(q => el("a", { href: "#/person/" + q.id }, thumb(q.best_face, personName(q)), personName(q)))));
  }
  main.replaceChildren(el("h2", {}, title + " (" + res.total + ")"), help ? el("p", { class: "muted" }, help) : null, list);
}

window.addEventListener("hashchange", route);
route();
