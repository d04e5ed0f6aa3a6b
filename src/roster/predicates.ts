// Questions about one contact's subscription state, named in RFC 6121's
// words (§3, Appendix A), so that a reader who knows the RFC can follow the
// decisions that ask them. Pure reads of a RosterState.
import type { RosterState, Subscription } from "./roster-types.js";

export function subscriptionOf(state: RosterState, jid: string): Subscription {
  return state.items.get(jid)?.subscription ?? "none";
}

/** The contact receives the user's presence (from / both). */
export function isContactSubscribed(state: RosterState, jid: string): boolean {
  const s = subscriptionOf(state, jid);
  return s === "from" || s === "both";
}

/** The user receives the contact's presence (to / both). */
export function isUserSubscribed(state: RosterState, jid: string): boolean {
  const s = subscriptionOf(state, jid);
  return s === "to" || s === "both";
}

/** The contact asked for the user's presence and has no answer yet. */
export const isContactPendingIn = (state: RosterState, jid: string): boolean => state.pendingIn.has(jid);

/** The user asked for the contact's presence and has no answer yet (ask='subscribe'). */
export const isContactPendingOut = (state: RosterState, jid: string): boolean => state.items.get(jid)?.ask === true;

/** RFC 6121 §3.4: the user approved the contact before the contact asked. */
export const isContactPreApproved = (state: RosterState, jid: string): boolean => state.items.get(jid)?.approved === true;

/** Contacts that receive the user's presence broadcasts (from / both). */
export function subscribersOf(state: RosterState): string[] {
  const out: string[] = [];
  for (const item of state.items.values()) if (item.subscription === "from" || item.subscription === "both") out.push(item.jid);
  return out;
}

/** Contacts whose presence the user receives, probed at initial presence (to / both). */
export function subscriptionsOf(state: RosterState): string[] {
  const out: string[] = [];
  for (const item of state.items.values()) if (item.subscription === "to" || item.subscription === "both") out.push(item.jid);
  return out;
}
