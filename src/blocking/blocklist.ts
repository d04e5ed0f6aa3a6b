// XEP-0191 Blocking Command as pure decisions, and the JID matching of §3.3.
import type { RosterEvent, RosterState } from "../roster/roster-types.js";
import { isContactSubscribed } from "../roster/subscription.js";

export class BlockingError extends Error {
  constructor(readonly condition: "bad-request" | "policy-violation", message: string) {
    super(message);
    this.name = "BlockingError";
  }
}

/**
 * XEP-0191 §3.3 (the order of XEP-0016 §2.1): a blocked item matches an
 * address equal to it, or to the address's bare JID, domain/resource, or
 * domain. JIDs are normalised strings.
 */
export function isBlocked(state: RosterState, address: string): boolean {
  const blocked = state.blocked;
  if (blocked.size === 0) return false;
  if (blocked.has(address)) return true;
  const slash = address.indexOf("/");
  const bare = slash === -1 ? address : address.slice(0, slash);
  const resource = slash === -1 ? undefined : address.slice(slash + 1);
  const at = bare.indexOf("@");
  const domain = at === -1 ? bare : bare.slice(at + 1);
  if (blocked.has(bare)) return true;
  if (resource !== undefined && blocked.has(`${domain}/${resource}`)) return true;
  return blocked.has(domain);
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
