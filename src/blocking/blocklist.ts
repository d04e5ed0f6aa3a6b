// XEP-0191 Blocking Command as pure decisions, and the JID matching of §3.3.
import type { RosterEvent, RosterState } from "../roster/roster-types.js";
import { isContactSubscribed } from "../roster/subscription.js";
import type { Jid } from "../jid/jid.js";

export class BlockingError extends Error {
  constructor(readonly condition: "bad-request" | "policy-violation", message: string) {
    super(message);
    this.name = "BlockingError";
  }
}

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

export interface BlockDecision {
  events: RosterEvent[];
  /** Newly blocked subscribers: they get unavailable from each available resource. */
  withdrawPresenceFrom: string[];
  /** Newly unblocked subscribers: they get our current presence again. */
  resendPresenceTo: string[];
}

export function decideBlock(state: RosterState, jids: string[], maxItems = Infinity): BlockDecision {
  if (jids.length === 0) throw new BlockingError("bad-request", "A block request needs at least one item");
  const fresh = jids.filter((j) => !state.blocked.has(j));
  if (state.blocked.size + fresh.length > maxItems) throw new BlockingError("policy-violation", `A block list holds at most ${maxItems} entries`);
  return {
    events: fresh.length > 0 ? [{ type: "ContactsBlocked", payload: { jids: fresh } }] : [],
    withdrawPresenceFrom: fresh.filter((j) => isContactSubscribed(state, j)),
    resendPresenceTo: [],
  };
}

/** An empty list unblocks every JID (XEP-0191 §3.4). */
export function decideUnblock(state: RosterState, jids: string[]): BlockDecision {
  if (jids.length === 0) {
    const all = [...state.blocked];
    return {
      events: all.length > 0 ? [{ type: "AllContactsUnblocked", payload: {} }] : [],
      withdrawPresenceFrom: [],
      resendPresenceTo: all.filter((j) => isContactSubscribed(state, j)),
    };
  }
  const present = jids.filter((j) => state.blocked.has(j));
  return {
    events: present.length > 0 ? [{ type: "ContactsUnblocked", payload: { jids: present } }] : [],
    withdrawPresenceFrom: [],
    resendPresenceTo: present.filter((j) => isContactSubscribed(state, j)),
  };
}
