// Comparing projection tables with the log: `verify` replays the log into a
// scratch in-memory database and compares, writing nothing; `rebuild`
// replays into the live tables and reports what was different before.
// Two caches of the log are checked against the live log itself instead of
// a scratch replay (a scratch database holds no events to read): the account
// snapshots (each must equal the fold of its stream up to its version) and
// the subject index (it must equal its rows recomputed from the log, up to its mark).
import { createHash } from "node:crypto";
import { EventStore, SUBJECTS_OF_EVENTS, type Projection } from "../events/store.js";
import { registerStandardProjections, snapshotTables, checksumProjection } from "../projections/index.js";
import { SNAPSHOT_SCHEMA, encodeSnapshot, applyAccountStreamEvent, cloneAccountStreamState } from "../projections/account-snapshots.js";
import { initialAccountStreamState } from "../accounts/decider/index.js";

export interface ProjectionReport {
  name: string;
  liveChecksum: string;
  logChecksum: string;
  ok: boolean;
  /** Tables whose rows differ, with row counts live → from the log. */
  differences: string[];
}

function compare(p: Projection, live: EventStore, fromLog: EventStore): ProjectionReport {
  const a = snapshotTables(live.db, p.tables);
  const b = snapshotTables(fromLog.db, p.tables);
  const differences: string[] = [];
  for (const t of p.tables) {
    if (JSON.stringify(a[t]) !== JSON.stringify(b[t])) differences.push(`${t}: ${a[t]?.length ?? 0} rows live, ${b[t]?.length ?? 0} from the log`);
  }
  const liveChecksum = checksumProjection(live.db, p);
  const logChecksum = checksumProjection(fromLog.db, p);
  return { name: p.name, liveChecksum, logChecksum, ok: differences.length === 0, differences };
}

interface SnapshotCheckRow {
  stream_id: string;
  stream_version: number;
  max_seq: number;
  max_recorded_at: string;
  schema_version: number;
  state: string;
}

const FOLD_PAGE = 5000;

/**
 * Every snapshot row against the fold of its stream from the first event
 * (never from another snapshot) up to its version. Only the rows there are
 * are checked: which versions have one depends on the interval in force when
 * they were written.
 */
export function verifySnapshots(live: EventStore): ProjectionReport {
  const liveHash = createHash("sha256");
  const logHash = createHash("sha256");
  let wrong = 0;
  let stale = 0;
  let rows = 0;
  const streams = (live.db.prepare("SELECT DISTINCT stream_id FROM account_snapshots ORDER BY stream_id").all() as { stream_id: string }[]).map((r) => r.stream_id);
  const rowsOf = live.db.prepare("SELECT * FROM account_snapshots WHERE stream_id = ? ORDER BY stream_version");
  for (const streamId of streams) {
    const snaps = rowsOf.all(streamId) as SnapshotCheckRow[];
    const state = cloneAccountStreamState(initialAccountStreamState);
    let at = 0;
    let maxSeq = 0;
    let maxRecordedAt = "";
    for (const snap of snaps) {
      while (at < snap.stream_version) {
        const page = live.readStreamRange(streamId, at, Math.min(snap.stream_version, at + FOLD_PAGE));
        for (const e of page) {
          applyAccountStreamEvent(state, e);
          if (e.seq > maxSeq) maxSeq = e.seq;
          if (e.recordedAt > maxRecordedAt) maxRecordedAt = e.recordedAt;
        }
        const last = page[page.length - 1];
        if (!last) break;
        at = last.streamVersion;
      }
      const expected = at === snap.stream_version
        ? { max_seq: maxSeq, max_recorded_at: maxRecordedAt, state: encodeSnapshot(state) }
        : { max_seq: -1, max_recorded_at: "", state: "(the log has no such stream version)" };
      const key = `${streamId}\u0000${snap.stream_version}\u0000`;
      liveHash.update(key + JSON.stringify([snap.max_seq, snap.max_recorded_at, snap.schema_version, snap.state]));
      logHash.update(key + JSON.stringify([expected.max_seq, expected.max_recorded_at, SNAPSHOT_SCHEMA, expected.state]));
      rows++;
      if (snap.max_seq !== expected.max_seq || snap.max_recorded_at !== expected.max_recorded_at) wrong++;
      else if (snap.schema_version !== SNAPSHOT_SCHEMA) stale++;
      else if (snap.state !== expected.state) wrong++;
    }
  }
  const differences: string[] = [];
  if (wrong > 0) differences.push(`account_snapshots: ${wrong} of ${rows} rows differ from the fold of the log`);
  if (stale > 0) differences.push(`account_snapshots: ${stale} of ${rows} rows have a schema other than ${SNAPSHOT_SCHEMA} (ignored; rebuild rewrites them)`);
  return { name: "snapshots", liveChecksum: liveHash.digest("hex"), logChecksum: logHash.digest("hex"), ok: differences.length === 0, differences };
}

