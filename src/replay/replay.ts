// Replaying an account's events to a point, comparing two points, and
// explaining the chain of events behind a subscription state.
//
// These take the events as a list (tests, and the CLI after it has read
// only the events it needs through the indexes: src/replay/history.ts).
// They fold with the in-place fold of roster-evolve.ts: O(1) per event.
import type { StoredEvent } from "../events/types.js";
import { emptyRosterState, isRosterEvent, type RosterState } from "../roster/roster-types.js";
import { applyAccountEvent, cloneRosterState, sameItem, subjectOf } from "../roster/roster-evolve.js";
import { describeSubscription } from "./describe.js";

/** A point in the log: a sequence number or a time. */
export type LogPoint = { seq: number } | { time: string };

export function parseLogPoint(text: string): LogPoint {
  if (/^\d+$/.test(text)) return { seq: Number(text) };
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`'${text}' is neither an event sequence number nor a time (e.g. 2026-11-24T15:00:00Z)`);
  return { time: new Date(t).toISOString() };
}

export function isAtOrBefore(e: StoredEvent, point: LogPoint): boolean {
  return "seq" in point ? e.seq <= point.seq : e.recordedAt <= point.time;
}

export function isAfter(e: StoredEvent, point: LogPoint): boolean {
  return "seq" in point ? e.seq > point.seq : e.recordedAt > point.time;
}

/** The roster state after every event of the stream up to the point. */
export function replayTo(events: readonly StoredEvent[], point?: LogPoint): { state: RosterState; last?: StoredEvent } {
  const state = cloneRosterState(emptyRosterState);
  let last: StoredEvent | undefined;
  for (const e of events) {
    if (point && !isAtOrBefore(e, point)) break;
    applyAccountEvent(state, e);
    last = e;
  }
  return last ? { state, last } : { state };
}

export interface ContactChange {
  jid: string;
  before: string;
  after: string;
  because: StoredEvent[];
}

/** What changed for each contact between two points, and the events that changed it. */
export function diffStates(events: readonly StoredEvent[], from: LogPoint, to: LogPoint): StateDiff {
  const a = replayTo(events, from).state;
  const b = replayTo(events, to).state;
  const between = events.filter((e) => isAfter(e, from) && isAtOrBefore(e, to));
  return compareStates(a, b, (jid) => between.filter((e) => isRosterEvent(e) && subjectOf(e) === jid));
}

export interface StateDiff {
  changes: ContactChange[];
  blockedBefore: string[];
  blockedAfter: string[];
}

/** What differs between two states, per contact; `because` finds the events behind a contact's change. */
export function compareStates(a: RosterState, b: RosterState, because: (jid: string) => StoredEvent[]): StateDiff {
  const jids = [...new Set([...a.items.keys(), ...b.items.keys(), ...a.pendingIn.keys(), ...b.pendingIn.keys()])].sort();
  const changes: ContactChange[] = [];
  for (const jid of jids) {
    const ia = a.items.get(jid);
    const ib = b.items.get(jid);
    const pa = a.pendingIn.has(jid);
    const pb = b.pendingIn.has(jid);
    if (sameItem(ia, ib) && pa === pb && ia?.approved === ib?.approved) continue;
    changes.push({
      jid,
      before: ia || pa ? describeSubscription(ia, pa) : "not in the roster",
      after: ib || pb ? describeSubscription(ib, pb) : "not in the roster",
      because: because(jid),
    });
  }
  return { changes, blockedBefore: [...a.blocked].sort(), blockedAfter: [...b.blocked].sort() };
}

export interface ExplainStep {
  event: StoredEvent;
  /** The subscription with the contact after this event. */
  state: string;
}

/**
 * Every event that touched the contact, with the state it left behind.
 * The contact's state depends only on the events that touch it (its item
 * events, blocks naming it, unblock-all, AccountDeleted), so `events` may be
 * just those: what the event_subjects index returns.
 */
export function explainContact(events: readonly StoredEvent[], contact: string): ExplainStep[] {
  const state = cloneRosterState(emptyRosterState);
  const steps: ExplainStep[] = [];
  for (const e of events) {
    if (e.type === "AccountDeleted") {
      applyAccountEvent(state, e);
      steps.push({ event: e, state: "not in the roster (account deleted)" });
      continue;
    }
    if (!isRosterEvent(e)) continue;
    applyAccountEvent(state, e);
    const touches = subjectOf(e) === contact ||
      ((e.type === "ContactsBlocked" || e.type === "ContactsUnblocked") && e.payload.jids.includes(contact)) ||
      (e.type === "AllContactsUnblocked");
    if (!touches) continue;
    const item = state.items.get(contact);
    const pending = state.pendingIn.has(contact);
    let s = item || pending ? describeSubscription(item, pending) : "not in the roster";
    if (state.blocked.has(contact)) s += " (blocked)";
    steps.push({ event: e, state: s });
  }
  return steps;
}
