// The event store: one append-only SQLite table, optimistic concurrency per
// stream, and projections updated in the same transaction as the append.
//
// Durability: WAL with synchronous=FULL, so a committed append survives a crash
// or power loss; WAL lets the CLI read and write while the server runs
// (busy_timeout covers the brief locks). In the server, appends of one
// event-loop turn share a transaction and nothing is sent to a client before
// it commits (commit-gate.ts); elsewhere each append commits on its own.
import type { CommitGate } from "./commit-gate.js";
import Database from "better-sqlite3";
import type { Database as Db, Statement, Transaction } from "better-sqlite3";
import { migrate } from "./migrations.js";
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

export class EventStore {
  private readonly projections: Projection[] = [];
  private readonly listeners: ((events: StoredEvent[]) => void)[] = [];
  private gate: CommitGate | undefined;
  private readonly appendTx: Transaction<(streamId: string, expectedVersion: number, events: NewEvent[]) => StoredEvent[]>;
  private readonly upcasters = new Map<string, Map<number, Upcaster>>();
  private readonly insert: Statement;
  private readonly versionOf: Statement<[string], { v: number | null }>;
  private readonly streamRows: Statement<[string, number], EventRow>;
  private readonly lastSeqStmt: Statement<[], { s: number | null }>;

  private constructor(readonly db: Db) {
    this.insert = db.prepare(`INSERT INTO events
      (stream_id, stream_version, type, schema_version, payload, meta, recorded_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.versionOf = db.prepare("SELECT max(stream_version) AS v FROM events WHERE stream_id = ?");
    this.streamRows = db.prepare("SELECT * FROM events WHERE stream_id = ? AND stream_version > ? ORDER BY stream_version");
    this.lastSeqStmt = db.prepare("SELECT max(seq) AS s FROM events");
    // Built once: better-sqlite3 wraps the function anew on every db.transaction() call.
    this.appendTx = db.transaction((streamId: string, expectedVersion: number, events: NewEvent[]): StoredEvent[] => {
      const actual = this.streamVersion(streamId);
      if (actual !== expectedVersion) throw new ConcurrencyError(streamId, expectedVersion, actual);
      const recordedAt = new Date().toISOString();
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

  static open(file: string, options: { readonly?: boolean } = {}): EventStore {
    const db = new Database(file, { readonly: options.readonly ?? false });
    db.pragma("busy_timeout = 5000");
    if (!options.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      migrate(db);
    }
    return new EventStore(db);
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
  joinTurn(): void {
    this.gate?.beginWrite();
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
    this.gate?.beginWrite();
    const stored = this.appendTx.immediate(streamId, expectedVersion, events);
    for (const l of this.listeners) l(stored);
    return stored;
  }

  readStream(streamId: string, afterVersion = 0): StoredEvent[] {
    return this.streamRows.all(streamId, afterVersion).map((r) => this.fromRow(r));
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
  }

  private replayIntoProjections(): void {
    for (const p of this.projections) p.reset(this.db);
    // .all(), not .iterate(): projections write on this connection while we read.
    for (const row of this.db.prepare("SELECT * FROM events ORDER BY seq").all() as EventRow[]) {
      const event = this.fromRow(row);
      for (const p of this.projections) p.apply(this.db, event);
    }
  }

  /**
   * Writes events exactly as exported (same seq, stream, version, time) into a
   * database that has no events yet, then rebuilds the projections. For
   * `parley import`; all or nothing.
   */
  importEvents(events: Iterable<StoredEvent>): number {
    const insert = this.db.prepare(`INSERT INTO events
      (seq, stream_id, stream_version, type, schema_version, payload, meta, recorded_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    let count = 0;
    this.db.transaction(() => {
      if (this.lastSeq() !== 0) throw new Error("the database already has events; import needs an empty one");
      for (const e of events) {
        insert.run(e.seq, e.streamId, e.streamVersion, e.type, e.schemaVersion,
          JSON.stringify(e.payload), JSON.stringify(e.meta), e.recordedAt);
        count++;
      }
      this.replayIntoProjections();
    }).immediate();
    return count;
  }

  close(): void {
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
