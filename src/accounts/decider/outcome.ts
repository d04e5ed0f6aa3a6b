// The shape every part of the account decider returns before the events are
// stamped with their metadata, and the derivation of roster pushes.
import type { RosterEvent, RosterItem, RosterState } from "../../roster/roster-types.js";
import { evolveItem, sameItem, subjectOf } from "../../roster/roster-evolve.js";
import type { AccountEvent } from "../events.js";
import type { AccountEffect } from "./effects.js";

/** Every event of an account stream: lifecycle and roster (with subscriptions and blocking). */
export type AccountStreamEvent = AccountEvent | RosterEvent;

export interface Outcome {
  readonly events: AccountStreamEvent[];
  readonly effects: AccountEffect[];
}

/**
 * The contacts whose roster item (as a roster get shows it) these events
 * change, in the order the events first name them. Computed per item with
 * evolveItem, the per-item rule the fold and the projection share, so the
 * state itself is never folded here (whatever the fold does to it).
 */
export function changedContacts(roster: RosterState, events: readonly RosterEvent[]): string[] {
  const after = new Map<string, RosterItem | undefined>();
  for (const e of events) {
    const jid = subjectOf(e);
    if (jid === undefined) continue;
    const item = after.has(jid) ? after.get(jid) : roster.items.get(jid);
    after.set(jid, evolveItem(item, e));
  }
  const out: string[] = [];
  for (const [jid, item] of after) if (!sameItem(roster.items.get(jid), item)) out.push(jid);
  return out;
}

/** A roster push for the items the events change, or nothing (RFC 6121 §2.1.6: only changes are pushed). */
export function rosterPushFor(roster: RosterState, events: readonly RosterEvent[]): AccountEffect[] {
  const jids = changedContacts(roster, events);
  return jids.length > 0 ? [{ kind: "rosterPush", jids }] : [];
}
