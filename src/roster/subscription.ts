// Presence subscriptions (RFC 6121 §3 and Appendix A) as pure decisions.
// Given the account's state and a subscription stanza going out (sent by
// the user) or coming in (from a contact), decide the events to append,
// whether the stanza is routed or delivered, and the presence the server
// must send as a consequence. Prosody's observable behaviour fills the gaps
// the RFC leaves (the "acknowledging" unavailable, probes after approval).
import type { RosterEvent, RosterState, Subscription } from "./roster-types.js";

export type SubscriptionType = "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed";

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

const none = (pass = false): Decision => ({ events: [], pass, audience: "interested", effects: [] });

// Predicates named in the RFC's words.
export function subscriptionOf(state: RosterState, jid: string): Subscription {
  return state.items.get(jid)?.subscription ?? "none";
}
/** The contact receives the user's presence. */
export function isContactSubscribed(state: RosterState, jid: string): boolean {
  const s = subscriptionOf(state, jid);
  return s === "from" || s === "both";
}
/** The user receives the contact's presence. */
export function isUserSubscribed(state: RosterState, jid: string): boolean {
  const s = subscriptionOf(state, jid);
  return s === "to" || s === "both";
}
export const isContactPendingIn = (state: RosterState, jid: string): boolean => state.pendingIn.has(jid);
export const isContactPendingOut = (state: RosterState, jid: string): boolean => state.items.get(jid)?.ask === true;
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

/** The user sent `type` to the contact (RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2; Appendix A.2/A.3 outbound). */
export function decideOutbound(state: RosterState, type: SubscriptionType, contact: string): Decision {
  switch (type) {
    case "subscribe": {
      // §3.1.2: routed in every state (it lets a contact's server that lost
      // state resynchronise, and Prosody does the same); pending out unless
      // already pending or subscribed.
      if (isContactPendingOut(state, contact) || isUserSubscribed(state, contact)) return none(true);
      return { ...none(true), events: [{ type: "SubscriptionRequested", payload: { jid: contact } }] };
    }
    case "unsubscribe": {
      // §3.3.2: routed in every state, like subscribe; the user's
      // subscription (and any pending request) ends.
      if (!isUserSubscribed(state, contact) && !isContactPendingOut(state, contact)) return none(true);
      return { ...none(true), events: [{ type: "SubscriptionCancelled", payload: { jid: contact } }] };
    }
    case "subscribed": {
      if (isContactPendingIn(state, contact)) {
        // §3.1.5: approve; the contact then gets our current presence.
        const effects: Effect[] = [{ kind: "currentPresence", to: contact, orUnavailable: false }];
        if (isUserSubscribed(state, contact)) effects.push({ kind: "presence", type: "probe", to: contact });
        return { events: [{ type: "ContactApproved", payload: { jid: contact } }], pass: true, audience: "interested", effects };
      }
      // A.2.3: From, From + Pending Out, Both: nothing to approve; not routed.
      if (isContactSubscribed(state, contact)) return none(false);
      // §3.4: no request to answer: remember a pre-approval instead; nothing is routed.
      if (isContactPreApproved(state, contact)) return none(false);
      return { ...none(false), events: [{ type: "ContactPreApproved", payload: { jid: contact } }] };
    }
    case "unsubscribed": {
      // §3.2.2: refuse a request or revoke the contact's subscription (or a pre-approval).
      const subscribed = isContactSubscribed(state, contact);
      if (!subscribed && !isContactPendingIn(state, contact)) {
        if (isContactPreApproved(state, contact)) {
          return { ...none(false), events: [{ type: "ContactSubscriptionCancelled", payload: { jid: contact } }] };
        }
        return none(false);
      }
      return {
        events: [{ type: "ContactSubscriptionCancelled", payload: { jid: contact } }],
        pass: true,
        audience: "interested",
        effects: subscribed ? [{ kind: "unavailableFromResources", to: contact }] : [],
      };
    }
  }
}

/**
 * A subscription stanza from the contact arrived for the user (RFC 6121
 * §3.1.3, §3.1.6, §3.2.3, §3.3.3; Appendix A inbound). `stanza` is the
 * request as it will be stored for redelivery.
 */
export function decideInbound(state: RosterState, type: SubscriptionType, contact: string, stanza: string): Decision {
  switch (type) {
    case "subscribe": {
      if (isContactSubscribed(state, contact)) {
        // §3.1.3: already subscribed: answer for the user, deliver nothing.
        return {
          ...none(false),
          effects: [
            { kind: "presence", type: "subscribed", to: contact },
            { kind: "currentPresence", to: contact, orUnavailable: true },
          ],
        };
      }
      if (isContactPreApproved(state, contact)) {
        // §3.4: pre-approved: approve automatically, as if the user had sent subscribed.
        const effects: Effect[] = [
          { kind: "presence", type: "subscribed", to: contact },
          { kind: "currentPresence", to: contact, orUnavailable: false },
        ];
        if (isUserSubscribed(state, contact)) effects.push({ kind: "presence", type: "probe", to: contact });
        return { events: [{ type: "ContactApproved", payload: { jid: contact } }], pass: false, audience: "available", effects };
      }
      // Prosody acknowledges receipt with unavailable presence from the user's bare JID.
      const ack: Effect = { kind: "presence", type: "unavailable", to: contact };
      if (isContactPendingIn(state, contact)) return { ...none(false), effects: [ack] };
      return {
        events: [{ type: "SubscriptionRequestReceived", payload: { jid: contact, stanza } }],
        pass: true,
        audience: "available",
        effects: [ack],
      };
    }
    case "subscribed": {
      // §3.1.6: only an answer to our pending request counts.
      if (!isContactPendingOut(state, contact)) return none(false);
      return { ...none(true), events: [{ type: "SubscriptionGranted", payload: { jid: contact } }] };
    }
    case "unsubscribe": {
      // §3.3.3: the contact no longer wants our presence.
      if (!isContactSubscribed(state, contact) && !isContactPendingIn(state, contact)) return none(false);
      return { ...none(true), events: [{ type: "ContactSubscriptionCancelled", payload: { jid: contact } }] };
    }
    case "unsubscribed": {
      // §3.2.3: our subscription (or pending request) was cancelled or refused.
      if (!isUserSubscribed(state, contact) && !isContactPendingOut(state, contact)) return none(false);
      return { ...none(true), events: [{ type: "SubscriptionCancelled", payload: { jid: contact } }] };
    }
  }
}

/** RFC 6121 §4.3.2: answer a probe. */
export function decideProbe(state: RosterState, contact: string, probeFrom: string): Effect[] {
  if (isContactSubscribed(state, contact)) return [{ kind: "currentPresence", to: probeFrom, orUnavailable: true }];
  return [{ kind: "presence", type: "unsubscribed", to: contact }];
}
