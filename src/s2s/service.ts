// Federation: the s2s listener (incoming streams), one outgoing stream per
// (local domain, remote domain) pair, and the router's remote destination
// that hands them stanzas. A domain whose stream failed is left alone for a
// while (2 s, doubling up to s2s.maxBackoffSeconds): stanzas for it bounce at
// once with the failure's condition instead of piling up behind reconnects.
import net from "node:net";
import tls from "node:tls";
import { readFileSync } from "node:fs";
import { randomBytes, type X509Certificate } from "node:crypto";
import { parseBundle, SYSTEM_ANCHORS } from "./certificate.js";
import type { XmlElement } from "../xml/element.js";
import { tryParseJid, type Jid } from "../jid/jid.js";
import type { Destination, Router } from "../kernel/router.js";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";
import type { OutputGate } from "../net/connection.js";
import { listenOn, listenAlso, closeAll, portOf } from "../net/c2s-listener.js";
import { S2sStream, type S2sStreamLimits } from "./stream.js";
import { OutgoingStream, type FailureCondition, type VerifyOutcome } from "./outgoing.js";
import { IncomingStream } from "./incoming.js";

export interface S2sServiceDeps {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly router: Router;
  readonly gate: OutputGate;
  readonly secret: Buffer;
  readonly credentials: { key: string; cert: string };
  /** The domains this server serves (lower-case). */
  readonly domains: ReadonlySet<string>;
}

/** What the service hands a stanza or a verification to: a stream, or a domain backed off. */
interface RemoteLink {
  send(stanza: XmlElement): void;
  verify(streamId: string, key: string): Promise<VerifyOutcome>;
}

interface Backoff {
  until: number;
  delayMs: number;
  condition: FailureCondition;
}

const FIRST_BACKOFF_MS = 2000;

export class S2sService {
  private readonly listener: net.Server;
  private readonly extra: net.Server[] = [];
  private tlsContext: tls.SecureContext;
  private readonly ca: string | undefined;
  private anchors: readonly X509Certificate[] | undefined;
  private readonly outgoing = new Map<string, OutgoingStream>();
  private readonly incoming = new Set<IncomingStream>();
  private readonly perAddress = new Map<string, number>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly limits: S2sStreamLimits;
  private stopping = false;

  /** A new certificate (SIGHUP): streams from now on use it; established ones keep theirs. */
  setCredentials(credentials: { key: string; cert: string }): void {
    this.tlsContext = tls.createSecureContext(credentials);
  }

  constructor(private readonly d: S2sServiceDeps) {
    const s2s = d.config.s2s;
    this.ca = s2s.caFile === undefined ? undefined : readFileSync(s2s.caFile, "utf8");
    // The CAs verify the certificates peers present on incoming streams too (SASL EXTERNAL).
    this.tlsContext = tls.createSecureContext(this.ca === undefined ? d.credentials : { ...d.credentials, ca: this.ca });
    const l = d.config.limits;
    this.limits = {
      maxStanzaBytes: l.maxStanzaBytes, maxDepth: l.maxDepth, stanzasPerSecond: s2s.stanzasPerSecond,
      stanzaBurst: s2s.stanzaBurst, handshakeTimeoutMs: l.handshakeTimeoutSeconds * 1000,
    };
    this.listener = net.createServer((socket) => this.accept(socket));
  }

  /** s2s.ca_file's certificates, else Node's roots (parsed when a peer first presents a certificate). */
  private trustAnchors(): readonly X509Certificate[] {
    return (this.anchors ??= this.ca === undefined ? SYSTEM_ANCHORS() : parseBundle(this.ca));
  }

  /** The router's destination for every domain not served here. */
  destination(): Destination {
    return { kind: "remote", accept: (stanza, to) => this.send(stanza, to) };
  }

  get port(): number {
    return portOf(this.listener);
  }

  async listen(): Promise<void> {
    const s2s = this.d.config.s2s;
    await listenOn(this.listener, s2s.host, s2s.port, "servers (s2s)");
    this.extra.push(...await listenAlso(this.listener, s2s.extraHosts ?? [], "servers (s2s)", (m, f) => this.d.log.warn(m, f)));
  }

