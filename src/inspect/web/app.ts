// The inspector's page: the timeline, time travel through one account's
// stream, a contact's story drawn on RFC 6121 Appendix A, and live events.
// Plain DOM, no framework: the page is small and must load in well under a
// second on any log (every list is a page from the server, never the log).

interface InspectEvent {
  seq: number; streamId: string; streamVersion: number; type: string; recordedAt: string; decidedAt: string;
  cause: string; causeKind: string; summary: string; payload: unknown; correlationId?: string;
}
interface TimelinePage { events: InspectEvent[]; next?: number; lastSeq: number }
interface ContactView {
  jid: string; name?: string; groups: string[]; subscription: string; appendixA: string;
  pendingOut: boolean; pendingIn: boolean; preApproved: boolean; blocked: boolean; inRoster: boolean;
}
interface AccountView { account: string; version: number; latest: number; at?: InspectEvent; contacts: ContactView[]; blocked: string[] }
interface StepView { event?: InspectEvent; changes: { jid: string; before: string; after: string }[]; blockedAdded: string[]; blockedRemoved: string[] }
type PairState = "none" | "noneOut" | "noneIn" | "noneOutIn" | "to" | "toIn" | "from" | "fromOut" | "both";
interface Graph { states: { id: PairState; label: string }[]; transitions: { from: PairState; to: PairState; event: string }[] }
interface Story { account: string; contact: string; steps: { event: InspectEvent; state: string; pairState: PairState; sentence: string }[]; graph: Graph }

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

async function api<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
  const res = await fetch(url, { credentials: "same-origin" });
  const body = await res.json() as T | { error: string };
  if (!res.ok) throw new Error((body as { error: string }).error ?? `${res.status} ${res.statusText}`);
  return body as T;
}

function showError(id: string, err: unknown): void {
  const p = $(id);
  p.hidden = err === undefined;
  p.textContent = err === undefined ? "" : (err as Error).message;
}

// ---- accounts -------------------------------------------------------------

let selectedAccount: string | undefined;
let accountsAfter: string | undefined;

async function loadAccounts(reset: boolean): Promise<void> {
  const filter = ($("account-filter") as HTMLInputElement).value.trim();
  const list = $("accounts");
  if (reset) { list.replaceChildren(); accountsAfter = undefined; }
  const page = await api<{ id: string; version: number }[]>("/api/streams", { prefix: `account:${filter}`, after: accountsAfter, limit: 100 });
  for (const s of page) {
    const jid = s.id.slice("account:".length);
    const b = el("button", { "data-jid": jid, title: `${s.version} events` }, jid);
    if (jid === selectedAccount) b.classList.add("selected");
    b.addEventListener("click", () => void openAccount(jid));
    list.append(el("li", {}, b));
  }
  accountsAfter = page.length > 0 ? page[page.length - 1]?.id : accountsAfter;
  $("more-accounts").hidden = page.length < 100;
}

// ---- timeline -------------------------------------------------------------

let timelineNext: number | undefined;
let timelineFilter: Record<string, string> = {};

function eventRow(e: InspectEvent, fresh: boolean): HTMLTableRowElement[] {
  const row = el("tr", { class: `event${fresh ? " fresh" : ""}`, "data-seq": String(e.seq) },
    el("td", { class: "num" }, `#${e.seq}`), el("td", {}, e.recordedAt), el("td", { class: "num" }, `${e.streamId} v${e.streamVersion}`),
    el("td", {}, e.type), el("td", {}, e.summary), el("td", {}, e.cause));
  const detail = el("tr", { hidden: "" }, el("td", { colspan: "6" }, el("pre", { class: "payload" },
    JSON.stringify({ payload: e.payload, decidedAt: e.decidedAt, correlationId: e.correlationId }, null, 2))));
  row.addEventListener("click", () => { detail.hidden = !detail.hidden; });
  return [row, detail];
}

