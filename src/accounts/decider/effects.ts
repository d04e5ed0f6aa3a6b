// What the server must do after a decision's events are stored and folded:
// one vocabulary for every command of an account stream. The decider says
// WHAT, in order; the account actor carries the effects out IN THE ORDER
// GIVEN (a client sees the stanzas in that order, and RFC 6121 cares):
//
//   subscription.out   rosterPush?, route?, then presence effects
//                      (§3.1.5 approval: currentPresence, then probe if the user
//                      is subscribed to the contact; §3.2.2 revoke: unavailableFromResources)
//   subscription.in    deliver?, rosterPush?, then presence effects
//                      (Prosody's "acknowledging" unavailable after a request;
//                      §3.1.3 already subscribed: subscribed, currentPresence/orUnavailable;
//                      §3.4 pre-approved: subscribed, currentPresence, probe?)
//   probe.in           currentPresence (orUnavailable) or presence unsubscribed (§4.3.2)
//   roster.set         rosterPush (only when the item changed)
//   roster.remove      rosterPush, presence unsubscribed?, unavailableFromResources?,
//                      presence unsubscribe? (§2.5.3 in Prosody's order)
//   block              blocklistPush (the JIDs as requested, XEP-0191 §3.3),
//                      unavailableFromResources for each newly blocked subscriber
//   unblock            blocklistPush (as requested; empty = all, §3.4),
//                      currentPresence for each unblocked subscriber
//   register, password.change   none
//   delete             kickSessions (former contacts are told on AccountDeleted, for
//                      CLI deletions too: see cancellationsFor)
//
// Effects that follow an IQ (roster.*, block, unblock, password.change,
// delete) are meant to run after the IQ's result is sent (RFC 6121 §2.3.2:
// the push follows the result; XEP-0077 §3.2: the result before the account goes).
import type { StreamErrorCondition } from "../../xmpp/errors.js";

export type AccountEffect =
  /**
   * Route the user's own subscription stanza (the command's) onward to
   * `to`, stamped from the user's bare JID and to the contact's (§3.1.2).
   */
  | { kind: "route"; to: string }
  /**
   * Deliver the command's inbound stanza to the user's resources: every
   * available one, or only those that asked for the roster ("interested",
   * RFC 6121 §3.1.6, §3.2.3, §3.3.3).
   */
  | { kind: "deliver"; audience: "available" | "interested" }
  /** A server-generated presence from the user's bare JID to `to`. */
  | { kind: "presence"; type: "subscribed" | "unsubscribed" | "unavailable" | "probe" | "unsubscribe"; to: string }
  /**
   * The current presence of each available resource, to `to`, stamped with
   * XEP-0203 <delay/>; `orUnavailable`: an unavailable from the bare JID when
   * no resource is available.
   */
  | { kind: "currentPresence"; to: string; orUnavailable: boolean }
  /** Unavailable presence from each available resource (RFC 6121 §3.2.3, §2.5.3). */
  | { kind: "unavailableFromResources"; to: string }
  /**
   * Roster pushes (RFC 6121 §2.1.6) to the interested resources, for these
   * items as they are after the fold (an item no longer there is pushed as
   * subscription='remove'), with the roster version after the fold.
   */
  | { kind: "rosterPush"; jids: readonly string[] }
  /** Block-list pushes (XEP-0191 §3.3, §3.4) to the resources that asked for the block list. */
  | { kind: "blocklistPush"; action: "block" | "unblock"; jids: readonly string[] }
  /** End every session of the account with this stream error (the account was deleted). */
  | { kind: "kickSessions"; condition: StreamErrorCondition; text: string };

export type AccountEffectKind = AccountEffect["kind"];

/** One handler per effect kind: the compiler says when a kind is added and not carried out. */
export type AccountEffectHandlers = { readonly [K in AccountEffectKind]: (effect: Extract<AccountEffect, { kind: K }>) => void };

/** Carries the effects out in their order, each by the handler of its kind. */
export function carryOut(effects: readonly AccountEffect[], handlers: AccountEffectHandlers): void {
  for (const e of effects) (handlers[e.kind] as (effect: AccountEffect) => void)(e);
}
