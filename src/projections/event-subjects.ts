// Which JIDs an event is about: the rows of the log's index by contact
// (event_subjects, src/events/subject-index.ts), so that `replay --explain`
// and `--diff` read only the events about one JID. One row per (event, JID it
// is about); jid '*' marks the events that touch every contact
// (AllContactsUnblocked, AccountDeleted). `verify` compares the index with
// SUBJECTS_OF_EVENTS (the same rules in SQL, src/events/store.ts), so the two
// implementations check each other.
import { isRosterEvent } from "../roster/roster-types.js";

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
