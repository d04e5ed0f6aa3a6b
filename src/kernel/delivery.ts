// What happens to a stanza that reached a local account when no module
// handled its hook: RFC 6121 §8.5 for messages, §4 for presence, RFC 6120
// §8.2 and §10.5 for IQs.
import type { XmlElement } from "../xml/element.js";
import type { Jid } from "../jid/jid.js";
import type { InboundStanza } from "./events.js";
import type { ResourceSession } from "./account.js";
import type { KernelServices } from "./services.js";
import { dispatchAccountIq, isIqRequest } from "./iq-dispatch.js";

type MessageType = "normal" | "chat" | "groupchat" | "headline" | "error";

export function messageType(stanza: XmlElement): MessageType {
  const t = stanza.attrs.type;
  return t === "chat" || t === "groupchat" || t === "headline" || t === "error" ? t : "normal";
}

/**
 * RFC 6121 §8.5.3 (full JID) and §8.5.2 (bare JID), with no resource to take
 * it → `message/offline`. Whoever got it is announced on `message/delivered`
 * (XEP-0280 §7: carbons go to the resources that did not).
 */
export function deliverMessage(k: KernelServices, event: InboundStanza): void {
  const { account, stanza, to } = event;
  const type = messageType(stanza);
  if (to.resource !== "") {
    const session = account.sessions.get(to.resource);
    if (session) {
      session.session.send({ type: "deliver", stanza });
      return delivered(k, event, [session], false);
    }
    // §8.5.3.2.1: no such resource: groupchat bounced, headline and error dropped, the rest as if to the bare JID.
    if (type === "groupchat") return k.router.bounce(stanza, { condition: "service-unavailable" });
    if (type === "headline" || type === "error") return;
  }
  switch (type) {
    case "error":
      return; // §8.5.2.1.1: an error to the bare JID is dropped.
    case "groupchat":
      return k.router.bounce(stanza, { condition: "service-unavailable" });
    case "headline": {
      // §8.5.2.1.1: a headline goes to every available resource with non-negative priority.
      const targets = account.messageTargets(false);
      for (const s of targets) s.session.send({ type: "deliver", stanza });
      if (targets.length > 0) delivered(k, event, targets, false);
      return; // §8.5.2.2.1: with none, silently ignored.
    }
    case "chat":
    case "normal": {
      // §8.5.2.1.1 option (a): chat and normal go to the "most available" resources,
      // those with the highest non-negative priority (all of them on a tie, as Prosody
      // does); the others see it only as a carbon, if they enabled carbons (XEP-0280).
      const targets = account.messageTargets(true);
      if (targets.length > 0) {
        for (const s of targets) s.session.send({ type: "deliver", stanza });
        return delivered(k, event, targets, false);
      }
      // §8.5.2.2.1: nobody online: stored offline by a module, or an error.
      if (k.hooks.fire("message/offline", event)) return delivered(k, event, [], true);
      k.router.bounce(stanza, { condition: "service-unavailable" });
    }
  }
}

function delivered(k: KernelServices, event: InboundStanza, resources: readonly ResourceSession[], offline: boolean): void {
  k.hooks.fire("message/delivered", { event, resources, offline });
}

/** Presence nobody handled: to a full JID, that resource if it exists (§4.6.3, §8.5.3.2.2); to the bare JID, every available resource. */
export function deliverPresence(event: InboundStanza): void {
  const { account, stanza, to } = event;
  if (to.resource !== "") {
    account.deliver(to.resource, stanza);
    return;
  }
  for (const s of account.availableSessions()) s.session.send({ type: "deliver", stanza });
}

/** An IQ to a full JID goes to that resource, or service-unavailable (RFC 6120 §10.5.3.2); to the bare JID, the IQ hooks. */
export function deliverIq(k: KernelServices, event: InboundStanza): void {
  const { account, stanza, to, from } = event;
  if (to.resource !== "") {
    if (account.deliver(to.resource, stanza)) return;
    if (isIqRequest(stanza)) k.router.bounce(stanza, { condition: "service-unavailable" });
    return;
  }
  dispatchAccountIq(k.hooks, k.router, k.log, account, stanza, from, isSelf(from, account.jid));
}

function isSelf(from: Jid, account: Jid): boolean {
  return from.equalsBare(account);
}
