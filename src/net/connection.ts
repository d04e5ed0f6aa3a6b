// The byte side of a c2s stream: a socket (plain, or TLS after STARTTLS or
// for Direct TLS), the XML parser fed from it, and writes. The session actor
// owns one and decides; this only does I/O.
import type { Socket } from "node:net";
import { TLSSocket, type SecureContext } from "node:tls";
import { createHash } from "node:crypto";
import { ReadPause, ReadSwitch } from "./rate-limiter.js";
import { StanzaPacer } from "./stanza-pacer.js";
import { UnsentOutput, NOT_READING } from "./unsent-output.js";
import { XmlStreamParser, type StreamListener } from "../xml/stream-parser.js";
import { serialize, streamHeader, STREAM_CLOSE } from "../xml/serialize.js";
import type { XmlElement } from "../xml/element.js";
import type { StreamPort } from "../actors/stream-port.js";
import { NS } from "../xmpp/namespaces.js";
import { streamErrorElement, type StreamErrorCondition } from "../xmpp/errors.js";
import type { PortObserver } from "./port-observer.js";

/** Where writes wait until the turn's events are durable (the commit gate, src/events/commit-gate.ts). */
export interface OutputGate {
  hold(release: () => void): void;
  /** Changes at every end of turn: output written in different turns is released separately. */
  readonly turn: number;
  /** Output written now depends on nothing waiting to be durable: it may leave at once (commit-gate.ts). */
  readonly free: boolean;
}

/**
 * One connection's output, in order: output that depends on nothing waiting to
 * be durable (the gate's `free`, commit-gate.ts) leaves at the end of the task
 * (a microtask: what one read produces still leaves together), unless earlier
 * output of this connection is still held by the gate; the rest waits for it.
 */
export class OrderedOutput {
  private held = 0;

  constructor(private readonly gate: OutputGate) {}

  /** Whether output written now may leave at the end of this task. */
  get free(): boolean {
    return this.held === 0 && this.gate.free;
  }

  /** Runs `release` at the end of the task when `free`, else once the gate releases it, after what this connection has held. */
  release(release: () => void, free = this.free): void {
    if (free) {
      queueMicrotask(release);
      return;
    }
    this.held++;
    this.gate.hold(() => {
      this.held--;
      release();
    });
  }
}

export interface ConnectionLimits {
  maxStanzaBytes: number;
  maxDepth: number;
  /** Stanzas handed to the session per event-loop turn (stanza-pacer.ts). */
  stanzasPerTurn: number;
  /** The event loop's milliseconds per turn past which IQ sets wait for a later turn (stanza-pacer.ts; 0: none). */
  turnBudgetMs: number;
  /** Output the client has not read (socket buffer plus output held by the gate) before it counts as not reading (unsent-output.ts). */
  maxUnsentOutputBytes: number;
  /** Milliseconds a TLS handshake after STARTTLS may take (limits.handshakeTimeoutSeconds); unused on WebSocket. */
  handshakeTimeoutMs: number;
}

/** How long a client over the unsent-output cap has to read its stream error before the socket is destroyed. */
export const NOT_READING_GRACE_MS = 1000;

export interface ConnectionEvents {
  /** The transport is gone (either side closed it, or it failed). */
  closed(): void;
  /** STARTTLS finished (or failed: `error` set). */
  tlsDone(error?: Error): void;
  /**
   * The client has more than maxUnsentOutputBytes unread: its stream error is
   * on its way and the socket is closing; nothing more is written.
   */
  notReading(unsent: number): void;
  debug(message: string): void;
}

/** The `turn` of a batch of free output (commit-gate.ts), written at the end of the task, not held. */
const FREE = -1;

interface OutputBatch {
  turn: number;
  socket: Socket;
  chunks: string[];
  bytes: number;
}

