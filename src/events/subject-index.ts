// The log indexed by contact, kept behind the log in a database of its own.
//
// `replay --explain` and `--diff` read only the events of an account stream
// that are about one JID (event_subjects: one row per (stream, JID, seq); jid
// '*' marks the events that touch every contact). Each such row lands on its
// own leaf of the index's b-tree (one per stream and contact), so written
// inside each append it cost the server's COMMIT a page of WAL per event,
// about 7 % of a roster or block command. So the index is derived data
// written behind the log instead:
//
// - It lives in `<database>-subjects`, a SQLite file of its own, so that the
//   thread writing it never takes the log's write lock (the server's
//   transactions would wait on it, and the other way round).
// - `through` is its high-water mark: every event with seq <= through is
//   indexed, nothing after it is. catchUp() reads the log after `through`
//   and writes the rows and the new mark in one transaction of the index.
//   In the server a worker thread does this (subject-indexer.ts), off the
//   event loop, a few times a second; tools do it in-process (import,
//   rebuild).
// - Readers (EventStore.subjectSeqs) take the index's rows up to `through`
//   and read the log's events after it themselves, so an answer never
//   depends on how far behind the index is, only its cost (the tail is
//   normally a few hundred events).
// - It needs no durability of its own: it is a function of the log. When the
//   log is opened for writing, reconcile() makes the index a prefix of it
//   again: after a power loss the log may have lost a tail the index had
//   already read (the WAL keeps a prefix of whole transactions, so every
//   event up to the log's last seq is the one the index read), and a log put
//   back from an older copy is told apart by the event the mark names.
import Database from "better-sqlite3";
import type { Database as Db, Statement } from "better-sqlite3";
import { subjectsOf } from "../projections/event-subjects.js";

