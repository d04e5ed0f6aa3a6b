// Roster management (RFC 6121 §2.3-2.5) and the cancellation of both
// subscriptions with a contact that leaves the roster (§2.5.3).
import type { RosterState } from "../../roster/roster-types.js";
import { isContactPendingIn, isContactPendingOut, isContactSubscribed, isUserSubscribed } from "../../roster/predicates.js";
import type { AccountEffect } from "./effects.js";
import { RosterError } from "./errors.js";
import { rosterPushFor, type Outcome } from "./outcome.js";

const sameGroups = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((g, i) => g === b[i]);

export function decideRosterItemSet(
  roster: RosterState,
  owner: string,
  jid: string,
  name: string | undefined,
  groups: readonly string[],
  maxItems: number,
): Outcome {
  const context = { account: owner, command: "roster.set", subject: jid };
  // RFC 6121 §2.3.3 / §2.5: the user's own JID is not a contact.
  if (jid === owner) throw new RosterError("not-allowed", "You cannot add yourself to your roster", context);
  const item = roster.items.get(jid);
  if (!item && roster.items.size >= maxItems) throw new RosterError("policy-violation", `A roster holds at most ${maxItems} items`, context);
  // Nothing changes: no event, and so no push (§2.1.6 pushes changes).
  if (item && item.name === name && sameGroups(item.groups, groups)) return { events: [], effects: [] };
  const events = [{ type: "RosterItemSet" as const, payload: name !== undefined ? { jid, name, groups: [...groups] } : { jid, groups: [...groups] } }];
  return { events, effects: rosterPushFor(roster, events) };
}

/**
 * What the contact must be told when the user drops them (RFC 6121 §2.5.3,
 * in Prosody's order): unsubscribed if they were subscribed or asking, then
 * unavailable from each available resource and unsubscribe if we were
 * subscribed or asking. (The unavailables go with the unsubscribe, as the
 * server has sent them since the first roster module; keep the three in
 * this order: clients and the scansion scripts see them so.)
 */
export function cancellationsFor(roster: RosterState, jid: string): AccountEffect[] {
  const effects: AccountEffect[] = [];
  if (isContactSubscribed(roster, jid) || isContactPendingIn(roster, jid)) effects.push({ kind: "presence", type: "unsubscribed", to: jid });
  if (isUserSubscribed(roster, jid) || isContactPendingOut(roster, jid)) {
    effects.push({ kind: "unavailableFromResources", to: jid });
    effects.push({ kind: "presence", type: "unsubscribe", to: jid });
  }
  return effects;
}

/** RFC 6121 §2.5: remove the item; the push comes first, then the contact hears of it (§2.5.3). */
export function decideRosterItemRemove(roster: RosterState, owner: string, jid: string): Outcome {
  const context = { account: owner, command: "roster.remove", subject: jid };
  if (jid === owner) throw new RosterError("not-allowed", "You cannot remove yourself from your roster", context);
  // §2.5.3: removing an item that is not there is item-not-found.
  if (!roster.items.has(jid)) throw new RosterError("item-not-found", `${jid} is not in your roster`, context);
  const events = [{ type: "RosterItemRemoved" as const, payload: { jid } }];
  return { events, effects: [...rosterPushFor(roster, events), ...cancellationsFor(roster, jid)] };
}
