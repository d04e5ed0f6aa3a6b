// The message archive in SQLite (migrations/030_mam.sql): one row per
// message per archive owner. Reads are bounded range scans on an index; a
// query never reads more than a page (plus one row, to know if it is the
// last) and a count.
//
// Writes and the group commit: archiving a message is on the stanza path. A
// plain write outside a transaction commits by itself, which with
// synchronous=FULL is one fsync per archived message (and messages, unlike
// roster changes, append no events, so the turn would otherwise have no
// transaction at all). `append` first calls `joinTurn`
// (ModuleApi.joinTurn → the commit gate's beginWrite): the turn's
// transaction is opened if needed and committed at the end of the event-loop
// turn together with any appends, in one fsync, and the output gate holds the
// turn's socket writes — the delivered message with its stanza-id — until it
// is durable. So a client never sees a stanza-id that a crash could take
// back, and a turn that archives 200 messages costs one fsync, not 200.
import type { Database, Statement } from "better-sqlite3";
import type { Jid } from "../../jid/jid.js";
import type { ArchiveIds } from "./archive-ids.js";

export type Direction = "in" | "out";

export interface ArchivedMessage {
  readonly seq: number;
  /** The archive id: the stanza-id given out (XEP-0359), the RSM/MAM id of queries. */
  readonly id: string;
  readonly withJid: string;
  readonly withResource: string;
  /** ms since the epoch, a whole second. */
  readonly stamp: number;
  readonly direction: Direction;
  readonly stanza: string;
  readonly originId: string | null;
}

export interface NewArchivedMessage {
  readonly owner: string;
  readonly other: Jid;
  readonly direction: Direction;
  readonly stanza: string;
  readonly originId: string | undefined;
  /** The body's text, for full-text search. */
  readonly body: string | undefined;
}

/** XEP-0313 §4.1 filters, resolved from the query form. */
export interface ArchiveFilter {
  readonly with?: Jid;
  /** ms since the epoch, inclusive (XEP-0313 §4.1.2). */
  readonly start?: number;
  readonly end?: number;
  /** urn:xmpp:mam:2#extended: only these ids; strictly after / before this one. */
  readonly ids?: readonly string[];
  readonly afterId?: string;
  readonly beforeId?: string;
  /** {urn:xmpp:fulltext:0}fulltext: every word must occur in the body. */
  readonly fulltext?: string;
}

/** XEP-0059 paging: `before: ""` is the last page. */
export interface PageRequest {
  readonly max: number;
  readonly after?: string;
  readonly before?: string;
  readonly index?: number;
}

export interface ArchivePage {
  /** In archive order (oldest first), whichever way the page was taken. */
  readonly items: readonly ArchivedMessage[];
  /** The page holds the last item of the result set (the first, when paging backwards). */
  readonly complete: boolean;
  /** Items in the whole result set (XEP-0059's <count/>). */
  readonly count: number;
  /** Position of the first item in the result set, when known without another count. */
  readonly firstIndex: number | undefined;
}

/** An id a query named that the archive does not hold (XEP-0313: item-not-found). */
export class UnknownArchiveId extends Error {
  constructor(readonly owner: string, readonly id: string, readonly field: string) {
    super(`${field} names '${id}', which is not in the archive of ${owner}`);
    this.name = "UnknownArchiveId";
  }
}

interface Row {
  seq: number; withJid: string; withResource: string; stamp: number; direction: Direction; stanza: string; originId: string | null;
}

const COLUMNS = "seq, with_jid AS withJid, with_resource AS withResource, stamp, direction, stanza, origin_id AS originId";

/** The words of a search as an FTS5 query: each quoted (so no operator syntax reaches FTS5), all required. */
export function fulltextQuery(text: string): string | undefined {
  const words = text.split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return undefined;
  return words.map((w) => `"${w.replace(/"/g, '""')}"`).join(" ");
}

export class ArchiveStore {
  private readonly insertStmt: Statement<[string, string, string, number, Direction, string, string | null]>;
  private readonly fulltextStmt: Statement<[number | bigint, string]>;
  private readonly hasStmt: Statement<[string, number], { seq: number }>;
  private readonly firstAtOrAfterStmt: Statement<[number], { seq: number }>;
  private readonly lastAtOrBeforeStmt: Statement<[number], { seq: number }>;
  private readonly edgeStmts: { first: Statement<[string], Row>; last: Statement<[string], Row> };
  private readonly deleteOwnerStmt: Statement<[string]>;
  private readonly sweepStmt: Statement<[number, number]>;
  private readonly maxStampStmt: Statement<[], { s: number | null }>;
  /** Query shapes are few (which filters, which direction): each prepared once. */
  private readonly shapes = new Map<string, Statement<unknown[], Row>>();
  private readonly counts = new Map<string, Statement<unknown[], { n: number }>>();
  private lastStamp: number | undefined;

