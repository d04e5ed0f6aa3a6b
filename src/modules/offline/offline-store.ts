// XEP-0160 offline storage in SQLite: per account, with caps on the count, on
// the count from one sender, and on the bytes. Messages are not events: they
// are delivered once and gone.
import type { Database, Statement } from "better-sqlite3";

export interface StoredMessage {
  id: number;
  sender: string;
  stanza: string;
  storedAt: string;
}

export interface OfflineLimits {
  readonly perAccount: number;
  readonly perSender: number;
  readonly bytesPerAccount: number;
}

export class OfflineStoreFull extends Error {
  constructor(readonly account: string, readonly why: string) {
    super(`offline storage for ${account} is full: ${why}`);
    this.name = "OfflineStoreFull";
  }
}

export class OfflineStore {
  private readonly usageStmt: Statement<[string], { n: number; bytes: number | null }>;
  private readonly fromSenderStmt: Statement<[string, string], { n: number }>;
  private readonly insertStmt: Statement<[string, string, string, string, number]>;
  private readonly selectStmt: Statement<[string], StoredMessage>;
  private readonly deleteStmt: Statement<[number]>;
  private readonly deleteAllStmt: Statement<[string]>;

  /** `joinTurn`: called before each write with the account it is about (the commit gate's turn; a no-op for tools). */
  constructor(db: Database, private readonly limits: OfflineLimits, private readonly joinTurn: (account: string) => void = () => {}) {
    this.usageStmt = db.prepare("SELECT count(*) AS n, sum(bytes) AS bytes FROM offline_messages WHERE account = ?");
    this.fromSenderStmt = db.prepare("SELECT count(*) AS n FROM offline_messages WHERE account = ? AND sender = ?");
    this.insertStmt = db.prepare("INSERT INTO offline_messages (account, sender, stanza, stored_at, bytes) VALUES (?, ?, ?, ?, ?)");
    this.selectStmt = db.prepare(
      "SELECT id, sender, stanza, stored_at AS storedAt FROM offline_messages WHERE account = ? ORDER BY id");
    this.deleteStmt = db.prepare("DELETE FROM offline_messages WHERE id = ?");
    this.deleteAllStmt = db.prepare("DELETE FROM offline_messages WHERE account = ?");
  }

  /** Stores a serialised message from `sender` (a bare JID); throws OfflineStoreFull at a cap. */
  store(account: string, sender: string, stanza: string, storedAt: string): void {
    const bytes = Buffer.byteLength(stanza);
    const usage = this.usageStmt.get(account) ?? { n: 0, bytes: 0 };
    if (usage.n >= this.limits.perAccount) throw new OfflineStoreFull(account, `${this.limits.perAccount} messages`);
    if ((usage.bytes ?? 0) + bytes > this.limits.bytesPerAccount) throw new OfflineStoreFull(account, `${this.limits.bytesPerAccount} bytes`);
    if ((this.fromSenderStmt.get(account, sender)?.n ?? 0) >= this.limits.perSender) {
      throw new OfflineStoreFull(account, `${this.limits.perSender} messages from one sender`);
    }
    this.joinTurn(account);
    this.insertStmt.run(account, sender, stanza, storedAt, bytes);
  }

  count(account: string): number {
    return this.usageStmt.get(account)?.n ?? 0;
  }

  /** Every stored message of an account, oldest first; each stays until `remove`. */
  list(account: string): StoredMessage[] {
    return this.selectStmt.all(account);
  }

  /** Removes one of `account`'s stored messages. */
  remove(account: string, id: number): void {
    this.joinTurn(account);
    this.deleteStmt.run(id);
  }

  deleteAll(account: string): void {
    this.joinTurn(account);
    this.deleteAllStmt.run(account);
  }
}
