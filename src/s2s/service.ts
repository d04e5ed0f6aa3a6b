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
import { pingAnswer } from "./ping.js";

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
/** Outgoing streams open or connecting at once; past it, stanzas to yet another domain bounce resource-constraint. */
const MAX_OUTGOING = 1000;
/** Remembered failures (backoff) at most. */
const MAX_BACKOFF_ENTRIES = 10_000;

export class S2sService {
  private readonly listener: net.Server;
  /** XEP-0368 Direct TLS, when s2s.directTlsPort is set. */
  private readonly directListener: net.Server;
  private readonly extra: net.Server[] = [];
  private tlsContext: tls.SecureContext;
  /** Our certificate, also presented as the TLS client's on outgoing streams. */
  private credentials: { key: string; cert: string };
  private readonly ca: string | undefined;
  private anchors: readonly X509Certificate[] | undefined;
  private readonly outgoing = new Map<string, OutgoingStream>();
  private readonly incoming = new Set<IncomingStream>();
  private readonly perAddress = new Map<string, number>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly limits: S2sStreamLimits;
  private stopping = false;

  /** A new certificate (SIGHUP): streams from now on use it (accepted and opened); established ones keep theirs. */
  setCredentials(credentials: { key: string; cert: string }): void {
    this.credentials = credentials;
    this.tlsContext = tls.createSecureContext(this.ca === undefined ? credentials : { ...credentials, ca: this.ca });
  }

  constructor(private readonly d: S2sServiceDeps) {
    const s2s = d.config.s2s;
    this.ca = s2s.caFile === undefined ? undefined : readFileSync(s2s.caFile, "utf8");
    this.credentials = d.credentials;
    // The CAs verify the certificates peers present on incoming streams too (SASL EXTERNAL).
    this.tlsContext = tls.createSecureContext(this.ca === undefined ? this.credentials : { ...this.credentials, ca: this.ca });
    const l = d.config.limits;
    this.limits = {
      maxStanzaBytes: l.maxStanzaBytes, maxDepth: l.maxDepth, stanzasPerSecond: s2s.stanzasPerSecond,
      stanzaBurst: s2s.stanzaBurst, handshakeTimeoutMs: l.handshakeTimeoutSeconds * 1000,
    };
    this.listener = net.createServer((socket) => this.accept(socket));
    this.directListener = net.createServer((socket) => this.acceptDirectTls(socket));
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
    if (s2s.directTlsPort !== undefined) {
      await listenOn(this.directListener, s2s.host, s2s.directTlsPort, "servers (s2s Direct TLS)");
      this.extra.push(...await listenAlso(this.directListener, s2s.extraHosts ?? [], "servers (s2s Direct TLS)", (m, f) => this.d.log.warn(m, f)));
    }
  }