function matchesFilter(e: InspectEvent): boolean {
  if (timelineFilter.stream && e.streamId !== timelineFilter.stream) return false;
  if (timelineFilter.type && !timelineFilter.type.split(",").map((t) => t.trim()).includes(e.type)) return false;
  if (timelineFilter.until) return false; // a bounded view does not grow
  return true;
}

async function loadTimeline(reset: boolean): Promise<void> {
  const body = $("timeline").querySelector("tbody");
  if (!body) return;
  try {
    if (reset) { body.replaceChildren(); timelineNext = undefined; }
    const page = await api<TimelinePage>("/api/events", { ...timelineFilter, cursor: reset ? undefined : timelineNext, limit: 100 });
    for (const e of page.events) body.append(...eventRow(e, false));
    timelineNext = page.next;
    $("older").hidden = page.next === undefined;
    showError("timeline-error", undefined);
  } catch (err) {
    showError("timeline-error", err);
  }
}

// ---- time travel ----------------------------------------------------------

let view: AccountView | undefined;
let storyContact: string | undefined;
let graph: Graph | undefined;

function selectTab(which: "timeline" | "account"): void {
  $("timeline-view").hidden = which !== "timeline";
  $("account-view").hidden = which !== "account";
  $("tab-timeline").setAttribute("aria-selected", String(which === "timeline"));
  $("tab-account").setAttribute("aria-selected", String(which === "account"));
}

async function openAccount(jid: string): Promise<void> {
  selectedAccount = jid;
  storyContact = undefined;
  $("story-panel").hidden = true;
  for (const b of $("accounts").querySelectorAll("button")) b.classList.toggle("selected", b.getAttribute("data-jid") === jid);
  ($("tab-account") as HTMLButtonElement).disabled = false;
  $("account-name").textContent = jid;
  selectTab("account");
  const form = $("timeline-filters") as HTMLFormElement;
  (form.elements.namedItem("stream") as HTMLInputElement).value = `account:${jid}`;
  timelineFilter = { ...timelineFilter, stream: `account:${jid}` };
  void loadTimeline(true);
  await showVersion(undefined);
}

async function showVersion(version: number | undefined): Promise<void> {
  if (!selectedAccount) return;
  try {
    view = await api<AccountView>("/api/account", { jid: selectedAccount, version });
    const slider = $("slider") as HTMLInputElement;
    slider.max = String(view.latest);
    slider.value = String(view.version);
    $("position").textContent = `version ${view.version} of ${view.latest}`;
    renderRoster(view);
    const step = await api<StepView>("/api/step", { jid: selectedAccount, version: view.version });
    renderStep(step);
    if (storyContact) await showStory(storyContact);
    showError("account-error", undefined);
  } catch (err) {
    showError("account-error", err);
  }
}

function renderStep(step: StepView): void {
  const box = $("step");
  box.replaceChildren();
  if (!step.event) { box.append("Before the account's first event: an empty roster, nobody blocked."); return; }
  const e = step.event;
  box.append(el("div", {}, el("strong", {}, `#${e.seq} ${e.type}`), ` at ${e.recordedAt}: ${e.summary}`));
  const changed = el("ul", {});
  for (const c of step.changes) changed.append(el("li", { class: "changed" }, `${c.jid}: ${c.before} → ${c.after}`));
  for (const j of step.blockedAdded) changed.append(el("li", { class: "changed" }, `${j} blocked`));
  for (const j of step.blockedRemoved) changed.append(el("li", { class: "changed" }, `${j} unblocked`));
  if (changed.childElementCount === 0) changed.append(el("li", {}, "no change to the roster or the block list"));
  box.append(el("div", {}, "What it changed:"), changed);
}

