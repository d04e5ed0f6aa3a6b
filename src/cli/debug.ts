// The debugging commands: read the event log of a server's data directory,
// running or not. Only `rebuild` and `import` write; the rest open the
// database read-only.
import path from "node:path";
import { createReadStream, existsSync, mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { EventStore } from "../events/store.js";
import type { StoredEvent } from "../events/types.js";
import { accountStreamId } from "../events/types.js";
import { registerStandardProjections } from "../projections/index.js";
import { defaultConfig, databasePath } from "../config.js";
import { eventLine, describeRoster, summarizeEvent, describeCause } from "../replay/describe.js";
import { replayTo, diffStates, explainContact, isAfter, isAtOrBefore, type LogPoint } from "../replay/replay.js";
import type { ProjectionReport } from "../replay/verify.js";

export type Out = (line: string) => void;

export function dataFile(dataDir: string | undefined): string {
  const config = defaultConfig();
  if (dataDir !== undefined) config.dataDir = path.resolve(dataDir);
  return databasePath(config);
}

export function openExisting(dataDir: string | undefined, readonly: boolean): EventStore {
  const file = dataFile(dataDir);
  if (!existsSync(file)) throw new Error(`no Parley database at ${file} (use --data DIR)`);
  const store = EventStore.open(file, { readonly });
  registerStandardProjections(store);
  return store;
}

export interface EventQuery {
  account?: string;
  types?: string[];
  since?: LogPoint;
  until?: LogPoint;
}

function matches(e: StoredEvent, q: EventQuery): boolean {
  if (q.account !== undefined && e.streamId !== accountStreamId(q.account)) return false;
  if (q.types && q.types.length > 0 && !q.types.includes(e.type)) return false;
  if (q.since && !isAfter(e, q.since) && !("time" in q.since && e.recordedAt === q.since.time)) return false;
  if (q.until && !isAtOrBefore(e, q.until)) return false;
  return true;
}

function format(e: StoredEvent, json: boolean): string {
  return json ? JSON.stringify(e) : eventLine(e);
}

/** `parley events`: one line per event; with `follow`, keep printing new ones until stopped. */
export async function listEvents(store: EventStore, q: EventQuery, json: boolean, out: Out, follow?: { signal: AbortSignal; intervalMs: number }): Promise<number> {
  let last = 0;
  let count = 0;
  for (const e of store.readAll()) {
    last = e.seq;
    if (matches(e, q)) { out(format(e, json)); count++; }
  }
  while (follow && !follow.signal.aborted) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, follow.intervalMs);
      follow.signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
    });
    for (const e of store.readAll({ afterSeq: last })) {
      last = e.seq;
      if (matches(e, q)) { out(format(e, json)); count++; }
    }
  }
  return count;
}

function accountEvents(store: EventStore, account: string): StoredEvent[] {
  const events = store.readStream(accountStreamId(account));
  if (events.length === 0) throw new Error(`there are no events for ${account}`);
  return events;
}

/** `parley replay --account JID [--until P]`: the roster and block list at that point. */
export function replayAccount(store: EventStore, account: string, until: LogPoint | undefined, out: Out): void {
  const { state, last } = replayTo(accountEvents(store, account), until);
  const where = last ? `after event #${last.seq} (${last.recordedAt}, stream version ${last.streamVersion})` : "before its first event";
  out(`${account} ${where}; roster version ${state.version}`);
  for (const line of describeRoster(state)) out(line);
}

/** `parley replay --account JID --diff A B`: what changed between two points and why. */
export function diffAccount(store: EventStore, account: string, a: LogPoint, b: LogPoint, out: Out): void {
  const { changes, blockedBefore, blockedAfter } = diffStates(accountEvents(store, account), a, b);
  const label = (p: LogPoint) => ("seq" in p ? `#${p.seq}` : p.time);
  out(`${account}: changes between ${label(a)} and ${label(b)}`);
  if (changes.length === 0) out("  no roster changes");
  for (const c of changes) {
    out(`  ${c.jid}: ${c.before} → ${c.after}`);
    for (const e of c.because) out(`      #${e.seq} ${e.recordedAt} ${e.type}: ${summarizeEvent(e)}`);
  }
  if (blockedBefore.join() !== blockedAfter.join()) {
    out(`  blocked: ${blockedBefore.join(", ") || "nobody"} → ${blockedAfter.join(", ") || "nobody"}`);
  }
}

/** `parley replay --account JID --explain CONTACT`: the chain of events behind the current state. */
export function explain(store: EventStore, account: string, contact: string, out: Out): void {
  const steps = explainContact(accountEvents(store, account), contact);
  if (steps.length === 0) {
    out(`${account} has no events about ${contact}: subscription none, not in the roster`);
    return;
  }
  out(`${account} and ${contact}:`);
  for (const s of steps) {
    out(`  #${s.event.seq} ${s.event.recordedAt} ${s.event.type} ${describeCause(s.event.meta.by)}`);
    out(`      → ${s.state}`);
  }
  out(`now: ${steps[steps.length - 1]?.state}`);
}

export function printReports(reports: ProjectionReport[], out: Out): boolean {
  let ok = true;
  for (const r of reports) {
    out(`${r.ok ? "OK  " : "DIFF"} ${r.name.padEnd(10)} live ${r.liveChecksum.slice(0, 16)}  log ${r.logChecksum.slice(0, 16)}`);
    for (const d of r.differences) out(`       ${d}`);
    ok &&= r.ok;
  }
  return ok;
}

/** `parley export`: every event as a JSON line, oldest first. */
export function exportEvents(store: EventStore, out: Out): number {
  let n = 0;
  for (const e of store.readAll()) { out(JSON.stringify(e)); n++; }
  return n;
}

function isStoredEvent(v: unknown): v is StoredEvent {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.seq === "number" && typeof e.streamId === "string" && typeof e.streamVersion === "number" &&
    typeof e.type === "string" && typeof e.schemaVersion === "number" && typeof e.recordedAt === "string" &&
    typeof e.meta === "object" && e.meta !== null && "payload" in e;
}

/** `parley import FILE`: JSON lines into an empty database, then rebuild the projections. */
export async function importEvents(dataDir: string | undefined, file: string): Promise<number> {
  const events: StoredEvent[] = [];
  const rl = createInterface({ input: file === "-" ? process.stdin : createReadStream(file), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${lineNo}: not JSON: ${(err as Error).message}`);
    }
    if (!isStoredEvent(parsed)) throw new Error(`${file}:${lineNo}: not an exported event (needs seq, streamId, streamVersion, type, schemaVersion, payload, meta, recordedAt)`);
    events.push(parsed);
  }
  const target = dataFile(dataDir);
  mkdirSync(path.dirname(target), { recursive: true });
  const store = EventStore.open(target);
  registerStandardProjections(store);
  try {
    return store.importEvents(events);
  } finally {
    store.close();
  }
}

