// The c2s listeners (RFC 6120 §3): plain TCP with STARTTLS, and Direct TLS
// (XEP-0368). One Connection and one session actor per accepted socket, and
// the sweep that closes idle connections.
import net from "node:net";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import type { AnyActorRef } from "xstate";
import { Connection } from "./connection.js";
import type { StreamListener } from "../xml/stream-parser.js";
import type { SessionEnvironment } from "../actors/session-environment.js";

export interface SessionStarter extends SessionEnvironment {
  startSession(sessionId: string, conn: Connection): AnyActorRef;
}

interface LiveSession {
  actor: AnyActorRef;
  conn: Connection;
  startedAt: number;
}

const SWEEP_INTERVAL_MS = 5000;
const UNAUTHENTICATED_STATES = new Set(["connected", "streamOpen", "negotiatingTls", "authenticating", "authFailed", "authenticated", "bindable", "binding"]);

function listen(server: net.Server, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`cannot listen for ${what} on ${host}:${port}: ${err.message}`));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function portOf(server: net.Server): number {
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

export class C2sListener {
  private readonly plain: net.Server;
  private readonly direct: tls.Server;
  private readonly sessions = new Map<string, LiveSession>();
  private sweepTimer: NodeJS.Timeout | undefined;

  private readonly tlsContext: tls.SecureContext;

  constructor(private readonly env: SessionStarter, credentials: { key: string; cert: string }) {
    this.tlsContext = tls.createSecureContext(credentials);
    this.plain = net.createServer((socket) => this.accept(socket));
    this.direct = tls.createServer({ ...credentials, ALPNProtocols: ["xmpp-client"] }, (socket) => this.accept(socket));
    this.direct.on("tlsClientError", (err) => env.log.debug("Direct TLS handshake failed", { error: err.message }));
  }

  get port(): number {
    return portOf(this.plain);
  }

  get directTlsPort(): number {
    return portOf(this.direct);
  }

  async listen(host: string, port: number, directTlsPort: number): Promise<void> {
    await listen(this.plain, host, port, "clients");
    await listen(this.direct, host, directTlsPort, "Direct TLS clients");
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** The state of a session actor (for tests and debugging); undefined once it is gone. */
  stateOf(sessionId: string): string | undefined {
    const s = this.sessions.get(sessionId);
    return s ? String(s.actor.getSnapshot().value) : undefined;
  }

  forget(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  private accept(socket: net.Socket): void {
    const sessionId = randomBytes(8).toString("hex");
    let actor: AnyActorRef | undefined;
    const send = (event: Parameters<AnyActorRef["send"]>[0]) => actor?.send(event);
    const listener: StreamListener = {
      streamStart: (attrs, info) => send({ type: "xml.streamStart", attrs, ns: info.ns, localName: info.localName, defaultNs: info.defaultNs }),
      stanza: (stanza) => send({ type: "xml.stanza", stanza }),
      streamEnd: () => send({ type: "xml.streamEnd" }),
      error: (err) => send({ type: "xml.error", condition: err.condition, text: err.message }),
    };
    const conn = new Connection(socket, listener, {
      maxStanzaBytes: this.env.config.limits.maxStanzaBytes,
      maxDepth: this.env.config.limits.maxDepth,
    }, {
      closed: () => send({ type: "socket.closed" }),
      tlsDone: (error) => send(error ? { type: "tls.failed", reason: error.message } : { type: "tls.established" }),
      debug: (message) => this.env.log.debug(message, { session: sessionId }),
    }, this.tlsContext);
    actor = this.env.startSession(sessionId, conn);
    this.sessions.set(sessionId, { actor, conn, startedAt: Date.now() });
    this.env.log.debug("connection accepted", { session: sessionId, address: conn.remoteAddress, tls: conn.secure });
  }

  /** Closes connections that never authenticated, and bound streams silent for longer than idle-seconds. */
  private sweep(now = Date.now()): void {
    const limits = this.env.config.limits;
    for (const s of this.sessions.values()) {
      const state = String(s.actor.getSnapshot().value);
      const unauthenticated = UNAUTHENTICATED_STATES.has(state);
      if (unauthenticated && now - s.startedAt > limits.unauthenticatedTimeoutSeconds * 1000) {
        s.actor.send({ type: "idle.timeout" });
      } else if (now - s.conn.lastActivity > limits.idleSeconds * 1000) {
        s.actor.send({ type: "idle.timeout" });
      }
    }
  }

  /** Stop accepting, close every stream with system-shutdown, wait for the sockets. */
  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closing = Promise.all([
      new Promise<void>((resolve) => this.plain.close(() => resolve())),
      new Promise<void>((resolve) => this.direct.close(() => resolve())),
    ]);
    const sockets = [...this.sessions.values()].map(async (s) => {
      const done = s.conn.closed();
      s.actor.send({ type: "session.kick", condition: "system-shutdown", text: "The server is shutting down" });
      const timer = setTimeout(() => s.conn.destroy(), 1500);
      await done;
      clearTimeout(timer);
    });
    await Promise.all(sockets);
    await closing;
  }
}
