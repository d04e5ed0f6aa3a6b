// The debugging commands: read the event log of a server's data directory,
// running or not. Only `rebuild` and `import` write; the rest open the
// database read-only.
import path from "node:path";
import { createReadStream, existsSync, mkdirSync } from "node:fs";
import { EventStore, type EventFilter } from "../events/store.js";
import type { StoredEvent } from "../events/types.js";
import { accountStreamId } from "../events/types.js";
import { roomStreamId } from "../modules/muc/room-state.js";
import { registerStandardProjections } from "../projections/index.js";
import { defaultConfig, databasePath } from "../config.js";
import { eventLine, describeRoster, summarizeEvent, describeCause } from "../replay/describe.js";
import type { LogPoint } from "../replay/replay.js";
import { accountStateAt, diffAccountStates, explainAccountContact } from "../replay/history.js";
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
  if (readonly) requireSchema(store, file);
  registerStandardProjections(store);
  return store;
}

/** Tables the read-only commands use that a database written by an older Parley lacks until it is migrated. */
const HISTORY_TABLES = ["account_snapshots"];

function requireSchema(store: EventStore, file: string): void {
  const present = new Set((store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  const missing = HISTORY_TABLES.filter((t) => !present.has(t));
  if (missing.length > 0) {
    store.close();
    throw new Error(`${file} predates the ${missing.join(" and ")} table(s): start the server on it or run 'parley rebuild' once to migrate it`);
  }
}

export interface EventQuery {
  account?: string;
  /** A MUC room's bare JID: its stream room:<jid>. */
  room?: string;
  types?: string[];
  since?: LogPoint;
  until?: LogPoint;
}

/** The query as an index-backed filter of the log (EventStore.queryEvents). */
function filterOf(q: EventQuery): EventFilter {
  const f: EventFilter = {};
  if (q.account !== undefined) f.streamId = accountStreamId(q.account);
  if (q.room !== undefined) f.streamId = roomStreamId(q.room);
  if (q.types && q.types.length > 0) f.types = q.types;
  // --since: after that event, or from that time on (an event at exactly that time included).
  if (q.since) { if ("seq" in q.since) f.afterSeq = q.since.seq; else f.fromTime = q.since.time; }
  if (q.until) { if ("seq" in q.until) f.untilSeq = q.until.seq; else f.untilTime = q.until.time; }
  return f;
}

/**
 * Stored SCRAM keys (StoredKey, ServerKey, salt) are an offline dictionary
 * attack's starting point: debugging output shows that they are there, not
 * what they are, unless asked (`--show-secrets`). `parley export`, a backup,
 * keeps them.
 */
export function redactSecrets(e: StoredEvent): StoredEvent {
  const payload = e.payload as { credentials?: unknown } | null;
  if (!payload || typeof payload !== "object" || !Array.isArray(payload.credentials)) return e;
  const credentials = (payload.credentials as { hash?: unknown; iterations?: unknown }[])
    .map((c) => ({ hash: c.hash, iterations: c.iterations, salt: "[redacted]", storedKey: "[redacted]", serverKey: "[redacted]" }));
  return { ...e, payload: { ...payload, credentials } };
}

function format(e: StoredEvent, json: boolean, showSecrets = false): string {
  return json ? JSON.stringify(showSecrets ? e : redactSecrets(e)) : eventLine(e);
}

/** `parley events`: one line per event; with `follow`, keep printing new ones until stopped. */
export async function listEvents(store: EventStore, q: EventQuery, json: boolean, out: Out, follow?: { signal: AbortSignal; intervalMs: number }, showSecrets = false): Promise<number> {
  const filter = filterOf(q);
  // Following resumes after the last event of the log seen, matching or not.
  let last = store.lastSeq();
  let count = 0;
  for (const e of store.queryEvents({ ...filter, untilSeq: Math.min(filter.untilSeq ?? last, last) })) { out(format(e, json, showSecrets)); count++; }
  while (follow && !follow.signal.aborted) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, follow.intervalMs);
      follow.signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
    });
    const now = store.lastSeq();
    if (now === last) continue;
    const from = Math.max(filter.afterSeq ?? 0, last);
    for (const e of store.queryEvents({ ...filter, afterSeq: from, untilSeq: Math.min(filter.untilSeq ?? now, now) })) { out(format(e, json, showSecrets)); count++; }
    last = now;
  }
  return count;
}

function requireEvents(store: EventStore, account: string): void {
  if (store.streamVersion(accountStreamId(account)) === 0) throw new Error(`there are no events for ${account}`);
}

/** `parley replay --account JID [--until P]`: the roster and block list at that point. */
export function replayAccount(store: EventStore, account: string, until: LogPoint | undefined, out: Out): void {
  requireEvents(store, account);
  const { state, last } = accountStateAt(store, account, until);
  const where = last ? `after event #${last.seq} (${last.recordedAt}, stream version ${last.streamVersion})` : "before its first event";
  out(`${account} ${where}; roster version ${state.version}`);
  for (const line of describeRoster(state)) out(line);
}

/** `parley replay --account JID --diff A B`: what changed between two points and why. */
export function diffAccount(store: EventStore, account: string, a: LogPoint, b: LogPoint, out: Out): void {
  requireEvents(store, account);
  const { changes, blockedBefore, blockedAfter } = diffAccountStates(store, account, a, b);
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
  requireEvents(store, account);
  const steps = explainAccountContact(store, account, contact);
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

/**
 * `parley import FILE`: JSON lines into an empty database, streamed: the file
 * is read chunk by chunk and the events go in through EventStore.startImport
 * (transactions of IMPORT_BATCH events, projections applied as they go in),
 * so memory stays bounded whatever the file's size. A bad line undoes the
 * whole import.
 */
export async function importEvents(dataDir: string | undefined, file: string): Promise<number> {
  const target = dataFile(dataDir);
  mkdirSync(path.dirname(target), { recursive: true });
  const store = EventStore.open(target);
  try {
    registerStandardProjections(store);
    const run = store.startImport();
    let lineNo = 0;
    try {
      const input = file === "-" ? process.stdin : createReadStream(file);
      for await (const lines of jsonLines(input)) for (const line of lines) {
        lineNo++;
        if (line.trim() === "") continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch (err) {
          throw new Error(`${file}:${lineNo}: not JSON: ${(err as Error).message}`);
        }
        if (!isStoredEvent(parsed)) throw new Error(`${file}:${lineNo}: not an exported event (needs seq, streamId, streamVersion, type, schemaVersion, payload, meta, recordedAt)`);
        try {
          run.add(parsed);
        } catch (err) {
          throw new Error(`${file}:${lineNo}: ${(err as Error).message}`);
        }
      }
      return run.finish();
    } catch (err) {
      run.abort();
      throw err;
    }
  } finally {
    store.close();
  }
}

/**
 * The lines of a stream, a chunk's worth at a time (readline costs a promise
 * per line). The last line need not end in a newline; CRLF is accepted.
 */
async function* jsonLines(input: NodeJS.ReadableStream): AsyncGenerator<string[]> {
  let rest = "";
  input.setEncoding("utf8");
  for await (const chunk of input as AsyncIterable<string>) {
    const text = rest + chunk;
    const lines = text.split("\n");
    rest = lines.pop() ?? "";
    yield lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  }
  if (rest !== "") yield [rest.endsWith("\r") ? rest.slice(0, -1) : rest];
}
