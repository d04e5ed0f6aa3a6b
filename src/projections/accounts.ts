// Projection: which accounts exist and their credentials, for login.
import type { Database } from "better-sqlite3";
import type { Projection, StoredEvent } from "../events/store.js";
import { statement } from "./statements.js";
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
        statement(db, `INSERT INTO accounts (jid, created_at, updated_at) VALUES (?, ?, ?)
          ON CONFLICT (jid) DO UPDATE SET updated_at = excluded.updated_at`).run(jid, event.meta.at, event.meta.at);
        statement(db, "DELETE FROM account_credentials WHERE jid = ?").run(jid);
        const insert = statement(db, `INSERT INTO account_credentials
          (jid, hash, salt, iterations, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)`);
        for (const c of event.payload.credentials) {
          insert.run(jid, c.hash, c.salt, c.iterations, c.storedKey, c.serverKey);
        }
        return;
      }
      case "AccountDeleted":
        statement(db, "DELETE FROM account_credentials WHERE jid = ?").run(jid);
        statement(db, "DELETE FROM accounts WHERE jid = ?").run(jid);
        return;
    }
  },
  reset(db: Database): void {
    db.exec("DELETE FROM account_credentials; DELETE FROM accounts;");
  },
};
