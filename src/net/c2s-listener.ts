// The c2s listeners (RFC 6120 §3): plain TCP with STARTTLS, and Direct TLS
// (XEP-0368). One Connection and one session actor per accepted socket.
import net from "node:net";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import type { AnyActorRef } from "xstate";
import { Connection, type OutputGate } from "./connection.js";
import type { StreamListener } from "../xml/stream-parser.js";
import type { SessionEnvironment } from "../actors/session-environment.js";
import type { StreamPort } from "../actors/stream-port.js";
import type { SessionRegistry } from "./session-registry.js";
import { TokenBucket, stanzaGate } from "./rate-limiter.js";
import { NOT_READING } from "./unsent-output.js";
import { serialize, streamHeader, STREAM_CLOSE } from "../xml/serialize.js";
import { streamErrorElement } from "../xmpp/errors.js";
import { NS } from "../xmpp/namespaces.js";
import type { XmlElement } from "../xml/element.js";
import type { SessionEvent } from "../actors/session-machine.js";
import type { ConnectionObservers, PortObserver, TransportKind } from "./port-observer.js";
import type { LogFields } from "../util/logger.js";

export interface SessionStarter extends SessionEnvironment {
  startSession(sessionId: string, conn: StreamPort): AnyActorRef;
  /** Holds socket output until the turn's events are durable. */
  readonly commitGate: OutputGate;
  /** Told of each connection's traffic and end (connection log lines, metrics). */
  readonly connections?: ConnectionObservers;
}

/** Observes nothing: for a server started without observers (tests of the listeners alone). */
const UNOBSERVED: PortObserver = { stanzaIn() {}, stanzaOut() {}, streamErrorSent() {}, peerClosedStream() {}, closed() {} };

export function observe(env: SessionStarter, sessionId: string, transport: TransportKind, address: string): PortObserver {
  return env.connections?.opened({ sessionId, transport, address }) ?? UNOBSERVED;
}

