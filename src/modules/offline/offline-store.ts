// XEP-0160 offline storage: chat and normal messages for a user with no
// available resource, kept in SQLite until a resource sends non-negative
// initial presence. Messages are not events: they are delivered once and gone.
import type { Database, Statement } from "better-sqlite3";

export interface StoredMessage {
  id: number;
  stanza: string;
  storedAt: string;
}

export class OfflineStoreFull extends Error {
  constructor(readonly account: string, readonly limit: number) {
    super(`offline storage for ${account} is full (${limit} messages)`);
    this.name = "OfflineStoreFull";
  }
}

export class OfflineStore {
  private readonly countStmt: Statement<[string], { n: number }>;
  private readonly insertStmt: Statement<[string, string, string]>;
  private readonly selectStmt: Statement<[string], StoredMessage>;
  private readonly deleteStmt: Statement<[string, number]>;
  private readonly takeTx: (account: string) => StoredMessage[];

  constructor(private readonly db: Database, private readonly limit: number) {
    this.countStmt = db.prepare("SELECT count(*) AS n FROM offline_messages WHERE account = ?");
    this.insertStmt = db.prepare("INSERT INTO offline_messages (account, stanza, stored_at) VALUES (?, ?, ?)");
    this.selectStmt = db.prepare(
      "SELECT id, stanza, stored_at AS storedAt FROM offline_messages WHERE account = ? ORDER BY id");
    this.deleteStmt = db.prepare("DELETE FROM offline_messages WHERE account = ? AND id <= ?");
    this.takeTx = this.db.transaction((account: string) => {
      const rows = this.selectStmt.all(account);
      const last = rows[rows.length - 1];
      if (last) this.deleteStmt.run(account, last.id);
      return rows;
    });
  }

  /** Stores a serialised message; throws OfflineStoreFull at the per-account limit. */
  store(account: string, stanza: string, storedAt: string): void {
    const { n } = this.countStmt.get(account) ?? { n: 0 };
    if (n >= this.limit) throw new OfflineStoreFull(account, this.limit);
    this.insertStmt.run(account, stanza, storedAt);
  }

  count(account: string): number {
    return this.countStmt.get(account)?.n ?? 0;
  }

  /** Removes and returns every stored message of an account, oldest first. */
  take(account: string): StoredMessage[] {
    return this.takeTx(account);
  }

  deleteAll(account: string): void {
    this.db.prepare("DELETE FROM offline_messages WHERE account = ?").run(account);
  }
}