  /** The Direct TLS port, when it listens. */
  get directTlsPort(): number | undefined {
    return this.directListener.listening ? portOf(this.directListener) : undefined;
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

  /** XEP-0199 §4.3 pings of each outgoing stream, sent and answered (tests, status). */
  outgoingPings(): Record<string, { sent: number; answered: number }> {
    const out: Record<string, { sent: number; answered: number }> = {};
    for (const [k, o] of this.outgoing) out[k] = { ...o.pings };
    return out;
  }

  /**
   * A stanza from an authenticated incoming stream. The answer to one of our
   * pings comes this way (RFC 6120 §8.2: the peer sends on its own stream) and
   * goes to the outgoing stream that pinged; one that matches no ping waiting
   * (late, or made up) is dropped: it is for no user.
   */
  private routeIncoming(s: XmlElement): void {
    const answer = pingAnswer(s);
    if (answer === undefined) return this.d.router.route(s);
    const stream = this.outgoing.get(`${answer.local} ${answer.remote}`);
    if (!stream?.pingAnswered(answer.id)) this.d.log.debug("dropping an answer to no ping waiting", { from: s.attrs.from, to: s.attrs.to, id: answer.id });
  }

  /** The "remote local" pairs authenticated on incoming streams. */
  incomingPairs(): string[] {
    return [...this.incoming].flatMap((i) => i.authenticatedPairs);
  }

  /** A domain this server answers for: a served domain or a component (conference., pubsub., upload.), per the router's table. */
  private served(domain: string): boolean {
    return this.d.domains.has(domain) || this.d.router.kindOf(domain) !== "remote";
  }

  private blocked(domain: string): boolean {
    return this.d.config.s2s.blockedDomains.includes(domain);
  }

  private send(stanza: XmlElement, to: Jid): void {
    const remote = to.domain;
    const local = stanza.attrs.from === undefined ? undefined : tryParseJid(stanza.attrs.from)?.domain;
    // RFC 6120 §8.1.2.2: on s2s every stanza has a `from` in a domain the stream
    // authenticated; one that is not ours would get the whole stream closed (invalid-from).
    if (local === undefined || !this.served(local)) {
      this.d.log.warn("not sending a stanza to a remote domain from an address not served here", { from: stanza.attrs.from, to: stanza.attrs.to, name: stanza.name });
      return;
    }
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
    if (this.outgoing.size >= MAX_OUTGOING) {
      return {
        send: (s) => this.d.router.bounce(s, { condition: "resource-constraint", text: "too many server-to-server streams open" }),
        verify: () => Promise.resolve("error"),
      };
    }
    const out = new OutgoingStream({
      local, remote, config: this.d.config.s2s, limits: this.limits, gate: this.d.gate, log: this.d.log, secret: this.d.secret, ca: this.ca,
      credentials: this.credentials,
      bounce: (s, error) => this.d.router.bounce(s, error),
      closed: (o, failure) => {
        if (this.outgoing.get(key) === o) this.outgoing.delete(key);
        if (failure === undefined) {
          this.backoff.delete(key);
          return;
        }
        const delayMs = Math.min((b?.delayMs ?? FIRST_BACKOFF_MS / 2) * 2, this.d.config.s2s.maxBackoffSeconds * 1000);
        if (this.backoff.size >= MAX_BACKOFF_ENTRIES) this.pruneBackoff();
        this.backoff.set(key, { until: Date.now() + delayMs, delayMs, condition: failure });
      },
    });
    this.outgoing.set(key, out);
    out.start();
    return out;
  }

  /** Forgets failures whose wait is over (their doubling starts again), else the oldest half. */
  private pruneBackoff(): void {
    const now = Date.now();
    for (const [k, b] of this.backoff) if (b.until <= now) this.backoff.delete(k);
    if (this.backoff.size < MAX_BACKOFF_ENTRIES) return;
    let drop = this.backoff.size / 2;
    for (const k of this.backoff.keys()) {
      if (drop-- <= 0) break;
      this.backoff.delete(k);
    }
  }

  private verify(local: string, remote: string, streamId: string, key: string): Promise<VerifyOutcome> {
    return this.stream(local, remote).verify(streamId, key);
  }

  /** RFC 6120 §13.12-style limits: connections per address, counted from accept. */
  private admit(socket: net.Socket): boolean {
    const address = socket.remoteAddress ?? "unknown";
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.d.config.s2s.connectionsPerAddress || this.stopping) {
      this.d.log.warn("refusing an s2s connection: too many from this address", { address });
      socket.on("error", () => {});
      socket.destroy();
      return false;
    }
    this.perAddress.set(address, open + 1);
    socket.once("close", () => {
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
    return true;
  }

  /**
   * XEP-0368 Direct TLS: the address counted before the handshake, which must
   * finish within handshakeTimeoutSeconds; the stream then starts encrypted
   * (no STARTTLS offered), the peer's certificate asked for as on STARTTLS.
   */
  private acceptDirectTls(raw: net.Socket): void {
    if (!this.admit(raw)) return;
    const secure = new tls.TLSSocket(raw, {
      isServer: true, secureContext: this.tlsContext, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ["xmpp-server"],
    });
    const timer = setTimeout(() => secure.destroy(), this.limits.handshakeTimeoutMs);
    timer.unref();
    const failed = (err: Error) => {
      this.d.log.debug("s2s Direct TLS handshake failed", { address: raw.remoteAddress, error: err.message });
      secure.destroy();
    };
    secure.on("error", failed);
    secure.once("close", () => clearTimeout(timer));
    secure.once("secure", () => {
      clearTimeout(timer);
      secure.off("error", failed);
      this.stream_(secure);
    });
  }

  private accept(socket: net.Socket): void {
    if (this.admit(socket)) this.stream_(socket);
  }

  /** An incoming stream on an admitted socket (plain, or Direct TLS once the handshake is done). */
  private stream_(socket: net.Socket): void {
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
      isLocal: (domain) => this.served(domain),
      blocked: (domain) => this.blocked(domain),
      verify: (local, remote, id, key) => this.verify(local, remote, id, key),
      route: (s) => this.routeIncoming(s),
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
    const closing = Promise.all([closeAll([this.listener, ...(this.directListener.listening ? [this.directListener] : [])]), closeAll(this.extra)]);
    for (const o of [...this.outgoing.values()]) o.closeNow();
    for (const i of [...this.incoming]) i.stream.close(200);
    await closing;
  }
}