export class Connection implements StreamPort {
  private readonly parser: XmlStreamParser;
  private readonly ordered: OrderedOutput;
  private readonly pacer: StanzaPacer;
  private socket: Socket;
  private closing = false;
  /** Over the unsent-output cap: held output is dropped, not written. */
  private abandoned = false;
  private readonly output: UnsentOutput;
  private readonly handshakeTimeoutMs: number;
  private readonly onData = (chunk: Buffer) => {
    this.lastActivity = Date.now();
    this.parser.write(chunk);
  };
  // After whatever the client sent before closing has reached the session.
  private readonly onClose = () => this.pacer.then(() => this.events.closed());
  private readonly onError = (err: Error) => this.events.debug(`socket error: ${err.message}`);
  /** Milliseconds timestamp of the last bytes received (idle sweeps read it). */
  lastActivity = Date.now();
  /** Told of every element and stream error written (connection log, metrics); set by the listener. */
  observer: PortObserver | undefined;
  private readonly reads = new ReadSwitch(() => this.socket.pause(), () => {
    if (!this.socket.destroyed) this.socket.resume();
  });
  private readonly readPause = new ReadPause(() => this.reads.hold("throttle"), () => this.reads.release("throttle"));

  constructor(
    socket: Socket,
    listener: StreamListener,
    limits: ConnectionLimits,
    private readonly events: ConnectionEvents,
    private readonly tlsContext: SecureContext | undefined,
    private readonly gate: OutputGate,
  ) {
    this.handshakeTimeoutMs = limits.handshakeTimeoutMs;
    this.pacer = new StanzaPacer(listener, limits.stanzasPerTurn, {
      hold: () => this.reads.hold("backlog"),
      release: () => this.reads.release("backlog"),
    }, limits.turnBudgetMs);
    this.ordered = new OrderedOutput(gate);
    this.parser = new XmlStreamParser(this.pacer, limits);
    this.output = new UnsentOutput(limits.maxUnsentOutputBytes, () => this.socket.writableLength, (unsent) => this.notReading(unsent));
    this.socket = socket;
    socket.setNoDelay(true);
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.on("data", this.onData);
    socket.on("close", this.onClose);
    socket.on("error", this.onError);
  }

  private detach(socket: Socket): void {
    socket.off("data", this.onData);
    socket.off("close", this.onClose);
    socket.off("error", this.onError);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "unknown";
  }

  /** RFC 6120 §13.8: loopback may be treated as secure unless configured otherwise. */
  get isLoopback(): boolean {
    const a = this.socket.remoteAddress ?? "";
    return a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127.");
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket && this.socket.encrypted;
  }

  get canStartTls(): boolean {
    return this.tlsContext !== undefined && !this.secure;
  }

  get tlsSocket(): TLSSocket | undefined {
    return this.socket instanceof TLSSocket ? this.socket : undefined;
  }

  /**
   * tls-exporter only on TLS 1.3 (RFC 9266 §3: under 1.2 it is safe only with
   * extended master secret, which we cannot confirm); tls-server-end-point is
   * the SHA-256 of our certificate (RFC 5929 §4.1: SHA-256 for SHA-1/SHA-256
   * signed certificates, which is what we generate and what CAs issue).
   */
  channelBindings(): Record<string, Buffer> {
    const socket = this.tlsSocket;
    if (!socket?.encrypted) return {};
    const out: Record<string, Buffer> = {};
    if (socket.getProtocol() === "TLSv1.3") out["tls-exporter"] = socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
    const cert = socket.getCertificate();
    if (cert && "raw" in cert && cert.raw) out["tls-server-end-point"] = createHash("sha256").update(cert.raw).digest();
    return out;
  }

  /** Stop reading for a while (stanza rate limiting): the client's own TCP window then slows it down. */
  pauseReading(ms: number): void {
    if (!this.closing) this.readPause.for(ms);
  }

  /** A new stream starts after SASL success or TLS (RFC 6120 §5.4.3.3, §6.4.6). */
  resetParser(): void {
    this.parser.reset();
    this.pacer.clear();
  }

