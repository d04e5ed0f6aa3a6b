// Checks on the shape of a client's stanza before it is routed (RFC 6120
// §8.1-8.2): what cannot be handled is answered with bad-request here, and a
// `to` that is not a JID with jid-malformed (§8.3.3.8), so no feature module
// sees it: past the session, addresses are parsed Jids.
import type { XmlElement } from "../xml/element.js";
import type { StanzaErrorSpec } from "./errors.js";
import { tryParseJid } from "../jid/jid.js";

const IQ_TYPES = new Set(["get", "set", "result", "error"]);
const PRESENCE_TYPES = new Set(["unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error"]);

export function stanzaProblem(stanza: XmlElement): StanzaErrorSpec | undefined {
  const to = stanza.attrs.to;
  if (to !== undefined && !tryParseJid(to)) return { condition: "jid-malformed", text: `'${to}' is not a valid JID` };
  const type = stanza.attrs.type;
  switch (stanza.name) {
    case "iq":
      // §8.2.3: an IQ must have an id and one of the four types.
      if (stanza.attrs.id === undefined || stanza.attrs.id === "") return { condition: "bad-request", text: "An IQ needs an id (RFC 6120 §8.2.3)" };
      if (type === undefined || !IQ_TYPES.has(type)) return { condition: "bad-request", text: `'${type ?? ""}' is not an IQ type (get, set, result, error)` };
      return undefined;
    case "presence":
      if (type !== undefined && !PRESENCE_TYPES.has(type)) return { condition: "bad-request", text: `'${type}' is not a presence type (RFC 6121 §4.7.1)` };
      return undefined;
    default:
      // Messages of an unknown type are treated as normal (RFC 6121 §5.2.2).
      return undefined;
  }
}