function renderRoster(v: AccountView): void {
  const body = $("roster").querySelector("tbody");
  if (!body) return;
  body.replaceChildren();
  if (v.contacts.length === 0) body.append(el("tr", {}, el("td", { colspan: "5" }, "(empty roster)")));
  for (const c of v.contacts) {
    const row = el("tr", { "data-jid": c.jid, class: `${c.blocked ? "blocked" : ""}${c.jid === storyContact ? " selected" : ""}`, title: "show this contact's story" },
      el("td", { class: "num" }, c.jid), el("td", {}, c.name ?? ""), el("td", {}, c.groups.join(", ")),
      el("td", {}, c.inRoster ? c.subscription : `${c.subscription} (request only, not in the roster)`), el("td", {}, c.appendixA));
    row.addEventListener("click", () => void showStory(c.jid));
    body.append(row);
  }
  const blocked = $("blocked");
  blocked.replaceChildren(...(v.blocked.length ? v.blocked.map((j) => el("li", {}, j)) : [el("li", {}, "nobody")]));
}

// ---- a contact's story on Appendix A --------------------------------------

const LAYOUT: Record<PairState, [number, number]> = {
  noneOut: [100, 60], none: [300, 60], noneIn: [500, 60],
  to: [100, 190], noneOutIn: [300, 190], from: [500, 190],
  toIn: [100, 320], both: [300, 320], fromOut: [500, 320],
};

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function drawModel(g: Graph, path: PairState[], current: PairState | undefined): void {
  const box = $("model") as unknown as SVGSVGElement;
  box.replaceChildren();
  const taken = new Set<string>();
  for (let i = 1; i < path.length; i++) taken.add(`${path[i - 1]}>${path[i]}`);
  const drawn = new Map<string, string[]>();
  for (const t of g.transitions) {
    if (t.from === t.to) continue;
    const key = `${t.from}>${t.to}`;
    drawn.set(key, [...(drawn.get(key) ?? []), t.event]);
  }
  for (const [key, events] of drawn) {
    const [from, to] = key.split(">") as [PairState, PairState];
    const [x1, y1] = LAYOUT[from];
    const [x2, y2] = LAYOUT[to];
    // Bend each direction to its own side, so A→B and B→A do not overlap.
    const mx = (x1 + x2) / 2 + (y2 - y1) * 0.12;
    const my = (y1 + y2) / 2 - (x2 - x1) * 0.12;
    const edge = svg("path", { d: `M${x1},${y1} Q${mx},${my} ${x2},${y2}`, class: `edge${taken.has(key) ? " taken" : ""}` });
    const title = svg("title", {});
    title.textContent = `${from} → ${to}: ${events.join(", ")}`;
    edge.append(title);
    box.append(edge);
  }
  const visited = new Set(path);
  for (const s of g.states) {
    const [x, y] = LAYOUT[s.id];
    const group = svg("g", { class: `state${visited.has(s.id) ? " visited" : ""}${s.id === current ? " current" : ""}`, "data-state": s.id });
    group.append(svg("rect", { x: x - 80, y: y - 18, width: 160, height: 36, rx: 8 }));
    const text = svg("text", { x, y });
    text.textContent = s.label;
    group.append(text);
    box.append(group);
  }
}

async function showStory(contact: string): Promise<void> {
  if (!selectedAccount) return;
  storyContact = contact;
  for (const r of $("roster").querySelectorAll("tr[data-jid]")) r.classList.toggle("selected", r.getAttribute("data-jid") === contact);
  const story = await api<Story>("/api/story", { jid: selectedAccount, contact });
  graph = story.graph;
  $("story-panel").hidden = false;
  $("story-title").textContent = `${selectedAccount} and ${contact}`;
  // The story up to the version shown, so the slider moves the highlight too.
  const shown = view?.version ?? Number.MAX_SAFE_INTEGER;
  const upTo = story.steps.filter((s) => s.event.streamVersion <= shown);
  const path: PairState[] = ["none", ...upTo.map((s) => s.pairState)];
  drawModel(graph, path.filter((s, i) => i === 0 || s !== path[i - 1]), path[path.length - 1]);
  const list = $("story");
  list.replaceChildren();
  if (story.steps.length === 0) list.append(el("li", {}, `No event of ${selectedAccount} ever named ${contact}.`));
  story.steps.forEach((s, i) => {
    const item = el("li", { class: s.event.streamVersion <= shown && (i === story.steps.length - 1 || (story.steps[i + 1]?.event.streamVersion ?? 0) > shown) ? "current" : "" }, s.sentence);
    item.title = "travel to this event";
    item.addEventListener("click", () => void showVersion(s.event.streamVersion));
    list.append(item);
  });
}

