// The open client connections, as the transports report them
// (net/port-observer.ts): one info line when a connection opens and one when
// it closes, with why (the stream error we sent, the client's own close, or a
// lost connection) and how long it lasted; the bound JID once there is one;
// and what the metrics count. `parley status` reads the counts from here.
import type { Logger } from "../util/logger.js";
import type { XmlElement } from "../xml/element.js";
import type { ConnectionObservers, PortObserver, TransportKind } from "../net/port-observer.js";
import { NS } from "../xmpp/namespaces.js";
import { SUPPORTED_MECHANISMS, CHANNEL_BINDING_MECHANISMS } from "../sasl/mechanism.js";

/**
 * RFC 6120 §8.3.3's conditions: a label takes one of these or "other", since a
 * stanza error routed from another client may name anything (labels must stay
 * a small, bounded set).
 */
const STANZA_CONDITIONS: ReadonlySet<string> = new Set([
  "bad-request", "conflict", "feature-not-implemented", "forbidden", "gone", "internal-server-error", "item-not-found",
  "jid-malformed", "not-acceptable", "not-allowed", "not-authorized", "policy-violation", "recipient-unavailable",
  "redirect", "registration-required", "remote-server-not-found", "remote-server-timeout", "resource-constraint",
  "service-unavailable", "subscription-required", "undefined-condition", "unexpected-request",
]);

const MECHANISMS: ReadonlySet<string> = new Set([...SUPPORTED_MECHANISMS, ...CHANNEL_BINDING_MECHANISMS]);

/** RFC 6120 §6.5's SASL failure conditions. */
const SASL_CONDITIONS: ReadonlySet<string> = new Set([
  "aborted", "account-disabled", "credentials-expired", "encryption-required", "incorrect-encoding", "invalid-authzid",
  "invalid-mechanism", "malformed-request", "mechanism-too-weak", "not-authorized", "temporary-auth-failure",
]);

const bounded = (value: string, known: ReadonlySet<string>): string => (known.has(value) ? value : "other");

/** What the metrics are told (src/metrics/metrics.ts). */
export interface TrafficCounters {
  connectionOpened(transport: TransportKind): void;
  connectionClosed(transport: TransportKind, reason: CloseReason): void;
  stanzaIn(transport: TransportKind, kind: StanzaKind): void;
  stanzaOut(transport: TransportKind, kind: StanzaKind): void;
  stanzaError(condition: string): void;
  streamError(condition: string): void;
  /** A SASL exchange ended (RFC 6120 §6.4.5, §6.4.6): `condition` is the failure's. */
  saslOutcome(mechanism: string, outcome: "success" | "failure", condition?: string): void;
}

/** message, presence, iq; `nonza` for everything else on the stream (SASL, features, stream management). */
export type StanzaKind = "message" | "presence" | "iq" | "nonza";

/** Why a connection ended: the label of parley_connections_closed_total. */
export type CloseReason = "client-closed" | "stream-error" | "connection-lost";

export function stanzaKind(stanza: XmlElement): StanzaKind {
  if (stanza.ns === NS.client && (stanza.name === "message" || stanza.name === "presence" || stanza.name === "iq")) return stanza.name;
  return "nonza";
}

/** RFC 6120 §8.3.2: the defined condition is the child of <error/> in the stanzas namespace. */
export function stanzaErrorCondition(stanza: XmlElement): string | undefined {
  if (stanza.attrs.type !== "error" || stanzaKind(stanza) === "nonza") return undefined;
  const error = stanza.getChild("error", NS.client);
  const condition = error?.children.find((c): c is XmlElement => typeof c !== "string" && c.ns === NS.stanzas && c.name !== "text");
  return condition === undefined ? "undefined-condition" : bounded(condition.name, STANZA_CONDITIONS);
}

interface OpenConnection {
  readonly sessionId: string;
  readonly transport: TransportKind;
  readonly address: string;
  readonly openedAt: number;
  /** The full JID bound on it, kept after unbinding for the closing log line. */
  jid?: string;
  bound: boolean;
  streamError?: string;
  clientClosed: boolean;
}

