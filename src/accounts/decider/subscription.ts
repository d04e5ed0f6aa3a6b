// Presence subscriptions (RFC 6121 §3 and Appendix A) and probes (§4.3):
// given the roster and a subscription stanza going out (sent by the user)
// or coming in (from a contact), the events to append and what the server
// does about it. Prosody's observable behaviour fills the gaps the RFC
// leaves (the "acknowledging" unavailable, probes after approval).
import type { RosterEvent, RosterState } from "../../roster/roster-types.js";
import {
  isContactPendingIn, isContactPendingOut, isContactPreApproved, isContactSubscribed, isUserSubscribed,
} from "../../roster/predicates.js";
import type { SubscriptionType } from "./commands.js";
import type { AccountEffect } from "./effects.js";
import { rosterPushFor, type Outcome } from "./outcome.js";

type PresenceEffect = Extract<AccountEffect, { kind: "presence" | "currentPresence" | "unavailableFromResources" }>;

/** Outbound order, as the module sends: the roster push, the user's stanza routed, then server presence. */
function outbound(roster: RosterState, contact: string, events: RosterEvent[], routed: boolean, presence: PresenceEffect[] = []): Outcome {
  const effects: AccountEffect[] = rosterPushFor(roster, events);
  if (routed) effects.push({ kind: "route", to: contact });
  effects.push(...presence);
  return { events, effects };
}

/** Inbound order, as the module sends: the stanza delivered, the roster push, then server presence. */
function inbound(
  roster: RosterState,
  events: RosterEvent[],
  deliverTo: "available" | "interested" | undefined,
  presence: PresenceEffect[] = [],
): Outcome {
  const effects: AccountEffect[] = deliverTo !== undefined ? [{ kind: "deliver", audience: deliverTo }] : [];
  effects.push(...rosterPushFor(roster, events), ...presence);
  return { events, effects };
}

const ev = (type: Exclude<RosterEvent["type"], "SubscriptionRequestReceived" | "ContactsBlocked" | "ContactsUnblocked" | "AllContactsUnblocked" | "RosterItemSet">, jid: string): RosterEvent =>
  ({ type, payload: { jid } }) as RosterEvent;

/** The user sent `type` to the contact (RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2; Appendix A.2/A.3 outbound). */
export function decideSubscriptionOut(roster: RosterState, type: SubscriptionType, contact: string): Outcome {
  switch (type) {
    case "subscribe":
      // §3.1.2: routed in every state (it lets a contact's server that lost
      // state resynchronise, and Prosody does the same); pending out unless
      // already pending or subscribed.
      if (isContactPendingOut(roster, contact) || isUserSubscribed(roster, contact)) return outbound(roster, contact, [], true);
      return outbound(roster, contact, [ev("SubscriptionRequested", contact)], true);
    case "unsubscribe":
      // §3.3.2: routed in every state, like subscribe; the user's
      // subscription (and any pending request) ends.
      if (!isUserSubscribed(roster, contact) && !isContactPendingOut(roster, contact)) return outbound(roster, contact, [], true);
      return outbound(roster, contact, [ev("SubscriptionCancelled", contact)], true);
    case "subscribed": {
      if (isContactPendingIn(roster, contact)) {
        // §3.1.5: approve; the contact then gets our current presence, and
        // (Prosody) a probe when we are subscribed to theirs.
        const presence: PresenceEffect[] = [{ kind: "currentPresence", to: contact, orUnavailable: false }];
        if (isUserSubscribed(roster, contact)) presence.push({ kind: "presence", type: "probe", to: contact });
        return outbound(roster, contact, [ev("ContactApproved", contact)], true, presence);
      }
      // A.2.3: From, From + Pending Out, Both: nothing to approve; not routed.
      if (isContactSubscribed(roster, contact)) return outbound(roster, contact, [], false);
      // §3.4: no request to answer: remember a pre-approval instead; nothing is routed.
      if (isContactPreApproved(roster, contact)) return outbound(roster, contact, [], false);
      return outbound(roster, contact, [ev("ContactPreApproved", contact)], false);
    }
    case "unsubscribed": {
      // §3.2.2: refuse a request or revoke the contact's subscription (or a pre-approval).
      const subscribed = isContactSubscribed(roster, contact);
      if (!subscribed && !isContactPendingIn(roster, contact)) {
        // Only a pre-approval to cancel: nothing to tell the contact.
        if (isContactPreApproved(roster, contact)) return outbound(roster, contact, [ev("ContactSubscriptionCancelled", contact)], false);
        return outbound(roster, contact, [], false);
      }
      // §3.2.2: a contact who was subscribed sees each resource go unavailable.
      return outbound(roster, contact, [ev("ContactSubscriptionCancelled", contact)], true,
        subscribed ? [{ kind: "unavailableFromResources", to: contact }] : []);
    }
  }
}

