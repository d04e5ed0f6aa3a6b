// XEP-0191 Blocking Command: block and unblock as decisions. The JID
// matching of §3.3 (isBlocked) stays in src/blocking/blocklist.ts: it is
// a question routing asks, not a command.
import type { RosterEvent, RosterState } from "../../roster/roster-types.js";
import { isContactSubscribed } from "../../roster/predicates.js";
import type { AccountEffect } from "./effects.js";
import { BlockingError } from "./errors.js";
import type { Outcome } from "./outcome.js";

/**
 * XEP-0191 §3.3: add JIDs to the block list. Every resource that asked for
 * the block list gets a push of the request as made; a subscriber newly
 * blocked sees each of our resources go unavailable (it will receive no
 * presence from us while blocked).
 */
export function decideBlockJids(roster: RosterState, owner: string, jids: readonly string[], maxItems: number): Outcome {
  const context = { account: owner, command: "block", subject: jids };
  // §3.3: a block request without items is bad-request.
  if (jids.length === 0) throw new BlockingError("bad-request", "A block request needs at least one item", context);
  const fresh = [...new Set(jids)].filter((j) => !roster.blocked.has(j));
  if (roster.blocked.size + fresh.length > maxItems) throw new BlockingError("policy-violation", `A block list holds at most ${maxItems} entries`, context);
  const events: RosterEvent[] = fresh.length > 0 ? [{ type: "ContactsBlocked", payload: { jids: fresh } }] : [];
  const effects: AccountEffect[] = [{ kind: "blocklistPush", action: "block", jids: [...jids] }];
  for (const j of fresh) if (isContactSubscribed(roster, j)) effects.push({ kind: "unavailableFromResources", to: j });
  return { events, effects };
}

/**
 * XEP-0191 §3.4: remove JIDs from the block list; an empty list unblocks
 * every JID. An unblocked subscriber gets our current presence again.
 */
export function decideUnblockJids(roster: RosterState, jids: readonly string[]): Outcome {
  const all = jids.length === 0;
  const present = all ? [...roster.blocked] : [...new Set(jids)].filter((j) => roster.blocked.has(j));
  const events: RosterEvent[] =
    present.length === 0 ? [] : all ? [{ type: "AllContactsUnblocked", payload: {} }] : [{ type: "ContactsUnblocked", payload: { jids: present } }];
  const effects: AccountEffect[] = [{ kind: "blocklistPush", action: "unblock", jids: [...jids] }];
  for (const j of present) if (isContactSubscribed(roster, j)) effects.push({ kind: "currentPresence", to: j, orUnavailable: false });
  return { events, effects };
}
