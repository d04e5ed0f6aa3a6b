// XEP-0388 Extensible SASL Profile on the wire: <authenticate/> with its
// <initial-response/>, <user-agent/> and inline requests (XEP-0386 <bind/>,
// XEP-0484 <request-token/> and <fast/>); <challenge/>, <response/>,
// <success/> with <authorization-identifier/>, <failure/> with the RFC 6120
// §6.5 condition in its own namespace.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "./namespaces.js";
import type { SaslFailureCondition } from "../sasl/mechanism.js";
import { decodeSaslPayload } from "./sasl-elements.js";

/** A user-agent id longer than this is refused (XEP-0388 §2.3 suggests a UUID, 36 characters). */
export const MAX_USER_AGENT_ID = 128;

/** What an <authenticate/> asks for, beside the SASL exchange itself. */
export interface Sasl2Request {
  readonly mechanism: string;
  /** XEP-0388 §2.3 `<user-agent id>`: what Bind2 and FAST key on. */
  readonly userAgentId: string | undefined;
  readonly software: string | undefined;
  readonly device: string | undefined;
  /** XEP-0386 §3: an inline <bind/>. */
  readonly bind: XmlElement | undefined;
  /** XEP-0484 §3.2: <request-token mechanism=…/>, the HT mechanism the token is for. */
  readonly requestToken: string | undefined;
  /** XEP-0484 §3.5: <fast invalidate='true'/> on a token login. */
  readonly invalidateToken: boolean;
  /** XEP-0198 inline in SASL2: <resume xmlns='urn:xmpp:sm:3' previd h/>, resumed instead of binding. */
  readonly resume?: XmlElement;
}

const NS_SM = "urn:xmpp:sm:3";

/** What a malformed <authenticate/> is remembered as: enough to answer it in SASL2's form. */
export const MALFORMED_AUTHENTICATE: Sasl2Request = {
  mechanism: "", userAgentId: undefined, software: undefined, device: undefined, bind: undefined, requestToken: undefined, invalidateToken: false,
};

/** The request an <authenticate/> makes, or why it is malformed. */
export function parseAuthenticate(auth: XmlElement): Sasl2Request | string {
  const mechanism = auth.attrs.mechanism;
  if (!mechanism) return "<authenticate/> needs a mechanism";
  const ua = auth.getChild("user-agent", NS.sasl2);
  const id = ua?.attrs.id;
  if (id !== undefined && (id === "" || id.length > MAX_USER_AGENT_ID)) return `the user-agent id must have 1 to ${MAX_USER_AGENT_ID} characters`;
  const fast = auth.getChild("fast", NS.fast);
  return {
    mechanism,
    userAgentId: id,
    software: ua?.getChildText("software", NS.sasl2),
    device: ua?.getChildText("device", NS.sasl2),
    bind: auth.getChild("bind", NS.bind2),
    requestToken: auth.getChild("request-token", NS.fast)?.attrs.mechanism,
    invalidateToken: fast?.attrs.invalidate === "true" || fast?.attrs.invalidate === "1",
    resume: auth.getChild("resume", NS_SM),
  };
}

/** The payload of an <authenticate/> (its <initial-response/>; none: empty) or <response/>; undefined when not base64. */
export function sasl2Payload(element: XmlElement): Buffer | undefined {
  if (element.name === "authenticate") {
    const initial = element.getChild("initial-response", NS.sasl2);
    return initial ? decodeSaslPayload(initial.text()) : Buffer.alloc(0);
  }
  return decodeSaslPayload(element.text());
}

function encode(data: Buffer): string {
  return data.length === 0 ? "=" : data.toString("base64");
}

export function sasl2Challenge(data: Buffer): XmlElement {
  return el("challenge", NS.sasl2, {}, encode(data));
}

/** XEP-0388 §2.6.1: success, the mechanism's final data, who the client is now, and what inline features answered. */
export function sasl2Success(data: Buffer | undefined, authorizationIdentifier: string, extra: readonly XmlElement[] = []): XmlElement {
  return el("success", NS.sasl2, {},
    data !== undefined && data.length > 0 && el("additional-data", NS.sasl2, {}, data.toString("base64")),
    el("authorization-identifier", NS.sasl2, {}, authorizationIdentifier),
    ...extra);
}

/** XEP-0388 §2.6.2: the RFC 6120 condition, in the SASL namespace, inside the SASL2 failure. */
export function sasl2Failure(condition: SaslFailureCondition, text?: string): XmlElement {
  return el("failure", NS.sasl2, {}, el(condition, NS.sasl),
    text !== undefined ? el("text", NS.sasl2, {}, text) : undefined);
}
