// Presence subscriptions (RFC 6121 §3 and Appendix A) as pure decisions: the former API.
// Given the account's state and a subscription stanza going out (sent by
// the user) or coming in (from a contact), decide the events to append,
// whether the stanza is routed or delivered, and the presence the server
// must send as a consequence. Prosody's observable behaviour fills the gaps
// the RFC leaves (the "acknowledging" unavailable, probes after approval).
//
// The decisions themselves are now made by the account decider
// (src/accounts/decider/subscription.ts), in its one effect vocabulary;
// this file keeps the former result shape for callers not yet moved.
import type { RosterEvent, RosterState } from "./roster-types.js";
import type { SubscriptionType } from "../accounts/decider/commands.js";
import type { AccountEffect } from "../accounts/decider/effects.js";
import { decideSubscriptionIn, decideSubscriptionOut } from "../accounts/decider/subscription.js";

export type { SubscriptionType } from "../accounts/decider/commands.js";
export {
  subscriptionOf, isContactSubscribed, isUserSubscribed, isContactPendingIn, isContactPendingOut, isContactPreApproved,
  subscribersOf, subscriptionsOf,
} from "./predicates.js";

export type Effect =
  /** A server-generated presence from the user's bare JID to the contact. */
  | { kind: "presence"; type: "subscribed" | "unsubscribed" | "unavailable" | "probe"; to: string }
  /** The current presence of each available resource, stamped with <delay/>; `orUnavailable`: an unavailable from the bare JID when none is available. */
  | { kind: "currentPresence"; to: string; orUnavailable: boolean }
  /** Unavailable presence from each available resource (RFC 6121 §3.2.3, §2.5.3). */
  | { kind: "unavailableFromResources"; to: string };

export interface Decision {
  events: RosterEvent[];
  /** Outbound: forward the user's stanza to the contact. Inbound: deliver it to the user. */
  pass: boolean;
  /** Inbound deliveries go to every available resource, or only to interested ones. */
  audience: "available" | "interested";
  effects: Effect[];
}

/** The former effects: the presence ones of AccountEffect (the others became route/deliver/pushes). */
export function presenceEffects(effects: readonly AccountEffect[]): Effect[] {
  const out: Effect[] = [];
  for (const e of effects) {
    if (e.kind === "currentPresence" || e.kind === "unavailableFromResources") out.push(e);
    else if (e.kind === "presence" && e.type !== "unsubscribe") out.push({ kind: "presence", type: e.type, to: e.to });
  }
  return out;
}

/**
 * The user sent `type` to the contact (RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2; Appendix A.2/A.3 outbound).
 * @deprecated use accountDecider with a subscription.out command.
 */
export function decideOutbound(state: RosterState, type: SubscriptionType, contact: string): Decision {
  const o = decideSubscriptionOut(state, type, contact);
  return {
    events: o.events as RosterEvent[],
    pass: o.effects.some((e) => e.kind === "route"),
    audience: "interested",
    effects: presenceEffects(o.effects),
  };
}

/**
 * A subscription stanza from the contact arrived for the user (RFC 6121
 * §3.1.3, §3.1.6, §3.2.3, §3.3.3; Appendix A inbound). `stanza` is the
 * request as it will be stored for redelivery.
 * @deprecated use accountDecider with a subscription.in command.
 */
export function decideInbound(state: RosterState, type: SubscriptionType, contact: string, stanza: string): Decision {
  const o = decideSubscriptionIn(state, type, contact, stanza);
  const deliver = o.effects.find((e) => e.kind === "deliver");
  return {
    events: o.events as RosterEvent[],
    pass: deliver !== undefined,
    audience: deliver?.audience ?? "interested",
    effects: presenceEffects(o.effects),
  };
}

