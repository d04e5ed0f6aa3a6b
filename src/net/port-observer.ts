// What the transports tell an observer about the traffic of one connection
// (for the connection log lines and the metrics, src/ops/connections.ts):
// the narrowest seam that sees every stanza in and out, every stream error
// and every close, on every transport, without the session machine.
import type { XmlElement } from "../xml/element.js";

/** `tcp` is a c2s connection before STARTTLS (it may upgrade), `tls` Direct TLS (XEP-0368). */
export type TransportKind = "tcp" | "tls" | "websocket" | "bosh";

export interface PortObserver {
  /** A top-level element from the client (stanza or nonza), after the rate limiter. */
  stanzaIn(stanza: XmlElement): void;
  /** A top-level element to the client, as it is written (before the commit gate releases it). */
  stanzaOut(stanza: XmlElement): void;
  /** The stream error we sent (RFC 6120 §4.9.3 condition). */
  streamErrorSent(condition: string): void;
  /** The client sent its closing tag (</stream:stream> or <close/>). */
  peerClosedStream(): void;
  /** The transport is gone. */
  closed(): void;
}

export interface ConnectionObservers {
  opened(info: { sessionId: string; transport: TransportKind; address: string }): PortObserver;
}
