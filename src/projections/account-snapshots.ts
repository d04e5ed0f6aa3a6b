// Snapshots of each account stream's folded state (the decider's: the
// account's existence and credentials; the roster, pending requests, block
// list and roster version), and loading an account from them.
//
// Every `every` events of an account stream (stream versions every, 2·every,
// …) the append that reaches the version also writes the state at that
// version into account_snapshots (migrations/006), in the same transaction:
// it is a projection of the log, registered with the others, so the server,
// the CLI, `import` and `rebuild` all write snapshots. To build one it folds
// the previous snapshot plus the at most `every` events since, so its cost
// per event is O(1 + roster size / every), and it keeps nothing in memory.
//
// Loading = the newest snapshot + the events after it, with the in-place fold
// (roster-evolve.ts): at most `every - 1` events whatever the history's length.
// A snapshot holds the whole account stream state the decider folds
// (src/accounts/decider), so a caller can load either: loadAccountState (the
// roster) or loadAccountStreamState (the decider's AccountStreamState).
//
// Why snapshots and not the roster projection? The projection holds only the
// current state with no stream version beside it, and it is written inline by
// projections that anyone may rebuild; reading "the state at version v" from
// it would need a version column kept in step by every projection. Snapshots
// give the same O(tail) load, carry their stream version by construction, and
// also serve as checkpoints of the past: `replay --until P` and `--diff A B`
// start from the newest snapshot at or before P. The projection stays what
// routing and login read; snapshots are a cache of the log that `verify`
// checks (src/replay/verify.ts) and `rebuild` recomputes.
//
// schema_version: the format of `state` and the fold rules that made it. Bump
// SNAPSHOT_SCHEMA when either changes; rows of another schema are ignored
// (the fold starts from an older valid one, or from the stream's start) and
// replaced by `parley rebuild`. A database that had a long history before
// snapshots existed also loads by folding from the start until the next
// crossing of a multiple of `every` (or a rebuild) writes one.
import type { Database } from "better-sqlite3";
import type { EventStore, Projection, StoredEvent } from "../events/store.js";
import { accountStreamId } from "../events/types.js";
import { emptyRosterState, type RosterItem } from "../roster/roster-types.js";
import { accountDecider, initialAccountStreamState, type AccountState, type AccountStreamState } from "../accounts/decider/index.js";
import { isAccountEvent } from "../accounts/events.js";
import { applyAccountEvent, cloneRosterState, type MutableRosterState } from "../roster/roster-evolve.js";
import { statement } from "./statements.js";

/** The format of account_snapshots.state and the fold that produced it. */
export const SNAPSHOT_SCHEMA = 1;
/** Stream versions between snapshots: a load folds at most this many events minus one. */
export const DEFAULT_SNAPSHOT_EVERY = 500;

const ACCOUNT = "account:";
/** Stream versions read per query when folding a long stretch of a stream. */
const FOLD_PAGE = 5000;

interface SnapshotJson {
  version: number;
  items: RosterItem[];
  pendingIn: [string, string][];
  blocked: string[];
  /** The account part of the decider's state (exists, SCRAM credentials: never a password). */
  account: AccountState;
}

/** An account stream's state owned by one folder: the roster changed in place, the (small, immutable) account part replaced. */
export interface MutableAccountStreamState extends AccountStreamState {
  account: AccountState;
  readonly roster: MutableRosterState;
}

/** The JSON of a state, in its containers' iteration order (which the decoder keeps). */
export function encodeSnapshot(s: AccountStreamState): string {
  const r = s.roster;
  const json: SnapshotJson = { version: r.version, items: [...r.items.values()], pendingIn: [...r.pendingIn.entries()], blocked: [...r.blocked], account: s.account };
  return JSON.stringify(json);
}

export function decodeSnapshot(text: string): MutableAccountStreamState {
  const json = JSON.parse(text) as SnapshotJson;
  return {
    account: json.account,
    roster: {
      items: new Map(json.items.map((i) => [i.jid, i])),
      pendingIn: new Map(json.pendingIn),
      version: json.version,
      blocked: new Set(json.blocked),
    },
  };
}

