// Roster management (RFC 6121 §2.3-2.5) as pure decisions: the former API.
// The decisions are now made by the account decider
// (src/accounts/decider/roster.ts); this file keeps the former result shape
// for callers not yet moved.
import type { RosterEvent, RosterState } from "./roster-types.js";
import type { Effect } from "./subscription.js";
import { decideRosterItemRemove, decideRosterItemSet } from "../accounts/decider/roster.js";

export { RosterError } from "../accounts/decider/errors.js";

export interface RosterDecision {
  events: RosterEvent[];
  effects: Effect[];
  /** Server-generated subscription stanzas to send, in order, from the user's bare JID. */
  sends: ("unsubscribe" | "unsubscribed")[];
}

/** @deprecated use accountDecider with a roster.set command. */
export function decideRosterSet(state: RosterState, owner: string, jid: string, name: string | undefined, groups: string[], maxItems = Infinity): RosterDecision {
  return { events: decideRosterItemSet(state, owner, jid, name, groups, maxItems).events as RosterEvent[], effects: [], sends: [] };
}

/**
 * RFC 6121 §2.5.3 (with Prosody's order): removing a contact cancels both
 * directions: unsubscribed if the contact was subscribed or asking, then
 * unavailable from each available resource and unsubscribe if we were
 * subscribed or asking.
 * @deprecated use accountDecider with a roster.remove command.
 */
export function decideRosterRemove(state: RosterState, owner: string, jid: string): RosterDecision {
  const o = decideRosterItemRemove(state, owner, jid);
  const effects: Effect[] = [];
  const sends: ("unsubscribe" | "unsubscribed")[] = [];
  for (const e of o.effects) {
    if (e.kind === "unavailableFromResources") effects.push(e);
    else if (e.kind === "presence" && (e.type === "unsubscribe" || e.type === "unsubscribed")) sends.push(e.type);
  }
  return { events: o.events as RosterEvent[], effects, sends };
}
