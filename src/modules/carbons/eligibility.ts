// XEP-0280 §6.1: which messages are carbon-copied. The recommended rules,
// which this server follows as required ones (it advertises
// urn:xmpp:carbons:rules:0, §6.2), plus the opt-outs of §9 and XEP-0334.
import type { XmlElement } from "../../xml/element.js";

export const NS_CARBONS = "urn:xmpp:carbons:2";
export const NS_CARBONS_RULES = "urn:xmpp:carbons:rules:0";
export const NS_FORWARD = "urn:xmpp:forward:0";
const NS_HINTS = "urn:xmpp:hints";
const NS_RECEIPTS = "urn:xmpp:receipts";
const NS_CHATSTATES = "http://jabber.org/protocol/chatstates";
const NS_MARKERS = "urn:xmpp:chat-markers:0";
const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
const NS_CONFERENCE = "jabber:x:conference";

/** §8 sent copies (a resource sent it), §7 received copies (it reached the user). */
export type CarbonDirection = "sent" | "received";

/** §9: a <private/> element, or XEP-0334 §4.3's <no-copy/> hint: no copy on either server. */
export function optsOutOfCarbons(message: XmlElement): boolean {
  return message.getChild("private", NS_CARBONS) !== undefined || message.getChild("no-copy", NS_HINTS) !== undefined;
}

/** §6.1: payloads typically used in IM: XEP-0184 receipts, XEP-0085 chat states, XEP-0333 markers. */
function carriesImPayload(message: XmlElement): boolean {
  for (const c of message.children) {
    if (typeof c !== "string" && (c.ns === NS_RECEIPTS || c.ns === NS_CHATSTATES || c.ns === NS_MARKERS)) return true;
  }
  return false;
}

/** §6.1 MUC rules: a XEP-0249 direct invitation or a XEP-0045 mediated one. */
function isInvitation(message: XmlElement): boolean {
  return message.getChild("x", NS_CONFERENCE) !== undefined || message.getChild("x", NS_MUC_USER)?.getChild("invite", NS_MUC_USER) !== undefined;
}

/**
 * XEP-0280 §6.1. `answersEligible` says whether an error answers a message
 * that was itself eligible (the server's own correlation, see index.ts).
 */
export function isEligibleForCarbons(message: XmlElement, direction: CarbonDirection, answersEligible: () => boolean): boolean {
  if (optsOutOfCarbons(message)) return false;
  const type = message.attrs.type ?? "normal";
  // "A <message/> of type groupchat SHOULD NOT be carbon-copied."
  if (type === "groupchat") return false;
  // "it is of type error and it was sent in response to a <message/> that was eligible"
  if (type === "error") return answersEligible();
  if (isInvitation(message)) return true;
  // "A private <message/> from a MUC participant (received from a full JID) to a local
  // user SHOULD NOT be carbon-copied": the room already sends it to every joined client.
  if (direction === "received" && message.getChild("x", NS_MUC_USER) !== undefined) return false;
  if (type === "chat") return true;
  if (type === "normal" && message.getChild("body", message.ns) !== undefined) return true;
  return carriesImPayload(message);
}
