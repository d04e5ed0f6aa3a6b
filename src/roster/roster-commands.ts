// Roster management (RFC 6121 §2.3-2.5) as pure decisions.
import type { RosterEvent, RosterState } from "./roster-types.js";
import { isContactSubscribed, isUserSubscribed, isContactPendingIn, isContactPendingOut, type Effect } from "./subscription.js";

export class RosterError extends Error {
  constructor(readonly condition: "bad-request" | "not-allowed" | "item-not-found" | "not-acceptable" | "policy-violation", message: string) {
    super(message);
    this.name = "RosterError";
  }
}

export interface RosterDecision {
  events: RosterEvent[];
  effects: Effect[];
  /** Server-generated subscription stanzas to send, in order, from the user's bare JID. */
  sends: ("unsubscribe" | "unsubscribed")[];
}

export function decideRosterSet(state: RosterState, owner: string, jid: string, name: string | undefined, groups: string[], maxItems = Infinity): RosterDecision {
  // RFC 6121 §2.3.3 / §2.5: the user's own JID is not a contact.
  if (jid === owner) throw new RosterError("not-allowed", "You cannot add yourself to your roster");
  const item = state.items.get(jid);
  if (!item && state.items.size >= maxItems) throw new RosterError("policy-violation", `A roster holds at most ${maxItems} items`);
  if (item && item.name === name && item.groups.length === groups.length && item.groups.every((g, i) => g === groups[i])) {
    return { events: [], effects: [], sends: [] };
  }
  return { events: [{ type: "RosterItemSet", payload: name !== undefined ? { jid, name, groups } : { jid, groups } }], effects: [], sends: [] };
}

/**
 * RFC 6121 §2.5.3 (with Prosody's order): removing a contact cancels both
 * directions: unsubscribed if the contact was subscribed or asking, then
 * unavailable from each available resource and unsubscribe if we were
 * subscribed or asking.
 */
export function decideRosterRemove(state: RosterState, owner: string, jid: string): RosterDecision {
  if (jid === owner) throw new RosterError("not-allowed", "You cannot remove yourself from your roster");
  if (!state.items.has(jid)) throw new RosterError("item-not-found", `${jid} is not in your roster`);
  const effects: Effect[] = [];
  const sends: ("unsubscribe" | "unsubscribed")[] = [];
  if (isContactSubscribed(state, jid) || isContactPendingIn(state, jid)) sends.push("unsubscribed");
  if (isUserSubscribed(state, jid) || isContactPendingOut(state, jid)) {
    effects.push({ kind: "unavailableFromResources", to: jid });
    sends.push("unsubscribe");
  }
  return { events: [{ type: "RosterItemRemoved", payload: { jid } }], effects, sends };
}
