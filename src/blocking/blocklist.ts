// XEP-0191 Blocking Command: the JID matching of §3.3, and the former API
// of the block/unblock decisions, which the account decider
// (src/accounts/decider/blocking.ts) now makes.
import type { RosterEvent, RosterState } from "../roster/roster-types.js";
import type { Jid } from "../jid/jid.js";
import { decideBlockJids, decideUnblockJids } from "../accounts/decider/blocking.js";
import type { Outcome } from "../accounts/decider/outcome.js";

export { BlockingError } from "../accounts/decider/errors.js";

/**
 * XEP-0191 §3.3 (the order of XEP-0016 §2.1): a blocked item matches an
 * address equal to it, or to the address's bare JID, domain/resource, or
 * domain. Both sides are prepared JIDs (RFC 7622): the list holds normalised
 * strings, and the address is a parsed Jid, so `TYBALT@localhost` and
 * `tybalt@LOCALHOST/sword` match a block on `tybalt@localhost`.
 */
export function isBlocked(state: RosterState, address: Jid): boolean {
  const blocked = state.blocked;
  if (blocked.size === 0) return false;
  if (blocked.has(address.toString())) return true;
  if (address.local !== "" && blocked.has(address.bareString())) return true;
  if (address.resource !== "" && blocked.has(`${address.domain}/${address.resource}`)) return true;
  return blocked.has(address.domain);
}

/**
 * isBlocked for a roster contact, which is a prepared bare JID or domain: no
 * parse needed (its bare form is itself, its domain what follows the '@').
 */
export function isContactBlocked(state: RosterState, contact: string): boolean {
  const blocked = state.blocked;
  if (blocked.size === 0) return false;
  if (blocked.has(contact)) return true;
  const at = contact.indexOf("@");
  return at >= 0 && blocked.has(contact.slice(at + 1));
}

export interface BlockDecision {
  events: RosterEvent[];
  /** Newly blocked subscribers: they get unavailable from each available resource. */
  withdrawPresenceFrom: string[];
  /** Newly unblocked subscribers: they get our current presence again. */
  resendPresenceTo: string[];
}

function toBlockDecision(o: Outcome): BlockDecision {
  const withdrawPresenceFrom: string[] = [];
  const resendPresenceTo: string[] = [];
  for (const e of o.effects) {
    if (e.kind === "unavailableFromResources") withdrawPresenceFrom.push(e.to);
    else if (e.kind === "currentPresence") resendPresenceTo.push(e.to);
  }
  return { events: o.events as RosterEvent[], withdrawPresenceFrom, resendPresenceTo };
}

/** @deprecated use accountDecider with a block command. */
export function decideBlock(state: RosterState, jids: string[], maxItems = Infinity): BlockDecision {
  return toBlockDecision(decideBlockJids(state, "", jids, maxItems));
}

/**
 * An empty list unblocks every JID (XEP-0191 §3.4).
 * @deprecated use accountDecider with an unblock command.
 */
export function decideUnblock(state: RosterState, jids: string[]): BlockDecision {
  return toBlockDecision(decideUnblockJids(state, jids));
}