type SubjectRow = [string, string, number];

/** Orders rows as both queries below do: by seq, then by the JID's UTF-8 bytes (hex keeps JavaScript's order the same as SQLite's). */
function subjectOrder(a: SubjectRow, b: SubjectRow): number {
  if (a[2] !== b[2]) return a[2] - b[2];
  const x = Buffer.from(a[1]).toString("hex");
  const y = Buffer.from(b[1]).toString("hex");
  if (x !== y) return x < y ? -1 : 1;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * The subject index (src/events/subject-index.ts) against its rows
 * recomputed from the log, up to the index's mark: what lies after it is
 * read from the log by every query, so it cannot be wrong. Both sides are
 * read in the same order and walked side by side, in bounded memory.
 */
export function verifySubjects(live: EventStore): ProjectionReport {
  const through = live.subjects.refresh();
  const indexed = live.subjects.db.prepare("SELECT stream_id, jid, seq FROM event_subjects WHERE seq <= ? ORDER BY seq, hex(jid), stream_id").raw()
    .iterate(through) as IterableIterator<SubjectRow>;
  const fromLog = live.db.prepare(`SELECT stream_id, jid, seq FROM (${SUBJECTS_OF_EVENTS}) WHERE seq <= ? ORDER BY seq, hex(jid), stream_id`).raw()
    .iterate(through) as IterableIterator<SubjectRow>;
  const liveHash = createHash("sha256");
  const logHash = createHash("sha256");
  let extra = 0;
  let missing = 0;
  let a = indexed.next();
  let b = fromLog.next();
  while (!a.done || !b.done) {
    const order = a.done ? 1 : b.done ? -1 : subjectOrder(a.value, b.value);
    if (!a.done && order <= 0) liveHash.update(JSON.stringify(a.value) + "\n");
    if (!b.done && order >= 0) logHash.update(JSON.stringify(b.value) + "\n");
    if (order < 0) extra++;
    if (order > 0) missing++;
    if (order <= 0) a = indexed.next();
    if (order >= 0) b = fromLog.next();
  }
  const differences: string[] = [];
  if (extra + missing > 0) differences.push(`event_subjects: ${extra} rows not from the log, ${missing} rows of the log missing (up to event #${through})`);
  return { name: "subjects", liveChecksum: liveHash.digest("hex"), logChecksum: logHash.digest("hex"), ok: differences.length === 0, differences };
}

/**
 * Replays the whole log into a scratch database and compares every projection;
 * then checks the snapshots and the subject index against the live log.
 */
export function verifyProjections(live: EventStore): ProjectionReport[] {
  const scratch = EventStore.open(":memory:");
  try {
    registerStandardProjections(scratch);
    const projections = scratch.projectionsRegistered().filter((p) => p.checkedAgainstLog !== true);
    scratch.db.transaction(() => {
      for (const e of live.readAll()) for (const p of projections) p.apply(scratch.db, e);
    })();
    const reports = projections.map((p) => compare(p, live, scratch));
    const registered = new Set(live.projectionsRegistered().map((p) => p.name));
    if (registered.has("snapshots")) reports.push(verifySnapshots(live));
    reports.push(verifySubjects(live)); // the store's own index by contact, whatever is registered
    return reports;
  } finally {
    scratch.close();
  }
}

/** Rebuilds the live projections from the log; reports, per projection, whether it had diverged. */
export function rebuildAndReport(live: EventStore): ProjectionReport[] {
  const before = verifyProjections(live);
  live.rebuildProjections();
  return before.map((r) => {
    const p = live.projectionsRegistered().find((x) => x.name === r.name);
    const after = r.name === "subjects" ? verifySubjects(live).liveChecksum
      : r.name === "snapshots" ? verifySnapshots(live).liveChecksum
      : p ? checksumProjection(live.db, p) : r.logChecksum;
    return { ...r, logChecksum: after };
  });
}
