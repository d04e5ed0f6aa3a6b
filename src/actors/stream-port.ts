// What a session actor may do to its stream. The real one is net/Connection;
// tests drive the machine with a recording double.
import type { XmlElement } from "../xml/element.js";
import type { StreamErrorCondition } from "../xmpp/errors.js";

export interface StreamPort {
  readonly remoteAddress: string;
  readonly isLoopback: boolean;
  /** TLS is in place (after STARTTLS, or Direct TLS). */
  readonly secure: boolean;
  /** STARTTLS can be offered: a certificate is configured and TLS is not yet in place. */
  readonly canStartTls: boolean;
  /** Switch to TLS after <proceed/>; the outcome arrives as tls.established or tls.failed. */
  startTls(): void;
  /** SASL channel bindings this connection offers, by type (RFC 9266 tls-exporter, RFC 5929 tls-server-end-point). */
  channelBindings(): Record<string, Buffer>;
  openStream(from: string, id: string, to?: string): void;
  sendStanza(stanza: XmlElement): void;
  sendStreamError(condition: StreamErrorCondition, text?: string): void;
  sendStreamClose(): void;
  resetParser(): void;
  close(): void;
}