  /** Outgoing streams by "local remote" and their states (tests, status). */
  outgoingStates(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, o] of this.outgoing) out[k] = o.state;
    return out;
  }

  /** How each outgoing stream authenticated (tests, status). */
  outgoingAuth(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, o] of this.outgoing) if (o.authenticatedBy) out[k] = o.authenticatedBy;
    return out;
  }

  /** The "remote local" pairs authenticated on incoming streams. */
  incomingPairs(): string[] {
    return [...this.incoming].flatMap((i) => i.authenticatedPairs);
  }

  private blocked(domain: string): boolean {
    return this.d.config.s2s.blockedDomains.includes(domain);
  }

  private send(stanza: XmlElement, to: Jid): void {
    const remote = to.domain;
    const fromDomain = stanza.attrs.from === undefined ? undefined : tryParseJid(stanza.attrs.from)?.domain;
    const local = fromDomain !== undefined && this.d.domains.has(fromDomain) ? fromDomain : this.d.config.domains[0] ?? "localhost";
    if (this.blocked(remote) || this.stopping) {
      this.d.router.bounce(stanza, { condition: "remote-server-not-found", text: `${remote} is not federated with` });
      return;
    }
    this.stream(local, remote).send(stanza);
  }

  /** The outgoing stream for the pair, started if there is none; while the domain is backed off, a link that bounces. */
  private stream(local: string, remote: string): RemoteLink {
    const key = `${local} ${remote}`;
    const existing = this.outgoing.get(key);
    if (existing) return existing;
    const b = this.backoff.get(key);
    if (b && Date.now() < b.until) {
      return {
        send: (s) => this.d.router.bounce(s, { condition: b.condition, text: `${remote} failed recently; trying again in ${Math.ceil((b.until - Date.now()) / 1000)} s` }),
        verify: () => Promise.resolve("error"),
      };
    }
    const out = new OutgoingStream({
      local, remote, config: this.d.config.s2s, limits: this.limits, gate: this.d.gate, log: this.d.log, secret: this.d.secret, ca: this.ca,
      credentials: this.d.credentials,
      bounce: (s, error) => this.d.router.bounce(s, error),
      closed: (o, failure) => {
        if (this.outgoing.get(key) === o) this.outgoing.delete(key);
        if (failure === undefined) {
          this.backoff.delete(key);
          return;
        }
        const delayMs = Math.min((b?.delayMs ?? FIRST_BACKOFF_MS / 2) * 2, this.d.config.s2s.maxBackoffSeconds * 1000);
        this.backoff.set(key, { until: Date.now() + delayMs, delayMs, condition: failure });
      },
    });
    this.outgoing.set(key, out);
    out.start();
    return out;
  }

  private verify(local: string, remote: string, streamId: string, key: string): Promise<VerifyOutcome> {
    return this.stream(local, remote).verify(streamId, key);
  }

  /** RFC 6120 §13.12-style limits: connections per address, counted from accept. */
  private accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? "unknown";
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.d.config.s2s.connectionsPerAddress || this.stopping) {
      this.d.log.warn("refusing an s2s connection: too many from this address", { address });
      socket.on("error", () => {});
      socket.destroy();
      return;
    }
    this.perAddress.set(address, open + 1);
    socket.once("close", () => {
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
    let incoming: IncomingStream | undefined;
    const stream = new S2sStream(socket, this.limits, {
      header: (attrs, info) => incoming?.header(attrs, info.defaultNs),
      element: (e) => incoming?.element(e),
      end: () => {
        incoming?.peerEnded();
        stream.close();
      },
      error: (condition, text) => incoming?.fail(condition, text),
      closed: () => incoming?.closed(),
    }, this.d.gate);
    incoming = new IncomingStream(stream, randomBytes(12).toString("hex"), {
      config: this.d.config.s2s, log: this.d.log, secret: this.d.secret, tlsContext: this.tlsContext, anchors: () => this.trustAnchors(),
      unauthenticatedTimeoutMs: this.d.config.limits.unauthenticatedTimeoutSeconds * 1000,
      isLocal: (domain) => this.d.domains.has(domain),
      blocked: (domain) => this.blocked(domain),
      verify: (local, remote, id, key) => this.verify(local, remote, id, key),
      route: (s) => this.d.router.route(s),
      authenticated: () => {},
      closed: (i) => this.incoming.delete(i),
    });
    this.incoming.add(incoming);
  }

  /**
   * Destroys every stream with `domain` without closing it, as a network
   * failure would (the peer sees a lost connection). For tests and operators.
   */
  abort(domain: string): void {
    for (const [key, o] of this.outgoing) if (key.endsWith(` ${domain}`)) o.abort();
    for (const i of this.incoming) if (i.authenticatedPairs.some((p) => p.startsWith(`${domain} `))) i.stream.destroy();
  }

  /** Closes every stream (</stream:stream>) and the listeners. */
  async stop(): Promise<void> {
    this.stopping = true;
    const closing = Promise.all([new Promise<void>((resolve) => this.listener.close(() => resolve())), closeAll(this.extra)]);
    for (const o of [...this.outgoing.values()]) o.closeNow();
    for (const i of [...this.incoming]) i.stream.close(200);
    await closing;
  }
}
