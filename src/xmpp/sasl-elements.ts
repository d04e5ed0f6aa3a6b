// SASL elements on the wire (RFC 6120 §6.4): base64 payloads, '=' for empty.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "./namespaces.js";
import type { SaslFailureCondition } from "../sasl/mechanism.js";

/** Decodes an <auth/> or <response/> payload; undefined when it is not valid base64. */
export function decodeSaslPayload(text: string): Buffer | undefined {
  const t = text.trim();
  if (t === "" || t === "=") return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, "base64");
}

function encode(data: Buffer | undefined): string | undefined {
  if (data === undefined) return undefined;
  return data.length === 0 ? "=" : data.toString("base64");
}

export function saslChallenge(data: Buffer): XmlElement {
  return el("challenge", NS.sasl, {}, encode(data));
}

export function saslSuccess(data: Buffer | undefined): XmlElement {
  return el("success", NS.sasl, {}, encode(data));
}

export function saslFailure(condition: SaslFailureCondition, text?: string): XmlElement {
  return el("failure", NS.sasl, {}, el(condition, NS.sasl),
    text !== undefined ? el("text", NS.sasl, { "xml:lang": "en" }, text) : undefined);
}