/** A working copy of a decider state: one clone of the roster's containers. */
export function cloneAccountStreamState(s: AccountStreamState): MutableAccountStreamState {
  return { account: s.account, roster: cloneRosterState(s.roster) };
}

/**
 * The decider's evolve (accountDecider.evolve), in place: the roster by
 * applyAccountEvent, the account part by the decider's own rules (given an
 * empty roster, so they cost nothing). Events of other types change nothing.
 */
export function applyAccountStreamEvent(draft: MutableAccountStreamState, event: StoredEvent): void {
  applyAccountEvent(draft.roster, event);
  if (isAccountEvent(event)) draft.account = accountDecider.evolve({ account: draft.account, roster: emptyRosterState }, event).account;
}

/** For the command handler's `fold` (AccountCommandHandlerDeps): folds stored events into `state` itself and returns it. */
export function foldStoredInPlace(state: MutableAccountStreamState, stored: Iterable<StoredEvent>): MutableAccountStreamState {
  for (const e of stored) applyAccountStreamEvent(state, e);
  return state;
}

export interface Snapshot {
  streamVersion: number;
  /** The greatest seq of the events up to streamVersion. */
  maxSeq: number;
  /** The latest recorded_at among them. */
  maxRecordedAt: string;
  /** A fresh copy: the caller owns it. */
  state: MutableAccountStreamState;
}

interface SnapshotRow {
  stream_version: number;
  max_seq: number;
  max_recorded_at: string;
  state: string;
}

/** The newest snapshot of the current schema at or before `version`. */
export function snapshotAtOrBefore(db: Database, streamId: string, version: number): Snapshot | undefined {
  const row = statement(db, `SELECT stream_version, max_seq, max_recorded_at, state FROM account_snapshots
    WHERE stream_id = ? AND stream_version <= ? AND schema_version = ?
    ORDER BY stream_version DESC LIMIT 1`).get(streamId, version, SNAPSHOT_SCHEMA) as SnapshotRow | undefined;
  if (!row) return undefined;
  let state: MutableAccountStreamState;
  try {
    state = decodeSnapshot(row.state);
  } catch (err) {
    throw new Error(`the snapshot of ${streamId} at version ${row.stream_version} is not readable: ${(err as Error).message} (parley rebuild rewrites it)`);
  }
  return { streamVersion: row.stream_version, maxSeq: row.max_seq, maxRecordedAt: row.max_recorded_at, state };
}

export interface FoldedStream {
  /** Owned by the caller: keep folding into it with applyAccountEvent. */
  state: MutableRosterState;
  /** The stream version `state` reflects (0: before the first event). */
  version: number;
}

/** The same, with the decider's whole state: a `Versioned<AccountStreamState>` (src/accounts/command-handler.ts). */
export interface FoldedAccountStream {
  /** Owned by the caller: keep folding into it with applyAccountStreamEvent / foldStoredInPlace. */
  state: MutableAccountStreamState;
  version: number;
}

interface FoldedRange extends FoldedAccountStream {
  maxSeq: number;
  maxRecordedAt: string;
}

/** `db`: the connection to read through (the one a projection's apply() is given). */
function foldTo(store: EventStore, streamId: string, version: number, db: Database = store.db): FoldedRange {
  const snap = snapshotAtOrBefore(db, streamId, version);
  const out: FoldedRange = snap
    ? { state: snap.state, version: snap.streamVersion, maxSeq: snap.maxSeq, maxRecordedAt: snap.maxRecordedAt }
    : { state: cloneAccountStreamState(initialAccountStreamState), version: 0, maxSeq: 0, maxRecordedAt: "" };
  while (out.version < version) {
    const until = Math.min(version, out.version + FOLD_PAGE);
    const page = store.readStreamRange(streamId, out.version, until, db);
    for (const e of page) {
      applyAccountStreamEvent(out.state, e);
      if (e.seq > out.maxSeq) out.maxSeq = e.seq;
      if (e.recordedAt > out.maxRecordedAt) out.maxRecordedAt = e.recordedAt;
    }
    const last = page[page.length - 1];
    if (!last) break;
    out.version = last.streamVersion;
    // Versions are dense (1, 2, …): a page ending short is the stream's end.
    if (out.version < until) break;
  }
  return out;
}

