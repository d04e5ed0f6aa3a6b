// Projection: which accounts exist and their credentials, for login.
import type { Database } from "better-sqlite3";
import type { Projection, StoredEvent } from "../events/store.js";
import { isAccountEvent } from "../accounts/events.js";

export const accountsProjection: Projection = {
  name: "accounts",
  tables: ["accounts", "account_credentials"],
  apply(db: Database, event: StoredEvent): void {
    if (!isAccountEvent(event)) return;
    const jid = event.payload.jid;
    switch (event.type) {
      case "AccountRegistered":
      case "PasswordChanged": {
        db.prepare(`INSERT INTO accounts (jid, created_at, updated_at) VALUES (?, ?, ?)
          ON CONFLICT (jid) DO UPDATE SET updated_at = excluded.updated_at`).run(jid, event.meta.at, event.meta.at);
        db.prepare("DELETE FROM account_credentials WHERE jid = ?").run(jid);
        const insert = db.prepare(`INSERT INTO account_credentials
          (jid, hash, salt, iterations, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)`);
        for (const c of event.payload.credentials) {
          insert.run(jid, c.hash, c.salt, c.iterations, c.storedKey, c.serverKey);
        }
        return;
      }
      case "AccountDeleted":
        db.prepare("DELETE FROM account_credentials WHERE jid = ?").run(jid);
        db.prepare("DELETE FROM accounts WHERE jid = ?").run(jid);
        return;
    }
  },
  reset(db: Database): void {
    db.exec("DELETE FROM account_credentials; DELETE FROM accounts;");
  },
};
