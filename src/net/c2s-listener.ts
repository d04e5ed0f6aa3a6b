// The c2s TCP listener (RFC 6120 §3): one Connection and one session actor
// per accepted socket, and the sweep that closes idle connections.
import net from "node:net";
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
const UNAUTHENTICATED_STATES = new Set(["connected", "streamOpen", "authenticating", "authFailed", "authenticated", "bindable", "binding"]);

export class C2sListener {
  private readonly server: net.Server;
  private readonly sessions = new Map<string, LiveSession>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly env: SessionStarter) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`cannot listen for clients on ${host}:${port}: ${err.message}`));
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
        this.sweepTimer.unref();
        resolve();
      });
    });
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
      streamStart: (attrs, info) => {
        const { xmlns, ...rest } = attrs;
        send({ type: "xml.streamStart", attrs: rest, ns: info.ns, localName: info.localName, defaultNs: xmlns ?? info.defaultNs });
      },
      stanza: (stanza) => send({ type: "xml.stanza", stanza }),
      streamEnd: () => send({ type: "xml.streamEnd" }),
      error: (err) => send({ type: "xml.error", condition: err.condition, text: err.message }),
    };
    const conn = new Connection(socket, listener, {
      maxStanzaBytes: this.env.config.limits.maxStanzaBytes,
      maxDepth: this.env.config.limits.maxDepth,
    });
    actor = this.env.startSession(sessionId, conn);
    this.sessions.set(sessionId, { actor, conn, startedAt: Date.now() });
    this.env.log.debug("connection accepted", { session: sessionId, address: conn.remoteAddress });
    socket.on("data", (chunk: Buffer) => conn.receive(chunk));
    socket.on("error", (err) => this.env.log.debug("socket error", { session: sessionId, error: err.message }));
    socket.on("close", () => send({ type: "socket.closed" }));
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
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sockets = [...this.sessions.values()].map((s) => new Promise<void>((resolve) => {
      if (s.conn.socket.destroyed) return resolve();
      s.conn.socket.once("close", () => resolve());
      s.actor.send({ type: "session.kick", condition: "system-shutdown", text: "The server is shutting down" });
      setTimeout(() => { s.conn.socket.destroy(); resolve(); }, 1500).unref();
    }));
    await Promise.all(sockets);
    await closing;
  }
}