export function listenOn(server: net.Server, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`cannot listen for ${what} on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/**
 * The same listener on further addresses (the IPv6 loopback beside
 * 127.0.0.1, by default): a plain TCP server per address on the primary's
 * port, each accepted socket handed to the primary as its own
 * ("connection"), so limits, timers and handlers are the primary's. An
 * address the host does not have (no IPv6) is skipped with a warning; any
 * other failure (the port taken there by another server) is an error.
 */
export async function listenAlso(
  primary: net.Server, hosts: readonly string[], what: string, warn: (message: string, fields: LogFields) => void,
): Promise<net.Server[]> {
  const extra: net.Server[] = [];
  const port = portOf(primary);
  for (const host of hosts) {
    const server = net.createServer((socket) => primary.emit("connection", socket));
    try {
      await listenOn(server, host, port, what);
      extra.push(server);
    } catch (err) {
      const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT") {
        warn(`not listening for ${what} on ${host}: this host has no such address`, { host, port, code });
        continue;
      }
      await closeAll(extra);
      throw err;
    }
  }
  return extra;
}

export async function closeAll(servers: readonly net.Server[]): Promise<void> {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}

export function portOf(server: net.Server): number {
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

export const newSessionId = (): string => randomBytes(8).toString("hex");

/**
 * One session's client stanzas, rate limited the same way on every transport:
 * past the burst the transport stops reading for a while, and a client that
 * keeps flooding gets policy-violation (rate-limiter.ts).
 */
export function sessionStanzaGate(
  env: SessionStarter,
  session: { id: string; address: string; send: (event: SessionEvent) => void; pauseReading: (ms: number) => void },
): (stanza: XmlElement) => void {
  const limits = env.config.limits;
  return stanzaGate(new TokenBucket(limits.stanzasPerSecond, limits.stanzaBurst), {
    pass: (stanza) => session.send({ type: "xml.stanza", stanza }),
    pauseReading: session.pauseReading,
    flood: () => {
      env.log.warn("closing a flooding connection", { session: session.id, address: session.address });
      session.send({ type: "xml.error", condition: "policy-violation", text: "Too many stanzas: slow down" });
    },
  });
}

/**
 * A client that does not read what it is sent (unsent-output.ts): the
 * transport has written the stream error and is closing; the session hears it
 * as the stream error it is, and its own writes are ignored from now on.
 */
export function notReading(
  env: SessionStarter,
  session: { id: string; address: string; send: (event: SessionEvent) => void },
  unsent: number,
): void {
  env.log.warn("closing a connection that does not read its output", {
    session: session.id, address: session.address, unsent, limit: env.config.limits.maxUnsentOutputBytes,
  });
  session.send({ type: "xml.error", condition: "policy-violation", text: NOT_READING });
}

/**
 * Refuses a connection with `reply`: written, then the socket destroyed as
 * soon as the kernel has taken it (or after a second), so that a refused peer
 * that never closes its side holds no descriptor.
 */
export function refuse(socket: net.Socket, reply: string): void {
  socket.on("error", () => {});
  const timer = setTimeout(() => socket.destroy(), 1000);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  socket.end(reply, () => socket.destroy());
}

export class C2sListener {
  private readonly plain: net.Server;
  /** Direct TLS (XEP-0368): a TCP listener whose sockets are wrapped here, so they are counted and timed before the handshake. */
  private readonly direct: net.Server;
  private tlsContext: tls.SecureContext;

  constructor(
    private readonly env: SessionStarter,
    private readonly registry: SessionRegistry,
    credentials: { key: string; cert: string },
  ) {
    this.tlsContext = tls.createSecureContext(credentials);
    this.plain = net.createServer((socket) => {
      if (this.admit(socket)) this.accept(socket);
    });
    this.direct = net.createServer((socket) => this.acceptDirectTls(socket));
  }

  /** A new certificate (SIGHUP): handshakes from now on use it; established TLS streams keep theirs. */
  setCredentials(credentials: { key: string; cert: string }): void {
    this.tlsContext = tls.createSecureContext(credentials);
  }

  /**
   * The per-address cap, counted across every listener from TCP accept on
   * (registry.admitSocket). Refused before any actor exists: a header, the
   * stream error, the close (RFC 6120 §4.9.1.2).
   */
  private admit(socket: net.Socket): boolean {
    if (this.registry.admitSocket(socket)) return true;
    this.env.log.warn("refusing a connection: too many from this address", { address: socket.remoteAddress });
    refuse(socket, streamHeader({ from: this.env.defaultDomain, id: newSessionId(), version: "1.0" }) +
      serialize(streamErrorElement("policy-violation", "Too many connections from your address"), NS.client) + STREAM_CLOSE);
    return false;
  }

  /**
   * Direct TLS: the address is counted before the handshake, and a handshake
   * that has not finished within handshakeTimeoutSeconds is cut off (an idle
   * or half-finished handshake must not hold a descriptor for minutes).
   * Over the cap the TCP connection is closed at once: there is no TLS yet to
   * carry a stream error, and completing a handshake only to refuse would be
   * work done for the flooder.
   */
  private acceptDirectTls(raw: net.Socket): void {
    if (!this.registry.admitSocket(raw)) {
      this.env.log.warn("refusing a Direct TLS connection: too many from this address", { address: raw.remoteAddress });
      raw.on("error", () => {});
      raw.destroy();
      return;
    }
    const address = raw.remoteAddress;
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.tlsContext, ALPNProtocols: ["xmpp-client"] });
    const timer = setTimeout(() => {
      this.env.log.debug("Direct TLS handshake timed out", { address });
      secure.destroy();
    }, this.env.config.limits.handshakeTimeoutSeconds * 1000);
    timer.unref();
    const failed = (err: Error) => {
      this.env.log.debug("Direct TLS handshake failed", { address, error: err.message });
      secure.destroy();
    };
    secure.on("error", failed);
    secure.once("close", () => clearTimeout(timer));
    secure.once("secure", () => {
      clearTimeout(timer);
      secure.off("error", failed);
      this.accept(secure);
    });
  }

  get port(): number {
    return portOf(this.plain);
  }

  get directTlsPort(): number {
    return portOf(this.direct);
  }

  /** The plain and Direct TLS listeners on `host`, and on each of `also` at the same ports. */
  async listen(host: string, port: number, directTlsPort: number, also: readonly string[] = []): Promise<void> {
    await listenOn(this.plain, host, port, "clients");
    await listenOn(this.direct, host, directTlsPort, "Direct TLS clients");
    const warn = (message: string, fields: LogFields) => this.env.log.warn(message, fields);
    this.extra.push(...await listenAlso(this.plain, also, "clients", warn));
    this.extra.push(...await listenAlso(this.direct, also, "Direct TLS clients", warn));
  }

  /** The listeners on the addresses beyond the first (listenAlso). */
  private readonly extra: net.Server[] = [];

  /** A stream on an admitted socket (plain, or Direct TLS once the handshake is done). */
  private accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? "unknown";
    const sessionId = newSessionId();
    let actor: AnyActorRef | undefined;
    let conn: Connection | undefined;
    const send = (event: SessionEvent) => actor?.send(event);
    const limits = this.env.config.limits;
    const observer = observe(this.env, sessionId, socket instanceof tls.TLSSocket ? "tls" : "tcp", address);
    const gate = sessionStanzaGate(this.env, { id: sessionId, address, send, pauseReading: (ms) => conn?.pauseReading(ms) });
    const listener: StreamListener = {
      streamStart: (attrs, info) => send({ type: "xml.streamStart", attrs, ns: info.ns, localName: info.localName, defaultNs: info.defaultNs }),
      stanza: (stanza) => {
        observer.stanzaIn(stanza);
        gate(stanza);
      },
      streamEnd: () => {
        observer.peerClosedStream();
        send({ type: "xml.streamEnd" });
      },
      error: (err) => send({ type: "xml.error", condition: err.condition, text: err.message }),
    };
    conn = new Connection(socket, listener, {
      maxStanzaBytes: limits.maxStanzaBytes,
      maxDepth: limits.maxDepth,
      stanzasPerTurn: limits.stanzasPerTurn,
      turnBudgetMs: limits.turnBudgetMs,
      maxUnsentOutputBytes: limits.maxUnsentOutputBytes,
      handshakeTimeoutMs: limits.handshakeTimeoutSeconds * 1000,
    }, {
      closed: () => {
        observer.closed();
        send({ type: "socket.closed" });
      },
      tlsDone: (error) => send(error ? { type: "tls.failed", reason: error.message } : { type: "tls.established" }),
      notReading: (unsent) => notReading(this.env, { id: sessionId, address, send }, unsent),
      debug: (message) => this.env.log.debug(message, { session: sessionId }),
    }, this.tlsContext, this.env.commitGate);
    conn.observer = observer;
    actor = this.env.startSession(sessionId, conn);
    this.registry.add(sessionId, actor, conn, address);
  }

  /** Stop accepting new connections. */
  async close(): Promise<void> {
    await Promise.all([
      new Promise<void>((resolve) => this.plain.close(() => resolve())),
      new Promise<void>((resolve) => this.direct.close(() => resolve())),
      closeAll(this.extra),
    ]);
  }
}