/**
 * The roster of a stream after its event at `version` (or after its last
 * one, if it has fewer): the newest snapshot at or before it, plus the
 * events between, folded in place.
 */
export function stateAtVersion(store: EventStore, streamId: string, version: number): FoldedStream {
  const { state, version: at } = foldTo(store, streamId, version);
  return { state: state.roster, version: at };
}

/** The decider's whole state of the account after its event at `version` (e.g. just before a deletion). */
export function accountStreamStateAt(store: EventStore, bareJid: string, version: number): FoldedAccountStream {
  const { state, version: at } = foldTo(store, accountStreamId(bareJid), version);
  return { state, version: at };
}

/** For the kernel: the decider's whole state of the account now, and its stream version. */
export function loadAccountStreamState(store: EventStore, bareJid: string): FoldedAccountStream {
  return accountStreamStateAt(store, bareJid, Number.MAX_SAFE_INTEGER);
}

/**
 * The stream version a replay to a point stops at: every event before the
 * first one past the point (a greater seq, or recorded later), as replayTo
 * does over the whole stream. The search starts at the newest snapshot
 * (of any schema: its bounds are facts of the log) whose events all lie at
 * or before the point, so it walks fewer than `every` events.
 */
export function streamVersionAt(store: EventStore, streamId: string, point: { seq: number } | { time: string }): number {
  const row = ("seq" in point
    ? statement(store.db, "SELECT stream_version AS v FROM account_snapshots WHERE stream_id = ? AND max_seq <= ? ORDER BY stream_version DESC LIMIT 1").get(streamId, point.seq)
    : statement(store.db, "SELECT stream_version AS v FROM account_snapshots WHERE stream_id = ? AND max_recorded_at <= ? ORDER BY stream_version DESC LIMIT 1").get(streamId, point.time)) as { v: number } | undefined;
  const past = store.firstVersionPast(streamId, row?.v ?? 0, point);
  return past === undefined ? store.streamVersion(streamId) : past - 1;
}

/**
 * For the account actor: the account's roster state now and the stream
 * version it reflects (pass that as expectedVersion to the next append).
 * Newest snapshot + the events after it, so its cost does not grow with the
 * account's history.
 */
export function loadAccountState(store: EventStore, bareJid: string): FoldedStream {
  return stateAtVersion(store, accountStreamId(bareJid), Number.MAX_SAFE_INTEGER);
}

function writeSnapshot(db: Database, streamId: string, folded: FoldedRange): void {
  statement(db, `INSERT OR REPLACE INTO account_snapshots (stream_id, stream_version, max_seq, max_recorded_at, schema_version, state)
    VALUES (?, ?, ?, ?, ?, ?)`).run(streamId, folded.version, folded.maxSeq, folded.maxRecordedAt, SNAPSHOT_SCHEMA, encodeSnapshot(folded.state));
}

/** Which stream versions get a snapshot: every multiple of `every`. */
export function isSnapshotVersion(version: number, every: number): boolean {
  return version % every === 0;
}

export function checkSnapshotEvery(every: number): number {
  if (!Number.isSafeInteger(every) || every < 1) throw new Error(`snapshots need a whole number of events of at least 1 between them, not ${every}`);
  return every;
}

/**
 * What an appender may tell the snapshot writer: the stream's whole state at
 * the version it appends after. The account actor has it in memory; without
 * it a snapshot folds the previous one plus up to `every` events read back
 * from the log, a few milliseconds on the event loop every `every` events.
 */
