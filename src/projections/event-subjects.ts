// Projection: the log indexed by contact (event_subjects, migrations/007),
// so `replay --explain` and `--diff` read only the events about one JID.
// One row per (event, JID it is about); jid '*' marks the events that touch
// every contact (AllContactsUnblocked, AccountDeleted). Written in JS rather
// than by an SQL trigger: the trigger's JSON parsing made an import 2-3×
// slower. `verify` compares the rows with SUBJECTS_OF_EVENTS (the same rules
// in SQL, src/events/store.ts), so the two implementations check each other.
import type { Database } from "better-sqlite3";
import type { Projection, StoredEvent } from "../events/store.js";
import { isRosterEvent } from "../roster/roster-types.js";
import { statement } from "./statements.js";

/** The JIDs an event is about, as event_subjects records them (none for other events). */
export function subjectsOf(event: { type: string; payload: unknown }): string[] {
  if (event.type === "AccountDeleted") return ["*"];
  if (!isRosterEvent(event)) return [];
  switch (event.type) {
    case "AllContactsUnblocked": return ["*"];
    case "ContactsBlocked":
    case "ContactsUnblocked": return event.payload.jids;
    default: return [event.payload.jid];
  }
}

export const eventSubjectsProjection: Projection = {
  name: "subjects",
  tables: ["event_subjects"],
  checkedAgainstLog: true,
  apply(db: Database, event: StoredEvent): void {
    const subjects = subjectsOf(event);
    if (subjects.length === 0) return;
    const insert = statement(db, "INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq) VALUES (?, ?, ?)");
    for (const jid of subjects) insert.run(event.streamId, jid, event.seq);
  },
  reset(db: Database): void {
    statement(db, "DELETE FROM event_subjects").run();
  },
};
