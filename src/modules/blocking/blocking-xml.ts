// The wire form of XEP-0191: the block list, block/unblock requests, pushes.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { tryParseJid } from "../../jid/jid.js";
import { StanzaError } from "../../xmpp/errors.js";

export function blocklistElement(jids: Iterable<string>): XmlElement {
  return el("blocklist", NS.blocking, {}, ...[...jids].sort().map((jid) => el("item", NS.blocking, { jid })));
}

/** XEP-0191 §3.2: the push repeats the request's items (normalised). */
export function blocklistPush(to: string, action: "block" | "unblock", jids: readonly string[]): XmlElement {
  return el("iq", NS.client, { type: "set", id: "blocklist-push", to },
    el(action, NS.blocking, {}, ...jids.map((jid) => el("item", NS.blocking, { jid }))));
}

/**
 * The JIDs of a block or unblock request, normalised (RFC 7622 case folding),
 * duplicates removed in linear time; a JID that does not parse is
 * jid-malformed (XEP-0191 §3.3). More distinct items than a block list may
 * hold is refused before any further work.
 */
export function requestedJids(payload: XmlElement, maxItems = Infinity): string[] {
  const jids = new Set<string>();
  for (const item of payload.getChildren("item", NS.blocking)) {
    const raw = item.attrs.jid;
    const jid = raw === undefined ? undefined : tryParseJid(raw);
    if (!jid) throw new StanzaError({ condition: "jid-malformed", text: `'${raw ?? ""}' is not a JID` });
    jids.add(jid.toString());
    if (jids.size > maxItems) throw new StanzaError({ condition: "policy-violation", text: `A block list holds at most ${maxItems} entries` });
  }
  return [...jids];
}
