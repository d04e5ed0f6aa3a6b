// The live sessions of every listener (TCP, TLS, WebSocket): for the idle
// sweep, for closing them all at shutdown, and for asking a session's state.
// Also the open connections per remote address, counted across every listener
// from the moment TCP accepts them (before a TLS handshake or an HTTP upgrade)
// until they close.
import type { Socket } from "node:net";
import type { StateValue } from "xstate";
import type { ServerConfig } from "../config.js";
import type { SessionEvent, SessionTag } from "../actors/session-machine.js";

/** What the registry needs of a transport. */
export interface LiveTransport {
  readonly lastActivity: number;
  closed(): Promise<void>;
  destroy(): void;
}

/** What the registry needs of a session actor: its tags, and to be told of timeouts and shutdown. */
export interface LiveSessionActor {
  getSnapshot(): { readonly value: StateValue; hasTag(tag: SessionTag): boolean };
  send(event: SessionEvent): void;
}

interface LiveSession {
  actor: LiveSessionActor;
  transport: LiveTransport;
  startedAt: number;
  address: string;
}

const SWEEP_INTERVAL_MS = 5000;

export class SessionRegistry {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly perAddress = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly limits: ServerConfig["limits"]) {
    // Often enough that no timeout is overshot by more than half its length.
    const interval = Math.min(SWEEP_INTERVAL_MS, (Math.min(limits.unauthenticatedTimeoutSeconds, limits.idleSeconds) * 1000) / 2);
    this.timer = setInterval(() => this.sweep(), interval);
    this.timer.unref();
  }

  add(sessionId: string, actor: LiveSessionActor, transport: LiveTransport, address: string): void {
    this.sessions.set(sessionId, { actor, transport, startedAt: Date.now(), address });
  }

  forget(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /**
   * A TCP connection just accepted, on any listener: counted against
   * limits.connectionsPerAddress until the socket closes, or refused (false,
   * not counted) when its address already has that many open. Counting the
   * socket, not the session, covers TLS handshakes and HTTP requests that
   * never become a stream.
   */
  admitSocket(socket: Socket): boolean {
    const address = socket.remoteAddress ?? "unknown";
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.limits.connectionsPerAddress) return false;
    this.perAddress.set(address, open + 1);
    socket.once("close", () => {
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
    return true;
  }

  /** Open connections from `address`, on every listener (tests and debugging). */
  connectionsFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /**
   * The name of a session actor's state, e.g. "bound" or "authenticating.verifying",
   * for tests and debugging only: code that decides asks `hasTag`. Undefined once the session is gone.
   */
  stateOf(sessionId: string): string | undefined {
    const s = this.sessions.get(sessionId);
    return s ? stateName(s.actor.getSnapshot().value) : undefined;
  }

  /**
   * Closes connections that did not finish stream negotiation (RFC 6120 §4.3: up to
   * resource binding) within unauthenticated-timeout, and streams silent for longer than idle-seconds.
   */
  sweep(now = Date.now()): void {
    for (const s of this.sessions.values()) {
      const negotiating = s.actor.getSnapshot().hasTag("negotiating");
      if (negotiating && now - s.startedAt > this.limits.unauthenticatedTimeoutSeconds * 1000) {
        s.actor.send({ type: "idle.timeout" });
      } else if (now - s.transport.lastActivity > this.limits.idleSeconds * 1000) {
        s.actor.send({ type: "idle.timeout" });
      }
    }
  }

  /** Every stream gets system-shutdown; waits (briefly) for the transports to close. */
  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.sessions.values()].map(async (s) => {
      const done = s.transport.closed();
      s.actor.send({ type: "session.kick", condition: "system-shutdown", text: "The server is shutting down" });
      const timer = setTimeout(() => s.transport.destroy(), 1500);
      await done;
      clearTimeout(timer);
    }));
  }
}

/** "authenticating.verifying" for { authenticating: "verifying" }. */
function stateName(value: StateValue): string {
  if (typeof value === "string") return value;
  return Object.entries(value)
    .map(([parent, child]) => (child === undefined ? parent : `${parent}.${stateName(child)}`))
    .join(",");
}