  /** `fulltext`: index bodies for search (FTS5); off, bodies are not indexed and searches find nothing. */
  constructor(
    private readonly db: Database,
    /** Called before a write on the stanza path with the archive's owner (commit-gate.ts: output about others need not wait for it). */
    private readonly joinTurn: (owner: string) => void,
    private readonly ids: ArchiveIds,
    private readonly fulltext = true,
  ) {
    this.insertStmt = db.prepare(`INSERT INTO mam_archive (owner, with_jid, with_resource, stamp, direction, stanza, origin_id)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.fulltextStmt = db.prepare("INSERT INTO mam_fulltext (rowid, body) VALUES (?, ?)");
    this.hasStmt = db.prepare("SELECT seq FROM mam_archive WHERE owner = ? AND seq = ?");
    // Over all archives: stamps are non-decreasing along seq everywhere, so the
    // first seq at or after a time is a bound for every owner's range.
    this.firstAtOrAfterStmt = db.prepare("SELECT seq FROM mam_archive WHERE stamp >= ? ORDER BY stamp, seq LIMIT 1");
    this.lastAtOrBeforeStmt = db.prepare("SELECT seq FROM mam_archive WHERE stamp <= ? ORDER BY stamp DESC, seq DESC LIMIT 1");
    this.edgeStmts = {
      first: db.prepare(`SELECT ${COLUMNS} FROM mam_archive WHERE owner = ? ORDER BY seq LIMIT 1`),
      last: db.prepare(`SELECT ${COLUMNS} FROM mam_archive WHERE owner = ? ORDER BY seq DESC LIMIT 1`),
    };
    this.deleteOwnerStmt = db.prepare("DELETE FROM mam_archive WHERE owner = ?");
    this.sweepStmt = db.prepare("DELETE FROM mam_archive WHERE seq IN (SELECT seq FROM mam_archive WHERE stamp < ? ORDER BY stamp LIMIT ?)");
    this.maxStampStmt = db.prepare("SELECT max(stamp) AS s FROM mam_archive");
  }

  /**
   * Archives one message; returns its id and stamp. Stamps are whole seconds
   * (as Prosody keeps them: what a client is shown is exactly what `start`
   * and `end` compare with) and never go back along the archive order (a
   * clock stepped back is clamped to the last stamp), so that time bounds are
   * seq bounds.
   */
  append(m: NewArchivedMessage, now: number): { id: string; stamp: number } {
    this.lastStamp ??= this.maxStampStmt.get()?.s ?? 0;
    const stamp = Math.max(Math.floor(now / 1000) * 1000, this.lastStamp);
    this.lastStamp = stamp;
    this.joinTurn(m.owner);
    const { lastInsertRowid } = this.insertStmt.run(
      m.owner, m.other.bareString(), m.other.resource, stamp, m.direction, m.stanza, m.originId ?? null);
    if (this.fulltext && m.body !== undefined && m.body.trim() !== "") this.fulltextStmt.run(lastInsertRowid, m.body);
    return { id: this.ids.encode(Number(lastInsertRowid)), stamp };
  }

  /** The oldest and newest message of an archive (urn:xmpp:mam:2#extended metadata). */
  edges(owner: string): { first: ArchivedMessage; last: ArchivedMessage } | undefined {
    const first = this.edgeStmts.first.get(owner);
    const last = this.edgeStmts.last.get(owner);
    return first && last ? { first: this.message(first), last: this.message(last) } : undefined;
  }

  private message(row: Row): ArchivedMessage {
    return { ...row, id: this.ids.encode(row.seq) };
  }

  /** The seq of one of this owner's messages; an id that is not one is UnknownArchiveId naming the field. */
  private seqOf(owner: string, id: string, field: string): number {
    const seq = this.ids.decode(id);
    if (seq === undefined || !this.hasStmt.get(owner, seq)) throw new UnknownArchiveId(owner, id, field);
    return seq;
  }

  /** One page of the messages matching `filter`; throws UnknownArchiveId for an id the archive lacks. */
  query(owner: string, filter: ArchiveFilter, page: PageRequest): ArchivePage {
    const where = ["owner = ?"];
    const args: unknown[] = [owner];
    const empty: ArchivePage = { items: [], complete: true, count: 0, firstIndex: undefined };
    if (filter.with) {
      where.push("with_jid = ?");
      args.push(filter.with.bareString());
      if (filter.with.resource !== "") {
        where.push("with_resource = ?");
        args.push(filter.with.resource);
      }
    }
    // Time bounds as seq bounds (stamps are non-decreasing along seq).
    if (filter.start !== undefined) {
      const from = this.firstAtOrAfterStmt.get(filter.start);
      if (!from) return empty;
      where.push("seq >= ?");
      args.push(from.seq);
    }
    if (filter.end !== undefined) {
      const to = this.lastAtOrBeforeStmt.get(filter.end);
      if (!to) return empty;
      where.push("seq <= ?");
      args.push(to.seq);
    }
    if (filter.afterId !== undefined) {
      where.push("seq > ?");
      args.push(this.seqOf(owner, filter.afterId, "after-id"));
    }
    if (filter.beforeId !== undefined) {
      where.push("seq < ?");
      args.push(this.seqOf(owner, filter.beforeId, "before-id"));
    }
    if (filter.ids !== undefined) {
      // Ids that are not ours match nothing (XEP-0313 asks for the messages it has).
      const seqs = filter.ids.map((id) => this.ids.decode(id)).filter((seq) => seq !== undefined);
      where.push("seq IN (SELECT value FROM json_each(?))");
      args.push(JSON.stringify(seqs));
    }
    const words = filter.fulltext === undefined ? undefined : fulltextQuery(filter.fulltext);
    if (words !== undefined) {
      where.push("seq IN (SELECT rowid FROM mam_fulltext WHERE mam_fulltext MATCH ?)");
      args.push(words);
    }
    const count = this.count(where, args);

    // XEP-0059: the page, taken forwards (after, index, or from the start) or backwards (before).
    const backwards = page.before !== undefined;
    const pageWhere = [...where];
    const pageArgs = [...args];
    if (page.after !== undefined) {
      pageWhere.push("seq > ?");
      pageArgs.push(this.seqOf(owner, page.after, "RSM after"));
    }
    if (page.before !== undefined && page.before !== "") {
      pageWhere.push("seq < ?");
      pageArgs.push(this.seqOf(owner, page.before, "RSM before"));
    }
    const offset = !backwards && page.after === undefined ? page.index ?? 0 : 0;
    const sql = `SELECT ${COLUMNS} FROM mam_archive WHERE ${pageWhere.join(" AND ")} ORDER BY seq ${backwards ? "DESC" : "ASC"} LIMIT ? OFFSET ?`;
    let stmt = this.shapes.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<unknown[], Row>(sql);
      this.shapes.set(sql, stmt);
    }
    // One more than the page: whether there is more tells `complete`.
    const rows = stmt.all(...pageArgs, page.max + 1, offset);
    const complete = rows.length <= page.max;
    const items = rows.slice(0, page.max).map((r) => this.message(r));
    if (backwards) items.reverse();
    let firstIndex: number | undefined;
    if (items.length > 0) {
      if (!backwards && page.after === undefined) firstIndex = offset;
      else if (page.before === "") firstIndex = count - items.length;
    }
    return { items, complete, count, firstIndex };
  }

  private count(where: readonly string[], args: readonly unknown[]): number {
    const sql = `SELECT count(*) AS n FROM mam_archive WHERE ${where.join(" AND ")}`;
    let stmt = this.counts.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<unknown[], { n: number }>(sql);
      this.counts.set(sql, stmt);
    }
    return stmt.get(...args)?.n ?? 0;
  }

  // Deletions are off the stanza path and do not join the turn: a plain
  // statement commits by itself (one fsync for the whole batch), or, run while
  // a transaction is open (an account deleted by an append of this turn), is
  // part of it. Holding the turn's transaction open for a sweep would only
  // delay when the rest of the turn's writes become visible to other processes.

  /**
   * One archived message of this owner by its id, or undefined; `replace`
   * swaps its stanza (a MUC moderator's retraction leaves a tombstone,
   * XEP-0425) inside the turn's transaction and drops it from full-text search.
   */
  byId(owner: string, id: string): ArchivedMessage | undefined {
    const seq = this.ids.decode(id);
    if (seq === undefined) return undefined;
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM mam_archive WHERE owner = ? AND seq = ?`).get(owner, seq) as Row | undefined;
    return row ? this.message(row) : undefined;
  }

  replace(owner: string, id: string, stanza: string): boolean {
    const seq = this.ids.decode(id);
    if (seq === undefined) return false;
    this.joinTurn(owner);
    const changed = this.db.prepare("UPDATE mam_archive SET stanza = ? WHERE owner = ? AND seq = ?").run(stanza, owner, seq).changes > 0;
    if (changed && this.fulltext) this.db.prepare("DELETE FROM mam_fulltext WHERE rowid = ?").run(seq);
    return changed;
  }

  /** An account's whole archive (on account-deleted). */
  deleteOwner(owner: string): number {
    return this.deleteOwnerStmt.run(owner).changes;
  }

  /** Removes up to `limit` messages archived before `before` (ms); returns how many went. */
  sweep(before: number, limit: number): number {
    return this.sweepStmt.run(before, limit).changes;
  }
}