export interface SnapshotOffer {
  /**
   * Runs `append` (an append to `streamId` expecting `version`) with `state`,
   * the stream's state at `version`, offered: a snapshot due at its first
   * event is that state plus the event. `state` is only read (copied).
   */
  appendingFrom<T>(streamId: string, version: number, state: AccountStreamState, append: () => T): T;
}

export type AccountSnapshotProjection = Projection & SnapshotOffer;

/** The greatest seq and latest recorded_at of a stream's events in (after, upTo], read from the rows, not folded. */
function boundsOf(db: Database, streamId: string, after: number, upTo: number): { maxSeq: number; maxRecordedAt: string } {
  const row = statement(db, `SELECT max(seq) AS s, max(recorded_at) AS t FROM events
    WHERE stream_id = ? AND stream_version > ? AND stream_version <= ?`).get(streamId, after, upTo) as { s: number | null; t: string | null };
  return { maxSeq: row.s ?? 0, maxRecordedAt: row.t ?? "" };
}

/** The state at `event`'s version from the state just before it: a copy, the event applied, the log's bounds. */
function foldOffered(db: Database, offered: { state: AccountStreamState; version: number }, event: StoredEvent): FoldedRange {
  const state = cloneAccountStreamState(offered.state);
  applyAccountStreamEvent(state, event);
  // The bounds of every event up to this one: the previous snapshot's (of any
  // schema: they are facts of the log), then the rows after it.
  const prev = statement(db, `SELECT stream_version, max_seq, max_recorded_at FROM account_snapshots
    WHERE stream_id = ? AND stream_version < ? ORDER BY stream_version DESC LIMIT 1`)
    .get(event.streamId, event.streamVersion) as Omit<SnapshotRow, "state"> | undefined;
  const tail = boundsOf(db, event.streamId, prev?.stream_version ?? 0, event.streamVersion);
  const maxRecordedAt = prev && prev.max_recorded_at > tail.maxRecordedAt ? prev.max_recorded_at : tail.maxRecordedAt;
  return { state, version: event.streamVersion, maxSeq: Math.max(prev?.max_seq ?? 0, tail.maxSeq), maxRecordedAt };
}

/**
 * The snapshot writer, a projection of `store`'s log: it reads the previous
 * snapshot and the events since, through the connection apply() is given,
 * inside the append's transaction, where the event applied is already
 * inserted; `store` supplies the upcasters. An appender that offers the
 * state it appends from (SnapshotOffer) spares it the fold.
 */
export function accountSnapshots(store: EventStore, every = DEFAULT_SNAPSHOT_EVERY): AccountSnapshotProjection {
  checkSnapshotEvery(every);
  let offered: { streamId: string; version: number; state: AccountStreamState } | undefined;
  return {
    name: "snapshots",
    tables: ["account_snapshots"],
    checkedAgainstLog: true,
    appendingFrom<T>(streamId: string, version: number, state: AccountStreamState, append: () => T): T {
      const outer = offered;
      offered = { streamId, version, state };
      try {
        return append();
      } finally {
        offered = outer;
      }
    },
    apply(db: Database, event: StoredEvent): void {
      if (!event.streamId.startsWith(ACCOUNT) || !isSnapshotVersion(event.streamVersion, every)) return;
      // Only for the append's first event: the offered state is the one just before it.
      const folded = offered !== undefined && offered.streamId === event.streamId && offered.version === event.streamVersion - 1
        ? foldOffered(db, offered, event)
        : foldTo(store, event.streamId, event.streamVersion, db);
      if (folded.version !== event.streamVersion) {
        throw new Error(`snapshot of ${event.streamId} at version ${event.streamVersion}: the log holds the stream only up to version ${folded.version}`);
      }
      writeSnapshot(db, event.streamId, folded);
    },
    reset(db: Database): void {
      statement(db, "DELETE FROM account_snapshots").run();
    },
  };
}