  /**
   * RFC 6120 §5.4.3.3: after <proceed/>, the next bytes are the client's TLS
   * handshake. The plain socket stops feeding the parser; the TLS socket
   * wrapped around it takes over.
   */
  startTls(): void {
    if (!this.tlsContext || this.secure) throw new Error("TLS is not available on this connection");
    const plain = this.socket;
    this.detach(plain);
    this.parser.reset();
    // Resumes the plain socket if the backlog paused it: the TLS socket reads through it.
    this.pacer.clear();
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.tlsContext, ALPNProtocols: ["xmpp-client"] });
    this.socket = secure;
    this.attach(secure);
    // A handshake that stalls is cut off, as on the Direct TLS port; the
    // session hears it as a failed negotiation (RFC 6120 §5.4.3.2: the TCP connection is closed).
    const timer = setTimeout(() => {
      secure.destroy(new Error(`TLS handshake not finished within ${this.handshakeTimeoutMs} ms`));
    }, this.handshakeTimeoutMs);
    timer.unref();
    secure.once("close", () => clearTimeout(timer));
    secure.once("secure", () => {
      clearTimeout(timer);
      this.events.tlsDone();
    });
    secure.once("error", (err) => {
      clearTimeout(timer);
      this.events.tlsDone(err);
    });
  }

  write(data: string): void {
    if (this.closing || this.socket.destroyed) return;
    // Writes made in one turn leave together, in one write, and only once the
    // turn's events (and every earlier turn's) are durable: never ahead of the
    // log. Each turn's output is its own batch, so a turn's output is not kept
    // waiting for a later turn's commit.
    // Counted before it is kept: a client that does not read gets its stream
    // closed instead of the server growing (unsent-output.ts).
    const bytes = Buffer.byteLength(data);
    if (!this.output.hold(bytes)) return;
    const socket = this.socket;
    let batch = this.batch;
    // Free output is batched apart from held output, and leaves first (OrderedOutput).
    const free = this.ordered.free;
    if (!batch || batch.socket !== socket || (free ? batch.turn !== FREE : batch.turn !== this.gate.turn)) {
      const fresh: OutputBatch = { turn: free ? FREE : this.gate.turn, socket, chunks: [], bytes: 0 };
      this.batch = batch = fresh;
      // The socket written to, not this.socket: STARTTLS may replace it within the turn.
      const release = () => {
        if (this.batch === fresh) this.batch = undefined;
        this.output.released(fresh.bytes);
        if (this.abandoned || socket.destroyed) return;
        socket.write(fresh.chunks.length === 1 ? fresh.chunks[0] as string : fresh.chunks.join(""));
      };
      this.ordered.release(release, free);
    }
    batch.chunks.push(data);
    batch.bytes += bytes;
  }

  /** Bytes written to this connection that the kernel has not taken yet (held for the gate, or in the socket's buffer). */
  get unsentBytes(): number {
    return this.output.unsent;
  }

  /**
   * Over the unsent-output cap. RFC 6120 §4.9.3.18 policy-violation, then the
   * close, behind what the socket already holds (not through the gate: it
   * tells nothing of the log); held output is dropped, and the socket is
   * destroyed after a short grace whether or not the client read the error.
   */
  private notReading(unsent: number): void {
    this.closing = true;
    this.abandoned = true;
    this.pacer.stop();
    const socket = this.socket;
    this.observer?.streamErrorSent("policy-violation");
    socket.end(serialize(streamErrorElement("policy-violation", NOT_READING), NS.client) + STREAM_CLOSE);
    const timer = setTimeout(() => socket.destroy(), NOT_READING_GRACE_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
    this.events.notReading(unsent);
  }

  private batch: OutputBatch | undefined;

  sendStanza(stanza: XmlElement): void {
    this.observer?.stanzaOut(stanza);
    this.write(serialize(stanza, NS.client));
  }

  openStream(from: string, id: string, to?: string): void {
    this.write(streamHeader({ from, id, to, version: "1.0", lang: "en" }));
  }

  sendStreamError(condition: StreamErrorCondition, text?: string): void {
    this.observer?.streamErrorSent(condition);
    this.write(serialize(streamErrorElement(condition, text), NS.client));
  }

  sendStreamClose(): void {
    this.write(STREAM_CLOSE);
  }

  /** Half-close, then destroy if the peer does not finish within a grace period. */
  close(graceMs = 2000): void {
    if (this.closing) return;
    this.closing = true;
    this.pacer.stop();
    const socket = this.socket;
    // After the held output (end() would flush it at once, ahead of the commit).
    this.gate.hold(() => {
      socket.end();
      const timer = setTimeout(() => socket.destroy(), graceMs);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once the transport is closed. */
  closed(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once("close", () => resolve()));
  }
}
