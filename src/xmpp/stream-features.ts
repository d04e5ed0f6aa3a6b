// Stream features (RFC 6120 §4.3.2): what each stage of the stream offers.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "./namespaces.js";
import type { StreamPort } from "../actors/stream-port.js";
import type { ServerConfig } from "../config.js";

export type FeatureStage = "pre-auth" | "post-auth" | "bound";

export interface FeatureSource {
  readonly config: ServerConfig;
  mechanismsFor(conn: StreamPort): string[];
  mayAuthenticate(conn: StreamPort): boolean;
  /** What feature modules add at this stage (the `stream-features` hook); `authenticating`: SASL is on offer here. */
  moduleFeatures(stage: "pre-auth" | "post-auth", authenticating: boolean, domain: string): XmlElement[];
  /** XEP-0388 §2.1: what <authentication/> offers inline (Bind2, FAST). */
  sasl2Inline(conn: StreamPort): XmlElement[];
}

/** XEP-0478: tell the client the limits it must stay within. */
function limits(config: ServerConfig): XmlElement {
  return el("limits", NS.streamLimits, {},
    el("max-bytes", NS.streamLimits, {}, String(config.limits.maxStanzaBytes)),
    el("idle-seconds", NS.streamLimits, {}, String(config.limits.idleSeconds)));
}

export function streamFeatures(stage: FeatureStage, source: FeatureSource, conn: StreamPort, domain: string): XmlElement {
  if (stage === "pre-auth") {
    const mechanisms = source.mechanismsFor(conn);
    return el("features", NS.stream, {},
      // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate where authentication needs it.
      conn.canStartTls && el("starttls", NS.tls, {}, !source.mayAuthenticate(conn) && el("required", NS.tls)),
      mechanisms.length > 0 && el("mechanisms", NS.sasl, {}, ...mechanisms.map((m) => el("mechanism", NS.sasl, {}, m))),
      // XEP-0388 §2.1: the same mechanisms for SASL2, with what may be negotiated inline.
      mechanisms.length > 0 && el("authentication", NS.sasl2, {},
        ...mechanisms.map((m) => el("mechanism", NS.sasl2, {}, m)),
        el("inline", NS.sasl2, {}, ...source.sasl2Inline(conn))),
      // XEP-0440: which channel bindings the -PLUS mechanisms can use here.
      mechanisms.some((m) => m.endsWith("-PLUS")) && el("sasl-channel-binding", NS.saslChannelBinding, {},
        ...Object.keys(conn.channelBindings()).map((type) => el("channel-binding", NS.saslChannelBinding, { type }))),
      ...source.moduleFeatures(stage, mechanisms.length > 0, domain),
      limits(source.config));
  }
  if (stage === "bound") {
    // XEP-0388 §2.6.1: after a SASL2 success with an inline bind, no restart:
    // fresh features, and the resource is bound already.
    return el("features", NS.stream, {}, limits(source.config));
  }
  return el("features", NS.stream, {},
    el("bind", NS.bind),
    // RFC 6121 Appendix E: the session IQ is a no-op kept for old clients.
    el("session", NS.session, {}, el("optional", NS.session)),
    ...source.moduleFeatures(stage, false, domain),
    limits(source.config));
}
