// XEP-0191 Blocking Command: the JID matching of §3.3, and the former API
// of the block/unblock decisions, which the account decider
// (src/accounts/decider/blocking.ts) now makes.
import type { RosterEvent, RosterState } from "../roster/roster-types.js";
import { decideBlockJids, decideUnblockJids } from "../accounts/decider/blocking.js";
import type { Outcome } from "../accounts/decider/outcome.js";

export { BlockingError } from "../accounts/decider/errors.js";

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
