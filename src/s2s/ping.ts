// XEP-0199 §4.3 server-to-server pings: what Parley sends on an outgoing stream
// that has been quiet, how their answers are told apart from every other
// stanza (an id prefix: the answer comes back on the peer's own stream to us,
// RFC 6120 §8.2, not on the stream the ping went out on), and which stanzas
// are pings or their answers, so that they keep no stream from its idle close.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { tryParseJid } from "../jid/jid.js";

/** Ids of our pings start with this; an answer carrying it is ours and never routed to a user. */
export const PING_ID_PREFIX = "s2s-ping-";

export function pingRequest(local: string, remote: string, id: string): XmlElement {
  return el("iq", NS.client, { type: "get", from: local, to: remote, id }, el("ping", NS.ping));
}

/** A bare domain (no local part, no resource): the address servers ping each other at. */
function domainOnly(address: string | undefined): string | undefined {
  const jid = address === undefined ? undefined : tryParseJid(address);
  return jid && jid.local === "" && jid.resource === "" ? jid.domain : undefined;
}

/**
 * A ping from one server to another, or an answer to one (an empty result, or
 * an error: XEP-0199 §4.3 allows service-unavailable), between bare domains.
 * Such stanzas say the link is alive; they are not use of it.
 */
export function isKeepalive(s: XmlElement): boolean {
  if (s.name !== "iq" || domainOnly(s.attrs.from) === undefined || domainOnly(s.attrs.to) === undefined) return false;
  const children = s.children.filter((c): c is XmlElement => typeof c !== "string");
  if (s.attrs.type === "get") return children.length === 1 && children[0]?.is("ping", NS.ping) === true;
  if (s.attrs.type === "result") return children.length === 0;
  return s.attrs.type === "error";
}

/** An answer (result or error) to one of our pings: to a bare local domain, with our id prefix. */
export function pingAnswer(s: XmlElement): { local: string; remote: string; id: string } | undefined {
  const id = s.attrs.id;
  if (s.name !== "iq" || (s.attrs.type !== "result" && s.attrs.type !== "error") || id === undefined || !id.startsWith(PING_ID_PREFIX)) return undefined;
  const local = domainOnly(s.attrs.to);
  const remote = s.attrs.from === undefined ? undefined : tryParseJid(s.attrs.from)?.domain;
  return local === undefined || remote === undefined ? undefined : { local, remote, id };
}