/** The index's file for a log's file (none for an in-memory log: its index is in memory too). */
export function subjectIndexFile(logFile: string): string | undefined {
  return logFile === ":memory:" || logFile === "" ? undefined : `${logFile}-subjects`;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS event_subjects (
  stream_id TEXT    NOT NULL,
  jid       TEXT    NOT NULL,
  seq       INTEGER NOT NULL,
  PRIMARY KEY (stream_id, jid, seq)
) WITHOUT ROWID;
-- The high-water mark, and which event it names (stream and version), to tell a log put back from a copy.
CREATE TABLE IF NOT EXISTS subject_index_state (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  through_seq    INTEGER NOT NULL,
  through_stream TEXT    NOT NULL,
  through_version INTEGER NOT NULL
);`;

/** Events read from the log per transaction of the index. */
export const CATCH_UP_BATCH = 2000;

interface LogRow {
  seq: number;
  stream_id: string;
  stream_version: number;
  type: string;
  payload: string;
}

interface Mark {
  seq: number;
  stream: string;
  version: number;
}

export class SubjectIndex {
  private mark: Mark;
  private readonly insert: Statement | undefined;
  private readonly readMark: Statement<[], { through_seq: number; through_stream: string; through_version: number }>;
  private readonly logReads = new WeakMap<Db, Statement<[number, number], LogRow>>();

  private constructor(readonly db: Db, readonly file: string | undefined) {
    if (!db.readonly) {
      db.exec(SCHEMA);
      this.insert = db.prepare("INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq) VALUES (?, ?, ?)");
    }
    this.readMark = db.prepare("SELECT through_seq, through_stream, through_version FROM subject_index_state WHERE id = 1");
    this.mark = this.loadMark();
  }

  /**
   * The index of the log in `logFile`. Read-only: it is not created, and a
   * missing one is an empty index (every answer then comes from the log).
   */
  static open(logFile: string, options: { readonly?: boolean } = {}): SubjectIndex {
    const file = subjectIndexFile(logFile);
    const readonly = options.readonly ?? false;
    let db: Db;
    try {
      db = file === undefined ? new Database(":memory:") : new Database(file, { readonly, fileMustExist: readonly });
    } catch (err) {
      // Read-only and not there (a log no server has run on since): an empty index, every answer from the log.
      if (readonly && /unable to open|does not exist|SQLITE_CANTOPEN/i.test((err as Error).message)) return new SubjectIndex(new Database(":memory:"), undefined);
      throw new Error(`cannot open the subject index ${file}: ${(err as Error).message}`, { cause: err });
    }
    db.pragma("busy_timeout = 5000");
    // Derived from the log and rebuilt from it when behind: its commits need not wait for the disk.
    db.pragma("synchronous = NORMAL");
    if (!readonly && file !== undefined) db.pragma("journal_mode = WAL");
    return new SubjectIndex(db, file);
  }

  /** Every event with seq <= this is indexed; none after it is. */
  get through(): number {
    return this.mark.seq;
  }

  private loadMark(): Mark {
    let row;
    try {
      row = this.readMark.get();
    } catch {
      row = undefined;
    }
    return row ? { seq: row.through_seq, stream: row.through_stream, version: row.through_version } : { seq: 0, stream: "", version: 0 };
  }

  /** Reads the mark again (another connection, the worker's, moves it). */
  refresh(): number {
    this.mark = this.loadMark();
    return this.mark.seq;
  }

  /**
   * Makes the index a prefix of the log (see the top of this file): rows past
   * the log's last event go, and an index whose mark names another event
   * than the log has at that seq starts again from nothing.
   */
  reconcile(log: Db): void {
    this.refresh();
    if (this.mark.seq === 0) return;
    const last = (log.prepare("SELECT max(seq) AS s FROM events").get() as { s: number | null }).s ?? 0;
    if (this.mark.seq > last) {
      const at = log.prepare("SELECT seq, stream_id, stream_version FROM events WHERE seq <= ? ORDER BY seq DESC LIMIT 1").get(last) as
        { seq: number; stream_id: string; stream_version: number } | undefined;
      this.db.transaction(() => {
        this.db.prepare("DELETE FROM event_subjects WHERE seq > ?").run(last);
        this.writeMark(at ? { seq: at.seq, stream: at.stream_id, version: at.stream_version } : { seq: 0, stream: "", version: 0 });
      }).immediate();
      return;
    }
    const named = log.prepare("SELECT stream_id, stream_version FROM events WHERE seq = ?").get(this.mark.seq) as
      { stream_id: string; stream_version: number } | undefined;
    if (!named || named.stream_id !== this.mark.stream || named.stream_version !== this.mark.version) this.reset();
  }

  /** Empties the index (a rebuild, or a log it does not belong to). */
  reset(): void {
    this.db.transaction(() => {
      this.db.exec("DELETE FROM event_subjects; DELETE FROM subject_index_state");
    }).immediate();
    this.mark = { seq: 0, stream: "", version: 0 };
  }

  private writeMark(mark: Mark): void {
    this.db.prepare(`INSERT INTO subject_index_state (id, through_seq, through_stream, through_version) VALUES (1, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET through_seq = excluded.through_seq, through_stream = excluded.through_stream,
        through_version = excluded.through_version`).run(mark.seq, mark.stream, mark.version);
    this.mark = mark;
  }

  /**
   * Indexes up to `max` events of `log` after the mark, in one transaction of
   * the index; returns how many it read (0: it has caught up). `log` sees
   * what is committed on its connection: the worker's own, or the caller's.
   */
  catchUp(log: Db, max = CATCH_UP_BATCH): number {
    const insert = this.insert;
    if (!insert) throw new Error("the subject index is open read-only");
    this.refresh();
    let read = this.logReads.get(log);
    if (!read) {
      read = log.prepare<[number, number], LogRow>("SELECT seq, stream_id, stream_version, type, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
      this.logReads.set(log, read);
    }
    const rows = read.all(this.mark.seq, max);
    const last = rows[rows.length - 1];
    if (!last) return 0;
    const entries: [string, string, number][] = [];
    for (const r of rows) {
      const subjects = subjectsOf({ type: r.type, payload: JSON.parse(r.payload) as unknown });
      for (const jid of subjects) entries.push([r.stream_id, jid, r.seq]);
    }
    // In key order: neighbouring rows share leaves, so the batch dirties as few pages as it can.
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[2] - b[2]));
    this.db.transaction(() => {
      for (const [stream, jid, seq] of entries) insert.run(stream, jid, seq);
      this.writeMark({ seq: last.seq, stream: last.stream_id, version: last.stream_version });
    }).immediate();
    return rows.length;
  }

  /** Indexes everything committed in `log`; returns how many events it read. */
  catchUpAll(log: Db): number {
    let total = 0;
    for (let n = this.catchUp(log); n > 0; n = this.catchUp(log)) total += n;
    return total;
  }

  /**
   * The indexed seqs of the stream's events about any of `jids`, with
   * afterSeq < seq <= min(untilSeq, through), and the mark they go up to
   * (read afresh: the worker moves it); the caller reads the log after it.
   */
  indexedSeqs(streamId: string, jids: readonly string[], afterSeq: number, untilSeq: number): { seqs: number[]; through: number } {
    const through = this.refresh();
    const until = Math.min(untilSeq, through);
    if (jids.length === 0 || until <= afterSeq) return { seqs: [], through };
    const rows = this.db.prepare(`SELECT DISTINCT seq FROM event_subjects
      WHERE stream_id = ? AND jid IN (${jids.map(() => "?").join(",")}) AND seq > ? AND seq <= ? ORDER BY seq`)
      .all(streamId, ...jids, afterSeq, until) as { seq: number }[];
    return { seqs: rows.map((r) => r.seq), through };
  }

  /** Every row up to the mark, in key order (verify). */
  *rows(): IterableIterator<[string, string, number]> {
    const stmt = this.db.prepare("SELECT stream_id, jid, seq FROM event_subjects WHERE seq <= ? ORDER BY stream_id, jid, seq").raw();
    yield* stmt.iterate(this.mark.seq) as IterableIterator<[string, string, number]>;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

