// The byte side of a c2s stream: a socket, the XML parser fed from it, and
// writes. The session actor owns one and decides; this only does I/O.
import type { Socket } from "node:net";
import { XmlStreamParser, type StreamListener } from "../xml/stream-parser.js";
import { serialize, streamHeader, STREAM_CLOSE } from "../xml/serialize.js";
import type { XmlElement } from "../xml/element.js";
import type { StreamPort } from "../actors/stream-port.js";
import { NS } from "../xmpp/namespaces.js";
import { streamErrorElement, type StreamErrorCondition } from "../xmpp/errors.js";

export interface ConnectionLimits {
  maxStanzaBytes: number;
  maxDepth: number;
}

export class Connection implements StreamPort {
  private readonly parser: XmlStreamParser;
  private closed = false;
  /** Milliseconds timestamp of the last bytes received (idle sweeps read it). */
  lastActivity = Date.now();

  constructor(
    readonly socket: Socket,
    listener: StreamListener,
    limits: ConnectionLimits,
  ) {
    this.parser = new XmlStreamParser(listener, limits);
    socket.setNoDelay(true);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "unknown";
  }

  /** RFC 6120 §13.8: until TLS exists, only loopback may authenticate in the clear. */
  get isLoopback(): boolean {
    const a = this.socket.remoteAddress ?? "";
    return a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127.");
  }

  /** Feed received bytes to the parser. */
  receive(chunk: Buffer): void {
    this.lastActivity = Date.now();
    this.parser.write(chunk);
  }

  /** A new stream starts after SASL success (RFC 6120 §6.4.6). */
  resetParser(): void {
    this.parser.reset();
  }

  write(data: string): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(data);
  }

  sendStanza(stanza: XmlElement): void {
    this.write(serialize(stanza, NS.client));
  }

  openStream(from: string, id: string, to?: string): void {
    this.write(streamHeader({ from, id, to, version: "1.0", lang: "en" }));
  }

  sendStreamError(condition: StreamErrorCondition, text?: string): void {
    this.write(serialize(streamErrorElement(condition, text), NS.client));
  }

  sendStreamClose(): void {
    this.write(STREAM_CLOSE);
  }

  /** Half-close, then destroy if the peer does not finish within a grace period. */
  close(graceMs = 2000): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    timer.unref();
    this.socket.once("close", () => clearTimeout(timer));
  }
}
