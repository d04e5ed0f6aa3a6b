// What a user's archive keeps (XEP-0313 §3.3.1 user archives, and its archiving
// preferences), decided purely from the message, the other party and the
// user's preferences: no clock, no database, so the tests can read as a table.
//
// Two questions, in this order (as Prosody's mod_mam asks them):
//  1. Is the message worth archiving at all? By type (RFC 6121 §5.2.2): not a
//     headline (ephemeral by definition), not an error, not groupchat (a MUC
//     keeps its own archive, XEP-0313 §3.3.2); then XEP-0334 hints: `no-store`
//     and `no-permanent-store` say no, `store` says yes; then content: a body,
//     or something a conversation view needs. XEP-0085 chat states alone are
//     not archived (nor anything else without such content).
//  2. Do the user's preferences allow it for this JID? `never` wins over
//     `always`; a JID on neither list follows `default` (always, never, or
//     roster: only JIDs in the user's roster).
import type { XmlElement } from "../../xml/element.js";
import type { Jid } from "../../jid/jid.js";
import type { MamDefaultPolicy } from "../../config.js";
import { NS } from "../../xmpp/namespaces.js";

/** XEP-0313 archiving preferences (<prefs/>), JIDs prepared (RFC 7622). */
export interface MamPrefs {
  readonly default: MamDefaultPolicy;
  readonly always: readonly string[];
  readonly never: readonly string[];
}

export const HINTS = "urn:xmpp:hints";

/** Payloads that make a message without a body worth keeping, each with the XEP that defines it. */
const ARCHIVABLE_PAYLOADS: readonly { readonly ns: string; readonly name?: string; readonly why: string }[] = [
  { ns: "urn:xmpp:eme:0", name: "encryption", why: "encrypted (XEP-0380)" },
  { ns: "eu.siacs.conversations.axolotl", name: "encrypted", why: "encrypted (XEP-0384)" },
  { ns: "urn:xmpp:omemo:2", name: "encrypted", why: "encrypted (XEP-0384)" },
  { ns: "urn:xmpp:receipts", why: "receipt (XEP-0184)" },
  { ns: "urn:xmpp:chat-markers:0", why: "marker (XEP-0333)" },
  { ns: "jabber:x:conference", name: "x", why: "invitation (XEP-0249)" },
  { ns: "urn:xmpp:jingle-message:0", why: "call (XEP-0353)" },
  { ns: "urn:xmpp:jingle-message:1", why: "call (XEP-0353)" },
  { ns: "urn:xmpp:message-retract:1", name: "retract", why: "retraction (XEP-0424)" },
  { ns: "urn:xmpp:reactions:0", name: "reactions", why: "reactions (XEP-0444)" },
];

const MUC_USER = "http://jabber.org/protocol/muc#user";

export interface ContentVerdict {
  readonly archivable: boolean;
  /** Why, in a word or two: for logs and for the tests' failure messages. */
  readonly reason: string;
}

/** Question 1: the message by its type, hints and content. */
export function archivableContent(stanza: XmlElement): ContentVerdict {
  const type = stanza.attrs.type ?? "normal";
  if (type === "headline") return { archivable: false, reason: "headline" };
  if (type === "error") return { archivable: false, reason: "error" };
  if (type === "groupchat") return { archivable: false, reason: "groupchat" };
  // XEP-0334 §4: hints from the sender.
  if (stanza.getChild("no-store", HINTS) || stanza.getChild("no-permanent-store", HINTS)) return { archivable: false, reason: "no-store hint" };
  if (stanza.getChild("store", HINTS)) return { archivable: true, reason: "store hint" };
  if (stanza.getChild("body", NS.client)) return { archivable: true, reason: "body" };
  if (stanza.getChild("subject", NS.client)) return { archivable: true, reason: "subject" };
  for (const p of ARCHIVABLE_PAYLOADS) {
    if (p.name === undefined ? stanza.getChildByNs(p.ns) : stanza.getChild(p.name, p.ns)) return { archivable: true, reason: p.why };
  }
  if (stanza.getChild("x", MUC_USER)?.getChild("invite", MUC_USER)) return { archivable: true, reason: "invitation (XEP-0045)" };
  // XEP-0085 chat states, and anything else without content a conversation shows.
  return { archivable: false, reason: "no content" };
}

/** A preference list entry matches the other party's bare JID, or its full JID when the entry names one. */
function listed(list: readonly string[], other: Jid): boolean {
  return list.includes(other.bareString()) || (other.resource !== "" && list.includes(other.toString()));
}

/** Question 2 (XEP-0313 archiving preferences): may messages with `other` go into the archive? */
export function prefsAllow(prefs: MamPrefs, other: Jid, inRoster: (bareJid: string) => boolean): boolean {
  if (listed(prefs.never, other)) return false;
  if (listed(prefs.always, other)) return true;
  switch (prefs.default) {
    case "always":
      return true;
    case "never":
      return false;
    case "roster":
      return inRoster(other.bareString());
  }
}

export interface ArchiveDecision {
  readonly archive: boolean;
  readonly reason: string;
}

/** Both questions: archive this message, exchanged with `other`, in this user's archive? */
export function decideArchiving(stanza: XmlElement, other: Jid, prefs: MamPrefs, inRoster: (bareJid: string) => boolean): ArchiveDecision {
  const content = archivableContent(stanza);
  if (!content.archivable) return { archive: false, reason: content.reason };
  if (!prefsAllow(prefs, other, inRoster)) return { archive: false, reason: "preferences" };
  return { archive: true, reason: content.reason };
}
