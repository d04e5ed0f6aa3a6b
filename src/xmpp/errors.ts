// Building stream errors (RFC 6120 §4.9) and stanza errors (RFC 6120 §8.3).
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "./namespaces.js";

export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

export type StanzaErrorCondition =
  | "bad-request" | "conflict" | "feature-not-implemented" | "forbidden" | "gone"
  | "internal-server-error" | "item-not-found" | "jid-malformed" | "not-acceptable"
  | "not-allowed" | "not-authorized" | "policy-violation" | "recipient-unavailable"
  | "redirect" | "registration-required" | "remote-server-not-found"
  | "remote-server-timeout" | "resource-constraint" | "service-unavailable"
  | "subscription-required" | "undefined-condition" | "unexpected-request";

/** The error type RFC 6120 §8.3.3 pairs with each condition. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  "bad-request": "modify", conflict: "cancel", "feature-not-implemented": "cancel",
  forbidden: "auth", gone: "cancel", "internal-server-error": "cancel",
  "item-not-found": "cancel", "jid-malformed": "modify", "not-acceptable": "modify",
  "not-allowed": "cancel", "not-authorized": "auth", "policy-violation": "modify",
  "recipient-unavailable": "wait", redirect: "modify", "registration-required": "auth",
  "remote-server-not-found": "cancel", "remote-server-timeout": "wait",
  "resource-constraint": "wait", "service-unavailable": "cancel",
  "subscription-required": "auth", "undefined-condition": "cancel",
  "unexpected-request": "wait",
};

export interface StanzaErrorSpec {
  condition: StanzaErrorCondition;
  type?: StanzaErrorType;
  text?: string;
  /** Application-specific condition element, e.g. XEP-0191's <blocked/>. */
  extra?: XmlElement;
}

/** A thrown StanzaError becomes an error reply to the offending stanza. */
export class StanzaError extends Error {
  constructor(readonly spec: StanzaErrorSpec) {
    super(`${spec.condition}${spec.text ? `: ${spec.text}` : ""}`);
    this.name = "StanzaError";
  }
}

export function errorElement(spec: StanzaErrorSpec): XmlElement {
  return el(
    "error", NS.client, { type: spec.type ?? DEFAULT_TYPE[spec.condition] },
    el(spec.condition, NS.stanzas),
    spec.text !== undefined ? el("text", NS.stanzas, {}, spec.text) : undefined,
    spec.extra,
  );
}

/**
 * The error reply to a stanza (RFC 6120 §8.3.1): same name and id, `to` and
 * `from` swapped, type "error". `from` defaults to the original `to`; pass it
 * when the original had none (the stanza was addressed to the account).
 */
export function errorReply(stanza: XmlElement, spec: StanzaErrorSpec, from?: string): XmlElement {
  // A message error keeps the original payload? RFC 6120 allows including it; we
  // leave it out so bounced bodies are not echoed into logs or other clients.
  return el(stanza.name, stanza.ns, {
    type: "error",
    id: stanza.attrs.id,
    from: from ?? stanza.attrs.to,
    to: stanza.attrs.from,
  }, errorElement(spec));
}

export type StreamErrorCondition =
  | "bad-format" | "bad-namespace-prefix" | "conflict" | "connection-timeout"
  | "host-gone" | "host-unknown" | "improper-addressing" | "internal-server-error"
  | "invalid-from" | "invalid-namespace" | "invalid-xml" | "not-authorized"
  | "not-well-formed" | "policy-violation" | "remote-connection-failed" | "reset"
  | "resource-constraint" | "restricted-xml" | "see-other-host" | "system-shutdown"
  | "undefined-condition" | "unsupported-encoding" | "unsupported-feature"
  | "unsupported-stanza-type" | "unsupported-version";

export function streamErrorElement(condition: StreamErrorCondition, text?: string): XmlElement {
  return el(
    "error", NS.stream, {},
    el(condition, NS.streams),
    text !== undefined ? el("text", NS.streams, { "xml:lang": "en" }, text) : undefined,
  );
}
