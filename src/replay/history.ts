// The debugging queries on a store, in time that does not grow with the
// account's history: a point becomes a stream version through the stream
// index; the state there is the newest snapshot at or before it plus fewer
// than `every` events (account-snapshots.ts); the events about one contact
// come from the event_subjects index (migrations/007). Same answers as the
// list-based functions of replay.ts on the whole stream (test/unit/history.test.ts).
import type { EventStore } from "../events/store.js";
import { accountStreamId, type StoredEvent } from "../events/types.js";
import type { RosterState } from "../roster/roster-types.js";
import { isRosterEvent } from "../roster/roster-types.js";
import { subjectOf } from "../roster/roster-evolve.js";
import { stateAtVersion, streamVersionAt } from "../projections/account-snapshots.js";
import { compareStates, explainContact, type ExplainStep, type LogPoint, type StateDiff } from "./replay.js";

/** The stream version a replay to `point` stops at (0: before the first event). */
export function versionAt(store: EventStore, streamId: string, point: LogPoint): number {
  return streamVersionAt(store, streamId, point);
}

/** The account's state after every event of its stream up to the point (now, without one). */
export function accountStateAt(store: EventStore, bareJid: string, point?: LogPoint): { state: RosterState; last?: StoredEvent } {
  const streamId = accountStreamId(bareJid);
  const version = point ? versionAt(store, streamId, point) : store.streamVersion(streamId);
  const { state } = stateAtVersion(store, streamId, version);
  const last = version > 0 ? store.eventAt(streamId, version) : undefined;
  return last ? { state, last } : { state };
}

/** The seq of the stream's event at a version (0 for version 0). */
function seqAt(store: EventStore, streamId: string, version: number): number {
  return version > 0 ? store.eventAt(streamId, version)?.seq ?? 0 : 0;
}

/** What changed for each contact between two points, and the events between them that changed it. */
export function diffAccountStates(store: EventStore, bareJid: string, from: LogPoint, to: LogPoint): StateDiff {
  const streamId = accountStreamId(bareJid);
  const va = versionAt(store, streamId, from);
  const vb = versionAt(store, streamId, to);
  const a = stateAtVersion(store, streamId, va).state;
  const b = stateAtVersion(store, streamId, vb).state;
  const afterSeq = seqAt(store, streamId, va);
  const untilSeq = seqAt(store, streamId, vb);
  return compareStates(a, b, (jid) =>
    store.readSeqs(store.subjectSeqs(streamId, [jid], afterSeq, untilSeq)).filter((e) => isRosterEvent(e) && subjectOf(e) === jid));
}

/** Every event of the account that touched the contact, with the state it left. */
export function explainAccountContact(store: EventStore, bareJid: string, contact: string): ExplainStep[] {
  const streamId = accountStreamId(bareJid);
  return explainContact(store.readSeqs(store.subjectSeqs(streamId, [contact, "*"])), contact);
}
