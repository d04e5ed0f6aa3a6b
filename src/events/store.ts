// The event store: one append-only SQLite table, optimistic concurrency per
// stream, and projections updated in the same transaction as the append.
//
// Durability: WAL with synchronous=FULL, so a committed append survives a crash
// or power loss; WAL lets the CLI read and write while the server runs
// (busy_timeout covers the brief locks). In the server, appends of one
// event-loop turn share a transaction and nothing is sent to a client before
// it commits (commit-gate.ts); elsewhere each append commits on its own.
import type { CommitGate, OutputCauses } from "./commit-gate.js";
import Database from "better-sqlite3";
import type { Database as Db, Statement, Transaction } from "better-sqlite3";
import { migrate } from "./migrations.js";
import { isoTimestamp } from "../util/iso-time.js";
import { SubjectIndex } from "./subject-index.js";
import { subjectsOf } from "../projections/event-subjects.js";
import type { EventMeta, NewEvent, StoredEvent } from "./types.js";

export type { StoredEvent, NewEvent, EventMeta } from "./types.js";

export class ConcurrencyError extends Error {
  constructor(readonly streamId: string, readonly expected: number, readonly actual: number) {
    super(`stream ${streamId} is at version ${actual}, not ${expected}: it changed since it was read`);
    this.name = "ConcurrencyError";
  }
}

/** A fold of events into tables, kept in step with the log inside each append. */
export interface Projection {
  readonly name: string;
  readonly tables: readonly string[];
  apply(db: Db, event: StoredEvent): void;
  /** Delete every row, before a rebuild. */
  reset(db: Db): void;
  /**
   * `verify` checks it against the live log itself, not by a replay into a
   * scratch database (src/replay/verify.ts): its apply() reads the log
   * (snapshots fold the events before the one applied), or it has a row per
   * event (the subject index), too many to hold twice in memory.
   */
  readonly checkedAgainstLog?: boolean;
}

export type Upcaster = (payload: unknown) => unknown;

interface EventRow {
  seq: number;
  stream_id: string;
  stream_version: number;
  type: string;
  schema_version: number;
  payload: string;
  meta: string;
  recorded_at: string;
}

export interface ReadOptions {
  afterSeq?: number;
  untilSeq?: number;
  streamId?: string;
}

/** A filter of the log answered from its indexes (stream, type, seq). */
export interface EventFilter {
  streamId?: string;
  types?: readonly string[];
  afterSeq?: number;
  untilSeq?: number;
  /** recorded_at >= this */
  fromTime?: string;
  /** recorded_at <= this */
  untilTime?: string;
}

const RANGE_SQL = "SELECT * FROM events WHERE stream_id = ? AND stream_version > ? AND stream_version <= ? ORDER BY stream_version";

/** Rows read per page when a pass writes on the connection it reads from. */
const PAGE = 5000;
/** Streams whose version the store remembers from its own appends; past this, it forgets them all and starts again. */
const KNOWN_VERSIONS = 100_000;
/** Events per transaction of a streamed import. */
export const IMPORT_BATCH = 50_000;
/** Events per transaction of the subject index when an import has finished. */
const IMPORT_SUBJECTS_BATCH = 20_000;
/** SQLite's page cache during an import, in KiB (part of the import's bounded memory). */
const IMPORT_CACHE_KIB = 64 * 1024;

