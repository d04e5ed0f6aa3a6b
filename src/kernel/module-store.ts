// A key-value store a module owns, per account (Prosody's keyval stores):
// JSON values in one table, namespaced by module. Not events: what a module
// keeps here is its own business, and it goes when the account goes.
import type { Database, Statement } from "better-sqlite3";

export interface ModuleStore {
  get<T>(account: string, key: string): T | undefined;
  set(account: string, key: string, value: unknown): void;
  delete(account: string, key: string): void;
  keys(account: string): string[];
}

export class SqliteModuleStore implements ModuleStore {
  private readonly getStmt: Statement<[string, string, string], { value: string }>;
  private readonly setStmt: Statement<[string, string, string, string]>;
  private readonly deleteStmt: Statement<[string, string, string]>;
  private readonly keysStmt: Statement<[string, string], { key: string }>;

  /** `joinTurn`: called before each write with the account it is about (the commit gate's turn; a no-op for tools). */
  constructor(db: Database, private readonly module: string, private readonly joinTurn: (account: string) => void = () => {}) {
    this.getStmt = db.prepare("SELECT value FROM module_store WHERE module = ? AND account = ? AND key = ?");
    this.setStmt = db.prepare(`INSERT INTO module_store (module, account, key, value) VALUES (?, ?, ?, ?)
      ON CONFLICT (module, account, key) DO UPDATE SET value = excluded.value`);
    this.deleteStmt = db.prepare("DELETE FROM module_store WHERE module = ? AND account = ? AND key = ?");
    this.keysStmt = db.prepare("SELECT key FROM module_store WHERE module = ? AND account = ? ORDER BY key");
  }

  get<T>(account: string, key: string): T | undefined {
    const row = this.getStmt.get(this.module, account, key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  set(account: string, key: string, value: unknown): void {
    this.joinTurn(account);
    this.setStmt.run(this.module, account, key, JSON.stringify(value));
  }

  delete(account: string, key: string): void {
    this.joinTurn(account);
    this.deleteStmt.run(this.module, account, key);
  }

  keys(account: string): string[] {
    return this.keysStmt.all(this.module, account).map((r) => r.key);
  }
}

/** Every module's rows of one account (on account-deleted). */
export function deleteAccountFromModuleStores(db: Database, account: string): void {
  db.prepare("DELETE FROM module_store WHERE account = ?").run(account);
}