// ---- live -----------------------------------------------------------------

function followLive(): void {
  const status = $("live");
  const source = new EventSource("/api/live");
  source.addEventListener("open", () => { status.textContent = "live"; status.className = "live on"; });
  source.addEventListener("error", () => { status.textContent = "live: reconnecting"; status.className = "live off"; });
  source.addEventListener("event", (m) => {
    const e = JSON.parse((m as MessageEvent<string>).data) as InspectEvent;
    const body = $("timeline").querySelector("tbody");
    if (body && matchesFilter(e)) body.prepend(...eventRow(e, true));
    if (selectedAccount && e.streamId === `account:${selectedAccount}` && view && view.version === view.latest) void showVersion(undefined);
    else if (selectedAccount && e.streamId === `account:${selectedAccount}` && view) {
      view.latest = e.streamVersion;
      ($("slider") as HTMLInputElement).max = String(e.streamVersion);
      $("position").textContent = `version ${view.version} of ${view.latest}`;
    }
  });
}

// ---- wiring ---------------------------------------------------------------

function wire(): void {
  $("tab-timeline").addEventListener("click", () => selectTab("timeline"));
  $("tab-account").addEventListener("click", () => selectTab("account"));
  let typing: number | undefined;
  $("account-filter").addEventListener("input", () => { clearTimeout(typing); typing = window.setTimeout(() => void loadAccounts(true), 150); });
  $("more-accounts").addEventListener("click", () => void loadAccounts(false));
  $("older").addEventListener("click", () => void loadTimeline(false));
  $("timeline-filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(ev.target as HTMLFormElement);
    timelineFilter = {};
    for (const k of ["stream", "type", "from", "until"]) { const v = String(data.get(k) ?? "").trim(); if (v) timelineFilter[k] = v; }
    void loadTimeline(true);
  });
  const slider = $("slider") as HTMLInputElement;
  let sliding: number | undefined;
  slider.addEventListener("input", () => { clearTimeout(sliding); sliding = window.setTimeout(() => void showVersion(Number(slider.value)), 60); });
  $("step-first").addEventListener("click", () => void showVersion(0));
  $("step-back").addEventListener("click", () => void showVersion(Math.max(0, (view?.version ?? 0) - 1)));
  $("step-forward").addEventListener("click", () => void showVersion(Math.min(view?.latest ?? 0, (view?.version ?? 0) + 1)));
  $("step-last").addEventListener("click", () => void showVersion(undefined));
  $("goto").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const at = String(new FormData(ev.target as HTMLFormElement).get("at") ?? "").trim();
    if (!selectedAccount || !at) return;
    api<{ version: number }>("/api/version", { jid: selectedAccount, at })
      .then((r) => showVersion(r.version))
      .catch((err: unknown) => showError("account-error", err));
  });
  document.addEventListener("keydown", (ev) => {
    if ($("account-view").hidden || (ev.target as HTMLElement).tagName === "INPUT") return;
    if (ev.key === "ArrowLeft") $("step-back").click();
    if (ev.key === "ArrowRight") $("step-forward").click();
  });
}

wire();
void loadAccounts(true);
void loadTimeline(true);
followLive();
const hash = decodeURIComponent(location.hash.slice(1));
if (hash.includes("@")) void openAccount(hash);