export class EventStore implements OutputCauses {
  private readonly projections: Projection[] = [];
  private readonly listeners: ((events: StoredEvent[]) => void)[] = [];
  private gate: CommitGate | undefined;
  private readonly appendTx: Transaction<(streamId: string, expectedVersion: number, events: NewEvent[]) => StoredEvent[]>;
  private readonly upcasters = new Map<string, Map<number, Upcaster>>();
  private readonly insert: Statement;
  private readonly versionOf: Statement<[string], { v: number | null }>;
  private readonly streamRows: Statement<[string, number], EventRow>;
  private readonly lastSeqStmt: Statement<[], { s: number | null }>;
  private readonly rangeRows: Statement<[string, number, number], EventRow>;
  private readonly firstAfterSeq: Statement<[string, number, number], { v: number }>;
  private readonly firstAfterTime: Statement<[string, number, string], { v: number }>;
  private readonly rowAt: Statement<[string, number], EventRow>;
  private readonly pageRows: Statement<[number, number], EventRow>;
  private readonly tailRows: Statement<[number, number, string], { seq: number; type: string; payload: string }>;
  private readonly prepared = new Map<string, Statement>();
  /**
   * Each stream's version after this store's own last append to it, when that
   * append cannot be undone (it committed, or it is in the commit gate's turn,
   * whose failure stops the process). An append whose expected version matches
   * skips the max() query: the log only grows, so the stream is at that
   * version or, if another connection appended since, beyond it, and then the
   * insert at expected + 1 breaks UNIQUE(stream_id, stream_version) and is
   * reported as the same ConcurrencyError. Any other expected version is
   * checked against the log as before.
   */
  private readonly knownVersions = new Map<string, number>();

  /**
   * The log indexed by contact, kept behind the log in a database of its own
   * (subject-index.ts): the server's worker thread, or import and rebuild, catch it up.
   */
  readonly subjects: SubjectIndex;