export interface ConnectionSummary {
  total: number;
  byTransport: Record<TransportKind, number>;
  /** Streams with a bound resource (RFC 6120 §7). */
  bound: number;
  /** Distinct users with at least one bound resource. */
  users: number;
}

export class ConnectionTracker implements ConnectionObservers {
  private readonly open = new Map<string, OpenConnection>();
  private counters: TrafficCounters | undefined;

  constructor(private readonly log: Logger) {}

  /** The metrics, once they exist (they are made after the listeners' environment). */
  countWith(counters: TrafficCounters): void {
    this.counters = counters;
  }

  opened(info: { sessionId: string; transport: TransportKind; address: string }): PortObserver {
    const c: OpenConnection = { ...info, openedAt: Date.now(), clientClosed: false, bound: false };
    this.open.set(info.sessionId, c);
    this.counters?.connectionOpened(info.transport);
    this.log.info("connection opened", { session: info.sessionId, transport: info.transport, address: info.address });
    let closed = false;
    /** The mechanism of the SASL exchange under way, from the client's <auth/>. */
    let mechanism = "none";
    return {
      stanzaIn: (stanza) => {
        this.counters?.stanzaIn(c.transport, stanzaKind(stanza));
        if (stanza.ns === NS.sasl && stanza.name === "auth") mechanism = bounded(stanza.attrs.mechanism ?? "", MECHANISMS);
      },
      stanzaOut: (stanza) => {
        this.counters?.stanzaOut(c.transport, stanzaKind(stanza));
        if (stanza.ns === NS.sasl && stanza.name === "success") this.counters?.saslOutcome(mechanism, "success");
        if (stanza.ns === NS.sasl && stanza.name === "failure") {
          const condition = stanza.children.find((x): x is XmlElement => typeof x !== "string" && x.name !== "text");
          this.counters?.saslOutcome(mechanism, "failure", bounded(condition?.name ?? "", SASL_CONDITIONS));
        }
        const condition = stanzaErrorCondition(stanza);
        if (condition !== undefined) this.counters?.stanzaError(condition);
      },
      streamErrorSent: (condition) => {
        // The first error is the reason; a transport may repeat it as it closes.
        if (c.streamError !== undefined) return;
        c.streamError = condition;
        this.counters?.streamError(condition);
      },
      peerClosedStream: () => {
        c.clientClosed = true;
      },
      closed: () => {
        if (closed) return;
        closed = true;
        this.open.delete(c.sessionId);
        const reason: CloseReason = c.streamError !== undefined ? "stream-error" : c.clientClosed ? "client-closed" : "connection-lost";
        this.counters?.connectionClosed(c.transport, reason);
        this.log.info("connection closed", {
          session: c.sessionId, transport: c.transport, address: c.address, jid: c.jid,
          reason: c.streamError !== undefined ? `stream error sent: ${c.streamError}` : c.clientClosed ? "the client closed its stream" : "the connection was lost (closed without a closing stream tag)",
          seconds: Math.round((Date.now() - c.openedAt) / 100) / 10,
        });
      },
    };
  }

  /** A resource was bound on this connection (the kernel's resource-bind hook). */
  bound(sessionId: string, fullJid: string): void {
    const c = this.open.get(sessionId);
    if (c) {
      c.jid = fullJid;
      c.bound = true;
    }
  }

  unbound(sessionId: string): void {
    const c = this.open.get(sessionId);
    if (c) c.bound = false;
  }

  summary(): ConnectionSummary {
    const byTransport: Record<TransportKind, number> = { tcp: 0, tls: 0, websocket: 0, bosh: 0 };
    let bound = 0;
    const users = new Set<string>();
    for (const c of this.open.values()) {
      byTransport[c.transport]++;
      if (c.bound && c.jid !== undefined) {
        bound++;
        users.add(c.jid.split("/")[0] as string);
      }
    }
    return { total: this.open.size, byTransport, bound, users: users.size };
  }

  /** Bound full JIDs, sorted (parley user list marks these users online). */
  boundJids(): string[] {
    return [...this.open.values()].flatMap((c) => (c.bound && c.jid !== undefined ? [c.jid] : [])).sort();
  }
}
