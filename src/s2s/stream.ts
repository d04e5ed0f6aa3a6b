// The byte side of one server-to-server stream (RFC 6120 §4, `jabber:server`),
// incoming or outgoing: a socket, TLS on it (server side for streams we accept,
// client side for streams we open), the XML parser, a stanza rate limit, and
// writes held by the commit gate like every other output (nothing leaves
// before the turn's events are durable).
import type net from "node:net";
import tls from "node:tls";
import { XmlStreamParser, type StreamError, type StreamStartInfo } from "../xml/stream-parser.js";
import { serialize, escapeAttr, STREAM_CLOSE } from "../xml/serialize.js";
import { XmlElement } from "../xml/element.js";
import { streamErrorElement, type StreamErrorCondition } from "../xmpp/errors.js";
import { NS } from "../xmpp/namespaces.js";
import type { OutputGate } from "../net/connection.js";
import { TokenBucket } from "../net/rate-limiter.js";

export const NS_SERVER = "jabber:server";
export const NS_DIALBACK = "jabber:server:dialback";
/** XEP-0220 §2.1: the stream feature advertising dialback (with error support). */
export const NS_DIALBACK_FEATURE = "urn:xmpp:features:dialback";

/**
 * The same element with every `from` namespace replaced by `to`, deeply: the
 * kernel keeps stanzas in jabber:client; on an s2s stream they are
 * jabber:server (RFC 6120 §4.8.3), and so are their jabber:client children
 * (body, status, error...).
 */
export function renamespace(el: XmlElement, from: string, to: string): XmlElement {
  let changed = el.ns === from;
  const children = el.children.map((c) => {
    if (typeof c === "string") return c;
    const n = renamespace(c, from, to);
    if (n !== c) changed = true;
    return n;
  });
  return changed ? new XmlElement(el.name, el.ns === from ? to : el.ns, el.attrs, children) : el;
}

export interface S2sStreamEvents {
  header(attrs: Record<string, string>, info: StreamStartInfo): void;
  element(el: XmlElement): void;
  /** The peer closed its stream (</stream:stream>). */
  end(): void;
  /** Bad XML, or a limit passed (the condition to send). */
  error(condition: StreamErrorCondition, text: string): void;
  /** The socket is gone. */
  closed(): void;
}

export interface S2sStreamLimits {
  maxStanzaBytes: number;
  maxDepth: number;
  stanzasPerSecond: number;
  stanzaBurst: number;
  handshakeTimeoutMs: number;
}