/**
 * A subscription stanza from the contact arrived for the user (RFC 6121
 * §3.1.3, §3.1.6, §3.2.3, §3.3.3; Appendix A inbound). `stanza` is the
 * request as it will be stored for redelivery.
 */
export function decideSubscriptionIn(roster: RosterState, type: SubscriptionType, contact: string, stanza: string): Outcome {
  switch (type) {
    case "subscribe": {
      if (isContactSubscribed(roster, contact)) {
        // §3.1.3: already subscribed: answer for the user, deliver nothing.
        return inbound(roster, [], undefined, [
          { kind: "presence", type: "subscribed", to: contact },
          { kind: "currentPresence", to: contact, orUnavailable: true },
        ]);
      }
      if (isContactPreApproved(roster, contact)) {
        // §3.4: pre-approved: approve automatically, as if the user had sent subscribed.
        const presence: PresenceEffect[] = [
          { kind: "presence", type: "subscribed", to: contact },
          { kind: "currentPresence", to: contact, orUnavailable: false },
        ];
        if (isUserSubscribed(roster, contact)) presence.push({ kind: "presence", type: "probe", to: contact });
        return inbound(roster, [ev("ContactApproved", contact)], undefined, presence);
      }
      // Prosody acknowledges receipt with unavailable presence from the user's bare JID.
      const ack: PresenceEffect = { kind: "presence", type: "unavailable", to: contact };
      // §3.1.3: a request already pending is not delivered again.
      if (isContactPendingIn(roster, contact)) return inbound(roster, [], undefined, [ack]);
      // §3.1.3: delivered to every available resource (not only interested ones).
      return inbound(roster, [{ type: "SubscriptionRequestReceived", payload: { jid: contact, stanza } }], "available", [ack]);
    }
    case "subscribed":
      // §3.1.6: only an answer to our pending request counts.
      if (!isContactPendingOut(roster, contact)) return inbound(roster, [], undefined);
      return inbound(roster, [ev("SubscriptionGranted", contact)], "interested");
    case "unsubscribe":
      // §3.3.3: the contact no longer wants our presence.
      if (!isContactSubscribed(roster, contact) && !isContactPendingIn(roster, contact)) return inbound(roster, [], undefined);
      return inbound(roster, [ev("ContactSubscriptionCancelled", contact)], "interested");
    case "unsubscribed":
      // §3.2.3: our subscription (or pending request) was cancelled or refused.
      if (!isUserSubscribed(roster, contact) && !isContactPendingOut(roster, contact)) return inbound(roster, [], undefined);
      return inbound(roster, [ev("SubscriptionCancelled", contact)], "interested");
  }
}

/**
 * RFC 6121 §4.3.2: answer a probe from `contact` sent by `from`. A
 * subscribed contact gets the current presence (or unavailable); anyone else
 * learns that they are not subscribed.
 */
export function decideProbeIn(roster: RosterState, contact: string, from: string): Outcome {
  if (isContactSubscribed(roster, contact)) return { events: [], effects: [{ kind: "currentPresence", to: from, orUnavailable: true }] };
  return { events: [], effects: [{ kind: "presence", type: "unsubscribed", to: contact }] };
}