  private constructor(readonly db: Db, subjects?: SubjectIndex) {
    this.subjects = subjects ?? SubjectIndex.open(":memory:");
    this.insert = db.prepare(`INSERT INTO events
      (stream_id, stream_version, type, schema_version, payload, meta, recorded_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.versionOf = db.prepare("SELECT max(stream_version) AS v FROM events WHERE stream_id = ?");
    this.streamRows = db.prepare("SELECT * FROM events WHERE stream_id = ? AND stream_version > ? ORDER BY stream_version");
    this.lastSeqStmt = db.prepare("SELECT max(seq) AS s FROM events");
    this.rangeRows = db.prepare(RANGE_SQL);
    // Both walk the stream's index in version order from a starting version, to the first event past the point.
    this.firstAfterSeq = db.prepare("SELECT stream_version AS v FROM events WHERE stream_id = ? AND stream_version > ? AND seq > ? ORDER BY stream_version LIMIT 1");
    this.firstAfterTime = db.prepare("SELECT stream_version AS v FROM events WHERE stream_id = ? AND stream_version > ? AND recorded_at > ? ORDER BY stream_version LIMIT 1");
    this.rowAt = db.prepare("SELECT * FROM events WHERE stream_id = ? AND stream_version = ?");
    this.pageRows = db.prepare("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
    // The log after the subject index's mark, by seq (+ keeps SQLite off the stream index, which would walk the whole stream).
    this.tailRows = db.prepare("SELECT seq, type, payload FROM events WHERE seq > ? AND seq <= ? AND +stream_id = ? ORDER BY seq");
    // Built once: better-sqlite3 wraps the function anew on every db.transaction() call.
    this.appendTx = db.transaction((streamId: string, expectedVersion: number, events: NewEvent[]): StoredEvent[] => {
      if (this.knownVersions.get(streamId) !== expectedVersion) {
        const actual = this.streamVersion(streamId);
        if (actual !== expectedVersion) throw new ConcurrencyError(streamId, expectedVersion, actual);
      }
      const recordedAt = isoTimestamp();
      const out: StoredEvent[] = [];
      let version = expectedVersion;
      for (const e of events) {
        version++;
        const schemaVersion = e.schemaVersion ?? 1;
        let info;
        try {
          info = this.insert.run(streamId, version, e.type, schemaVersion,
            JSON.stringify(e.payload), JSON.stringify(e.meta), recordedAt);
        } catch (err) {
          if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") {
            throw new ConcurrencyError(streamId, expectedVersion, this.streamVersion(streamId));
          }
          throw err;
        }
        const event: StoredEvent = {
          seq: Number(info.lastInsertRowid), streamId, streamVersion: version, type: e.type,
          schemaVersion, payload: e.payload, meta: e.meta, recordedAt,
        };
        for (const p of this.projections) p.apply(this.db, event);
        out.push(event);
      }
      return out;
    });
  }

  /**
   * Every connection says its durability itself: `synchronous` is a property of
   * the connection, not of the file, and a connection that does not set it gets
   * the compiled-in default (FULL in stock SQLite, NORMAL in some builds), so a
   * reopened WAL database must not be trusted to inherit anything. FULL here;
   * the server's commit gate switches its own transactions to NORMAL and
   * syncs the WAL itself (commit-gate.ts). Read-only connections write
   * nothing, but set it too so that no connection's setting is left to chance.
   */
  static open(file: string, options: { readonly?: boolean } = {}): EventStore {
    const readonly = options.readonly ?? false;
    let db: Db;
    try {
      db = new Database(file, { readonly, fileMustExist: readonly });
    } catch (err) {
      throw new Error(`cannot open the event store ${file}${readonly ? " (read-only)" : ""}: ${(err as Error).message}`, { cause: err });
    }
    db.pragma("busy_timeout = 5000");
    db.pragma("synchronous = FULL");
    if (!readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("foreign_keys = ON");
      migrate(db);
    }
    let subjects: SubjectIndex;
    try {
      subjects = SubjectIndex.open(file, { readonly });
      if (!readonly) subjects.reconcile(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return new EventStore(db, subjects);
  }

  /**
   * From now on appends join the current event-loop turn's transaction, which
   * the gate commits at the end of the turn (group commit; see commit-gate.ts).
   */
  useCommitGate(gate: CommitGate): void {
    this.gate = gate;
  }

  /**
   * Joins the current event-loop turn's transaction (opening it if this turn
   * has none) for a write that is not an append: a module's own table (the
   * message archive). The write then commits with the turn's appends, in the
   * same fsync, before the turn's output leaves. Without a commit gate (tools,
   * unit tests) it does nothing and such a write commits on its own.
   */
  /** `stream`: the stream (or account) the write is about, if one is (commit-gate.ts, free output). */
  joinTurn(stream?: string): void {
    this.gate?.beginWrite(stream);
  }

  /** Runs `release` once the writes made so far are durable (at once without a commit gate, where each commits itself). */
  /** The commit gate's turn (0 without one): output of one turn is released together. */
  get turn(): number {
    return this.gate?.turn ?? 0;
  }

  /** Whether output written now depends on nothing waiting to be durable (commit-gate.ts): true without a gate. */
  get outputFree(): boolean {
    return this.gate ? this.gate.free : true;
  }

  // What output depends on, named by the kernel while it handles a stanza
  // (OutputCauses, commit-gate.ts); without a gate every append syncs itself.
  within<T>(stream: string, fn: () => T): T {
    return this.gate ? this.gate.within(stream, fn) : fn();
  }

  touch(stream: string): void {
    this.gate?.touch(stream);
  }

  touchAll(): void {
    this.gate?.touchAll();
  }

  whenDurable(release: () => void): void {
    if (this.gate) this.gate.hold(release);
    else release();
  }

  registerProjection(p: Projection): void {
    this.projections.push(p);
  }

  projectionsRegistered(): readonly Projection[] {
    return this.projections;
  }

  /** Called after each committed append, with the stored events. */
  onAppended(listener: (events: StoredEvent[]) => void): void {
    this.listeners.push(listener);
  }

  /** Old payload shapes are upgraded on read: `fromVersion` → fromVersion + 1. */
  registerUpcaster(type: string, fromVersion: number, upcast: Upcaster): void {
    let byVersion = this.upcasters.get(type);
    if (!byVersion) this.upcasters.set(type, (byVersion = new Map()));
    byVersion.set(fromVersion, upcast);
  }

  streamVersion(streamId: string): number {
    return this.versionOf.get(streamId)?.v ?? 0;
  }

  lastSeq(): number {
    return this.lastSeqStmt.get()?.s ?? 0;
  }

  /**
   * Appends events to a stream that the caller last saw at `expectedVersion`,
   * and applies them to every projection, all in one transaction.
   */
  append(streamId: string, expectedVersion: number, events: NewEvent[]): StoredEvent[] {
    if (events.length === 0) return [];
    // Inside the gate's open transaction this is a savepoint: a conflict undoes only this append.
    this.gate?.beginWrite(streamId);
    // The version reached is remembered only if nothing can undo the append: it commits on its own, or
    // in the gate's turn; a caller's own transaction may yet roll it back.
    const lasting = !this.db.inTransaction || (this.gate?.inTurn ?? false);
    let stored: StoredEvent[];
    try {
      stored = this.appendTx.immediate(streamId, expectedVersion, events);
    } finally {
      // A failed append (a conflict) leaves nothing remembered; a lasting one its new version.
      this.knownVersions.delete(streamId);
    }
    if (lasting) {
      if (this.knownVersions.size >= KNOWN_VERSIONS) this.knownVersions.clear();
      this.knownVersions.set(streamId, (stored[stored.length - 1] as StoredEvent).streamVersion);
    }
    for (const l of this.listeners) l(stored);
    return stored;
  }

  readStream(streamId: string, afterVersion = 0): StoredEvent[] {
    return this.streamRows.all(streamId, afterVersion).map((r) => this.fromRow(r));
  }

  /**
   * The stream's events with afterVersion < stream version <= untilVersion, in
   * order. `on`: the connection to read through, for a projection's apply(),
   * which must see its own append's uncommitted rows whichever connection
   * that append runs on.
   */
  readStreamRange(streamId: string, afterVersion: number, untilVersion: number, on: Db = this.db): StoredEvent[] {
    const stmt = on === this.db ? this.rangeRows : on.prepare<[string, number, number], EventRow>(RANGE_SQL);
    return stmt.all(streamId, afterVersion, untilVersion).map((r) => this.fromRow(r));
  }

  /** The stream's event at a version, if there is one. */
  eventAt(streamId: string, version: number): StoredEvent | undefined {
    const row = this.rowAt.get(streamId, version);
    return row && this.fromRow(row);
  }

  /**
   * The version of the stream's first event after `fromVersion` that lies
   * past the point (seq greater, or recorded later), if there is one: a
   * replay to the point stops just before it. Cost: the events walked.
   */
  firstVersionPast(streamId: string, fromVersion: number, point: { seq: number } | { time: string }): number | undefined {
    const row = "seq" in point ? this.firstAfterSeq.get(streamId, fromVersion, point.seq) : this.firstAfterTime.get(streamId, fromVersion, point.time);
    return row?.v;
  }

  /** A statement whose text depends on how many values it takes, compiled once per text. */
  private cached(sql: string): Statement {
    let stmt = this.prepared.get(sql);
    if (!stmt) {
      // Bounded: IN lists of up to 500 values make at most a few hundred texts.
      if (this.prepared.size >= 1000) this.prepared.clear();
      this.prepared.set(sql, (stmt = this.db.prepare(sql)));
    }
    return stmt;
  }

  /** Events by sequence number, in sequence order (missing ones are left out). */
  readSeqs(seqs: readonly number[]): StoredEvent[] {
    const out: StoredEvent[] = [];
    // Bounded IN lists: SQLite caps the number of parameters of one statement.
    for (let i = 0; i < seqs.length; i += 500) {
      const chunk = seqs.slice(i, i + 500);
      const rows = this.cached(`SELECT * FROM events WHERE seq IN (${chunk.map(() => "?").join(",")}) ORDER BY seq`).all(...chunk) as EventRow[];
      for (const r of rows) out.push(this.fromRow(r));
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Sequence numbers of the stream's events about any of `jids` ('*' = events
   * touching everyone), with afterSeq < seq <= untilSeq, in order: the subject
   * index's rows up to its mark (subject-index.ts), then the log's events
   * after the mark, read here. The same answer however far behind the index is.
   */
  subjectSeqs(streamId: string, jids: readonly string[], afterSeq = 0, untilSeq = Number.MAX_SAFE_INTEGER): number[] {
    if (jids.length === 0) return [];
    const { seqs, through } = this.subjects.indexedSeqs(streamId, jids, afterSeq, untilSeq);
    if (untilSeq <= through) return seqs;
    const wanted = new Set(jids);
    for (const r of this.tailRows.iterate(Math.max(afterSeq, through), untilSeq, streamId)) {
      if (subjectsOf({ type: r.type, payload: JSON.parse(r.payload) as unknown }).some((j) => wanted.has(j))) seqs.push(r.seq);
    }
    return seqs;
  }

  /** Brings the subject index up to the log's committed events, in-process (tools; the server has a thread for it). */
  indexSubjects(): number {
    return this.subjects.catchUpAll(this.db);
  }

  /**
   * The events matching a filter, in sequence order, read through the indexes:
   * by stream (UNIQUE(stream_id, stream_version)), by type (events_type) or
   * by seq (the rowid), never by decoding every row.
   */
  *queryEvents(filter: EventFilter): IterableIterator<StoredEvent> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.streamId !== undefined) { where.push("stream_id = ?"); args.push(filter.streamId); }
    if (filter.types && filter.types.length > 0) {
      // With a stream, its index is the narrow one; unary + keeps SQLite (which has no
      // statistics) from choosing events_type and scanning that type across the whole log.
      where.push(`${filter.streamId !== undefined ? "+" : ""}type IN (${filter.types.map(() => "?").join(",")})`);
      args.push(...filter.types);
    }
    if (filter.afterSeq !== undefined) { where.push("seq > ?"); args.push(filter.afterSeq); }
    if (filter.untilSeq !== undefined) { where.push("seq <= ?"); args.push(filter.untilSeq); }
    if (filter.fromTime !== undefined) { where.push("recorded_at >= ?"); args.push(filter.fromTime); }
    if (filter.untilTime !== undefined) { where.push("recorded_at <= ?"); args.push(filter.untilTime); }
    const sql = `SELECT * FROM events ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY seq`;
    for (const row of this.db.prepare(sql).iterate(...args) as IterableIterator<EventRow>) {
      yield this.fromRow(row);
    }
  }

  *readAll(options: ReadOptions = {}): IterableIterator<StoredEvent> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (options.afterSeq !== undefined) { where.push("seq > ?"); args.push(options.afterSeq); }
    if (options.untilSeq !== undefined) { where.push("seq <= ?"); args.push(options.untilSeq); }
    if (options.streamId !== undefined) { where.push("stream_id = ?"); args.push(options.streamId); }
    const sql = `SELECT * FROM events ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY seq`;
    for (const row of this.db.prepare(sql).iterate(...args) as IterableIterator<EventRow>) {
      yield this.fromRow(row);
    }
  }

  /** Empty every projection and replay the whole log into them, in one transaction. */
  rebuildProjections(): void {
    this.db.transaction(() => this.replayIntoProjections()).immediate();
    this.subjects.reset();
    this.indexSubjects();
  }

  private replayIntoProjections(): void {
    for (const p of this.projections) p.reset(this.db);
    // In pages, not one .iterate(): projections write on this connection while
    // we read, and .all() of the whole log would hold it all in memory.
    for (let after = 0; ;) {
      const rows = this.pageRows.all(after, PAGE);
      for (const row of rows) {
        const event = this.fromRow(row);
        for (const p of this.projections) p.apply(this.db, event);
      }
      const last = rows[rows.length - 1];
      if (!last) break;
      after = last.seq;
    }
  }

  /**
   * Writes events exactly as exported (same seq, stream, version, time) into a
   * database that has no events yet, then rebuilds the projections. For tests
   * and small logs; `parley import` streams with startImport().
   */
  importEvents(events: Iterable<StoredEvent>): number {
    const run = this.startImport();
    try {
      for (const e of events) run.add(e);
      return run.finish();
    } catch (err) {
      run.abort();
      throw err;
    }
  }

  /**
   * A streamed import into a database with no events: add() events in
   * sequence order (as `export` writes them); every `batch` events are
   * committed, with the projections applied as each is inserted (in seq
   * order that is the same as a rebuild, in one pass). finish() commits the
   * rest; abort() rolls back and deletes what earlier batches wrote, so a
   * failed import leaves the database empty again (a crash in the middle
   * leaves a partial log that `import` refuses and `rm` mends).
   */
  startImport(batch = IMPORT_BATCH): EventImport {
    this.knownVersions.clear();
    if (this.db.inTransaction) throw new Error("an import cannot run inside another transaction");
    if (this.lastSeq() !== 0) throw new Error("the database already has events; import needs an empty one");
    this.subjects.reset();
    return new EventImport(this.db, this.projections, batch, this.subjects);
  }

  close(): void {
    this.subjects.close();
    this.db.close();
  }

  private fromRow(r: EventRow): StoredEvent {
    let payload: unknown = JSON.parse(r.payload);
    let version = r.schema_version;
    const chain = this.upcasters.get(r.type);
    if (chain) {
      for (let up = chain.get(version); up; up = chain.get(version)) {
        payload = up(payload);
        version++;
      }
    }
    return {
      seq: r.seq, streamId: r.stream_id, streamVersion: r.stream_version, type: r.type,
      schemaVersion: version, payload, meta: JSON.parse(r.meta) as EventMeta, recordedAt: r.recorded_at,
    };
  }
}

/**
 * The event_subjects rows of the events in the log, in SQL: what `verify`
 * checks the subject index (subject-index.ts, whose rows subjectsOf in
 * src/projections/event-subjects.ts computes) against.
 */
export const SUBJECTS_OF_EVENTS = `
  SELECT stream_id, json_extract(payload, '$.jid') AS jid, seq FROM events
  WHERE type IN ('RosterItemSet', 'RosterItemRemoved', 'SubscriptionRequested', 'SubscriptionRequestReceived',
    'ContactApproved', 'ContactPreApproved', 'SubscriptionGranted', 'ContactSubscriptionCancelled', 'SubscriptionCancelled')
  UNION SELECT e.stream_id, j.value, e.seq FROM events AS e, json_each(e.payload, '$.jids') AS j
  WHERE e.type IN ('ContactsBlocked', 'ContactsUnblocked')
  UNION SELECT stream_id, '*', seq FROM events WHERE type IN ('AllContactsUnblocked', 'AccountDeleted')`;

/** One streamed import (EventStore.startImport). */
export class EventImport {
  private readonly insert: Statement;
  private count = 0;
  private inBatch = 0;
  private lastSeq = 0;
  private done = false;

  private readonly cacheSize: number;

  constructor(private readonly db: Db, private readonly projections: readonly Projection[], private readonly batch: number,
    private readonly subjects: SubjectIndex) {
    this.insert = db.prepare(`INSERT INTO events
      (seq, stream_id, stream_version, type, schema_version, payload, meta, recorded_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    // A larger page cache while importing: the indexes of a million-event log
    // do not fit SQLite's default 2 MiB, and each insert would then reread pages.
    this.cacheSize = db.pragma("cache_size", { simple: true }) as number;
    db.pragma(`cache_size = ${-IMPORT_CACHE_KIB}`);
  }

  add(e: StoredEvent): void {
    if (this.done) throw new Error("this import has finished");
    if (e.seq <= this.lastSeq) throw new Error(`event #${e.seq} comes after #${this.lastSeq}: an import must be in sequence order, as export writes it`);
    if (this.inBatch === 0) this.db.exec("BEGIN IMMEDIATE");
    this.insert.run(e.seq, e.streamId, e.streamVersion, e.type, e.schemaVersion,
      JSON.stringify(e.payload), JSON.stringify(e.meta), e.recordedAt);
    for (const p of this.projections) p.apply(this.db, e);
    this.lastSeq = e.seq;
    this.count++;
    if (++this.inBatch >= this.batch) this.commit();
  }

  /** Commits what is left; returns how many events were imported. */
  finish(): number {
    if (!this.done) {
      if (this.inBatch > 0) this.commit();
      this.done = true;
      this.db.pragma(`cache_size = ${this.cacheSize}`);
      // The index by contact, from the imported log, in large transactions of its own database.
      while (this.subjects.catchUp(this.db, IMPORT_SUBJECTS_BATCH) > 0);
    }
    return this.count;
  }

  /** Undoes the whole import: the database is empty again. */
  abort(): void {
    this.done = true;
    if (this.db.inTransaction) this.db.exec("ROLLBACK");
    this.db.pragma(`cache_size = ${this.cacheSize}`);
    this.subjects.reset();
    if (this.count === this.inBatch) return;
    this.db.transaction(() => {
      for (const p of this.projections) p.reset(this.db);
      this.db.exec("DELETE FROM events; DELETE FROM sqlite_sequence WHERE name = 'events'");
    }).immediate();
  }

  private commit(): void {
    this.db.exec("COMMIT");
    this.inBatch = 0;
  }
}