export class S2sStream {
  /** The namespace of the stream's content: jabber:server here, jabber:component:accept for XEP-0114. */
  protected readonly contentNs: string = NS_SERVER;
  private parser: XmlStreamParser;
  private socket: net.Socket;
  private ended = false;
  private readonly bucket: TokenBucket;
  private batch: { turn: number; socket: net.Socket; chunks: string[] } | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.parser.write(chunk);
  };
  private readonly onClose = () => {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.events.closed();
  };
  private readonly onError = () => {};

  constructor(
    socket: net.Socket,
    private readonly limits: S2sStreamLimits,
    private readonly events: S2sStreamEvents,
    private readonly gate: OutputGate,
  ) {
    this.socket = socket;
    this.bucket = new TokenBucket(limits.stanzasPerSecond, limits.stanzaBurst);
    this.parser = this.newParser();
    socket.setNoDelay(true);
    this.attach(socket);
  }

  private newParser(): XmlStreamParser {
    let flooded = false;
    return new XmlStreamParser({
      streamStart: (attrs, info) => this.events.header(attrs, info),
      stanza: (el) => {
        if (flooded) return;
        // The same token bucket as c2s (net/rate-limiter.ts): past the rate reads pause, past a second burst the stream is refused.
        const charge = this.bucket.charge();
        if (charge.kind === "flood") {
          flooded = true;
          this.events.error("policy-violation", "Too many stanzas: slow down");
          return;
        }
        if (charge.kind === "throttle") this.pauseFor(charge.waitMs);
        this.events.element(el);
      },
      streamEnd: () => this.events.end(),
      error: (err: StreamError) => this.events.error(err.condition, err.message),
    }, { maxStanzaBytes: this.limits.maxStanzaBytes, maxDepth: this.limits.maxDepth });
  }

  private pauseFor(ms: number): void {
    if (this.resumeTimer) return;
    this.socket.pause();
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      if (!this.socket.destroyed) this.socket.resume();
    }, ms);
    this.resumeTimer.unref();
  }

  private attach(socket: net.Socket): void {
    socket.on("data", this.onData);
    socket.on("close", this.onClose);
    socket.on("error", this.onError);
  }

  private detach(socket: net.Socket): void {
    socket.off("data", this.onData);
    socket.off("close", this.onClose);
    socket.off("error", this.onError);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "unknown";
  }

  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket && this.socket.encrypted;
  }

  get tlsSocket(): tls.TLSSocket | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket : undefined;
  }

  get isClosed(): boolean {
    return this.ended || this.socket.destroyed;
  }

  /** A new stream on the same connection: after TLS (RFC 6120 §5.4.3.3). */
  resetParser(): void {
    this.parser = this.newParser();
  }

  /**
   * STARTTLS (RFC 6120 §5.4.3.3): after <proceed/> the next bytes are TLS.
   * Server side for a stream we accepted, client side (SNI: the peer's
   * domain) for one we opened. Resolves with the TLS socket once the handshake
   * is done; rejects when it fails or takes longer than the handshake timeout.
   */
  startTls(options: { server: tls.SecureContext } | { client: tls.ConnectionOptions }): Promise<tls.TLSSocket> {
    const plain = this.socket;
    this.detach(plain);
    this.parser = this.newParser();
    // A server asks for the peer's certificate (never insisting): one that verifies
    // lets the peer authenticate with SASL EXTERNAL (RFC 6120 §13.7, XEP-0178).
    const secure = "server" in options
      ? new tls.TLSSocket(plain, { isServer: true, secureContext: options.server, requestCert: true, rejectUnauthorized: false })
      : tls.connect({ ...options.client, socket: plain });
    this.socket = secure;
    this.attach(secure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new Error(`TLS handshake not finished within ${this.limits.handshakeTimeoutMs} ms`));
      }, this.limits.handshakeTimeoutMs);
      timer.unref();
      secure.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      secure.once("secure", () => {
        clearTimeout(timer);
        resolve(secure);
      });
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        resolve(secure);
      });
    });
  }

  /** Written once the turn's commit is durable, in one write per turn (as net/connection.ts). */
  write(data: string): void {
    if (this.ended || this.socket.destroyed) return;
    const socket = this.socket;
    let batch = this.batch;
    if (!batch || batch.turn !== this.gate.turn || batch.socket !== socket) {
      const fresh = { turn: this.gate.turn, socket, chunks: [] as string[] };
      this.batch = batch = fresh;
      this.gate.hold(() => {
        if (this.batch === fresh) this.batch = undefined;
        if (!socket.destroyed) socket.write(fresh.chunks.join(""));
      });
    }
    batch.chunks.push(data);
  }

  /** RFC 6120 §4.7 with the dialback namespace declared (XEP-0220 §2.1.1). */
  openStream(attrs: { from?: string; to?: string; id?: string }): void {
    let s = `<?xml version='1.0'?><stream:stream xmlns='${NS_SERVER}' xmlns:stream='${NS.stream}' xmlns:db='${NS_DIALBACK}'`;
    for (const k of ["from", "to", "id"] as const) {
      const v = attrs[k];
      if (v !== undefined) s += ` ${k}='${escapeAttr(v)}'`;
    }
    this.write(s + " version='1.0'>");
  }

  /** A stanza from the kernel (jabber:client) or a stream-level element. */
  send(el: XmlElement): void {
    this.write(serialize(renamespace(el, NS.client, this.contentNs), this.contentNs));
  }

  /** A stream error, the close, and the socket closed (RFC 6120 §4.9.1.1). */
  fail(condition: StreamErrorCondition, text?: string): void {
    this.write(serialize(streamErrorElement(condition, text), this.contentNs));
    this.close();
  }

  /** Closes our stream, then the socket once the peer closed its own or after a grace. */
  close(graceMs = 2000): void {
    if (this.ended) return;
    this.write(STREAM_CLOSE);
    this.ended = true;
    const socket = this.socket;
    this.gate.hold(() => {
      socket.end();
      const timer = setTimeout(() => socket.destroy(), graceMs);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    });
  }

  destroy(): void {
    this.ended = true;
    this.socket.destroy();
  }
}
