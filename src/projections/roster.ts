// Projection of rosters, pending requests, roster versions and block lists.
// It applies the same per-item rules as the in-memory state
// (evolveItem/evolvePending), so a rebuild from the log yields the same rows.
import type { Database } from "better-sqlite3";
import type { Projection, StoredEvent } from "../events/store.js";
import { statement } from "./statements.js";
import { isRosterEvent, type RosterItem, type Subscription } from "../roster/roster-types.js";
import { evolveItem, evolvePending, sameItem, subjectOf } from "../roster/roster-evolve.js";

const ACCOUNT = "account:";
/**
 * The item events for which evolvePending may change the pending request
 * (every other one passes it through): only they read the pending row. Keep
 * in step with evolvePending; test/property/snapshots.test.ts compares this
 * projection with the fold.
 */
const CHANGES_PENDING: ReadonlySet<string> = new Set(["SubscriptionRequestReceived", "RosterItemRemoved", "ContactApproved", "ContactSubscriptionCancelled"]);

interface ItemRow {
  jid: string;
  name: string | null;
  groups: string;
  subscription: Subscription;
  ask: number;
  approved: number;
}

function readItem(db: Database, account: string, jid: string): RosterItem | undefined {
  const row = statement(db, "SELECT jid, name, groups, subscription, ask, approved FROM roster_items WHERE account = ? AND jid = ?")
    .get(account, jid) as ItemRow | undefined;
  if (!row) return undefined;
  const base = { jid: row.jid, groups: JSON.parse(row.groups) as string[], subscription: row.subscription, ask: row.ask === 1, approved: row.approved === 1 };
  return row.name === null ? base : { ...base, name: row.name };
}

export const rosterProjection: Projection = {
  name: "roster",
  tables: ["roster_items", "roster_pending_in", "roster_versions", "blocklist"],
  apply(db: Database, event: StoredEvent): void {
    if (!event.streamId.startsWith(ACCOUNT)) return;
    const account = event.streamId.slice(ACCOUNT.length);
    if (event.type === "AccountDeleted") {
      for (const t of this.tables) statement(db, `DELETE FROM ${t} WHERE account = ?`).run(account);
      return;
    }
    if (!isRosterEvent(event)) return;
    switch (event.type) {
      case "ContactsBlocked": {
        const insert = statement(db, "INSERT OR IGNORE INTO blocklist (account, jid) VALUES (?, ?)");
        const unpend = statement(db, "DELETE FROM roster_pending_in WHERE account = ? AND jid = ?");
        for (const jid of event.payload.jids) { insert.run(account, jid); unpend.run(account, jid); }
        return;
      }
      case "ContactsUnblocked": {
        const del = statement(db, "DELETE FROM blocklist WHERE account = ? AND jid = ?");
        for (const jid of event.payload.jids) del.run(account, jid);
        return;
      }
      case "AllContactsUnblocked":
        statement(db, "DELETE FROM blocklist WHERE account = ?").run(account);
        return;
      default: {
        const jid = subjectOf(event) as string;
        const before = readItem(db, account, jid);
        const after = evolveItem(before, event);
        // evolveItem returns the very item it was given when the event leaves it as it is.
        if (after !== before) {
          if (after) {
            statement(db, `INSERT INTO roster_items (account, jid, name, groups, subscription, ask, approved)
              VALUES (?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT (account, jid) DO UPDATE SET name = excluded.name, groups = excluded.groups,
                subscription = excluded.subscription, ask = excluded.ask, approved = excluded.approved`)
              .run(account, jid, after.name ?? null, JSON.stringify(after.groups), after.subscription, after.ask ? 1 : 0, after.approved ? 1 : 0);
          } else {
            statement(db, "DELETE FROM roster_items WHERE account = ? AND jid = ?").run(account, jid);
          }
        }
        if (CHANGES_PENDING.has(event.type)) {
          const row = statement(db, "SELECT stanza FROM roster_pending_in WHERE account = ? AND jid = ?").get(account, jid) as { stanza: string } | undefined;
          const pending = evolvePending(row?.stanza, event);
          if (pending !== row?.stanza) {
            if (pending === undefined) statement(db, "DELETE FROM roster_pending_in WHERE account = ? AND jid = ?").run(account, jid);
            else statement(db, "INSERT OR REPLACE INTO roster_pending_in (account, jid, stanza) VALUES (?, ?, ?)").run(account, jid, pending);
          }
        }
        if (!sameItem(before, after)) {
          statement(db, `INSERT INTO roster_versions (account, version) VALUES (?, 1)
            ON CONFLICT (account) DO UPDATE SET version = version + 1`).run(account);
        }
      }
    }
  },
  reset(db: Database): void {
    for (const t of this.tables) statement(db, `DELETE FROM ${t}`).run();
  },
};
