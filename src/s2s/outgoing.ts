// One outgoing server-to-server stream, from a local domain to a remote one
// (RFC 6120 §4 and §5, XEP-0220 §2.1): resolve, connect, STARTTLS, dialback,
// then the stanzas queued meanwhile and everything after. It also carries
// the db:verify requests this server makes when the remote domain's server
// asks to be trusted on an incoming stream (XEP-0220 §2.3).
//   connecting → negotiating (→ tls → negotiating) → authenticating → ready → closed
// A stream that fails before `ready` bounces what waited: remote-server-not-found
// when the domain cannot be resolved, reached or refuses us, remote-server-timeout
// when it stops answering (RFC 6120 §8.3.3.15, §8.3.3.16). Once ready, a stream
// quiet for s2s.ping_interval_seconds sends a ping (XEP-0199 §4.3); one whose
// ping gets no answer within s2s.ping_timeout_seconds is dead: closed, and the
// stanzas written since the peer last answered (up to s2s.queueLimit of them)
// bounce remote-server-timeout.
import net from "node:net";
import tls from "node:tls";
import { el, type XmlElement } from "../xml/element.js";
import type { StanzaErrorSpec } from "../xmpp/errors.js";
import { NS } from "../xmpp/namespaces.js";
import type { OutputGate } from "../net/connection.js";
import type { Logger } from "../util/logger.js";
import type { S2sConfig } from "../config.js";
import { S2sStream, NS_DIALBACK, type S2sStreamLimits } from "./stream.js";
import { dialbackKey } from "./dialback.js";
import { resolveS2s, type S2sTarget } from "./resolve.js";
import { certificateNames } from "./certificate.js";
import { PING_ID_PREFIX, isKeepalive, pingRequest } from "./ping.js";
import { randomBytes } from "node:crypto";

export type VerifyOutcome = "valid" | "invalid" | "error";
export type OutgoingState = "connecting" | "negotiating" | "tls" | "sasl" | "restarting" | "authenticating" | "ready" | "closed";
export type FailureCondition = "remote-server-not-found" | "remote-server-timeout";

export interface OutgoingDeps {
  readonly local: string;
  readonly remote: string;
  readonly config: S2sConfig;
  readonly limits: S2sStreamLimits;
  readonly gate: OutputGate;
  readonly log: Logger;
  readonly secret: Buffer;
  /** Trusted CAs for secureDomains (undefined: Node's store). */
  readonly ca: string | undefined;
  /** Our certificate, presented as the TLS client's (the peer may verify it for SASL EXTERNAL). */
  readonly credentials: { key: string; cert: string };
  bounce(stanza: XmlElement, error: StanzaErrorSpec): void;
  /** The stream is gone: after `ready` (failure undefined) or before it. */
  closed(stream: OutgoingStream, failure: FailureCondition | undefined): void;
}

/**
 * Node's own check knows DNS-IDs only and would mark a certificate naming the
 * domain by xmppAddr or SRV-ID unauthorized: `authorized` is left to the chain,
 * and certificateNames (RFC 6120 §13.7.1.2) judges the names.
 */
const namesCheckedLater = (): undefined => undefined;

export class OutgoingStream {
  state: OutgoingState = "connecting";
  /** How the stream authenticated, once it did. */
  authenticatedBy: "sasl-external" | "dialback" | undefined;
  private stream: S2sStream | undefined;
  private streamId: string | undefined;
  private readonly queue: XmlElement[] = [];
  /** db:verify requests by stream id, waiting for their answers. */
  private readonly verifies = new Map<string, { key: string; sent: boolean; done: (outcome: VerifyOutcome) => void }>();
  private deadline: NodeJS.Timeout | undefined;
  /** Wakes for the idle close and the next ping. */
  private idleTimer: NodeJS.Timeout | undefined;
  /** Last stanza written that was not a ping or an answer to one (the idle close counts from it). */
  private lastUsed = Date.now();
  /** Last ping sent: a stream pings again an interval after its last use or ping, whichever is later. */
  private lastPing = 0;
  /** The ping waiting for its answer, and the timer that declares the peer dead. */
  private pending: { id: string; timer: NodeJS.Timeout } | undefined;
  /**
   * Stanzas written since the peer last answered a ping (at most s2s.queueLimit):
   * bounced if the next ping goes unanswered, since nothing says the peer read
   * them. When it is full a ping goes out at once; stanzas written before its
   * answer are counted in `unrecorded` only (memory stays bounded, and a burst
   * is never held back), and a failure logs how many.
   */
  private unconfirmed: XmlElement[] = [];
  private unrecorded = 0;
  /** Pings sent and answered (tests, status). */
  readonly pings = { sent: 0, answered: 0 };
  /** TCP connected: a failure from now on is the peer not answering. */
  private reached = false;

  constructor(private readonly d: OutgoingDeps) {}

  /** A method, not a property test: the state changes while a connect is awaited. */
  private isClosed(): boolean {
    return this.state === "closed";
  }

  start(): void {
    this.deadline = setTimeout(() => this.fail(this.reached ? "remote-server-timeout" : "remote-server-not-found",
      `no authenticated stream to ${this.d.remote} within ${this.d.config.connectTimeoutSeconds} s`), this.d.config.connectTimeoutSeconds * 1000);
    this.deadline.unref();
    resolveS2s(this.d.remote, this.d.config.routes).then((targets) => this.tryTargets(targets), (err: Error) => this.fail("remote-server-not-found", err.message));
  }

  private get pingsOn(): boolean {
    return this.d.config.pingIntervalSeconds > 0;
  }

  /** Queues while connecting (bounded: s2s.queueLimit), writes once ready. */
  send(stanza: XmlElement): void {
    if (this.state === "ready" && this.stream) {
      if (isKeepalive(stanza)) return this.stream.send(stanza);
      this.lastUsed = Date.now();
      this.stream.send(stanza);
      if (!this.pingsOn) return;
      if (this.unconfirmed.length < this.d.config.queueLimit) this.unconfirmed.push(stanza);
      else this.unrecorded++;
      if (this.unconfirmed.length >= this.d.config.queueLimit) this.ping();
      return;
    }
    if (this.state === "closed") {
      this.d.bounce(stanza, { condition: "remote-server-not-found", text: `the stream to ${this.d.remote} is closed` });
      return;
    }
    if (this.queue.length >= this.d.config.queueLimit) {
      this.d.bounce(stanza, { condition: "resource-constraint", text: `too many stanzas waiting for ${this.d.remote}` });
      return;
    }
    this.queue.push(stanza);
  }

  /** XEP-0199 §4.3: a ping from our domain to theirs; its answer arrives on their stream to us (S2sService hands it to pingAnswered). */
  private ping(): void {
    const stream = this.stream;
    if (!stream || this.state !== "ready" || this.pending) return;
    const id = PING_ID_PREFIX + randomBytes(8).toString("hex");
    const seconds = this.d.config.pingTimeoutSeconds;
    const timer = setTimeout(() => this.fail("remote-server-timeout", `${this.d.remote} did not answer a ping within ${seconds} s`), seconds * 1000);
    timer.unref();
    this.pending = { id, timer };
    this.lastPing = Date.now();
    this.pings.sent++;
    stream.send(pingRequest(this.d.local, this.d.remote, id));
  }

  /** The answer (result or error) to a ping: the peer read everything written before it. False when `id` is not the ping waiting. */
  pingAnswered(id: string): boolean {
    if (this.pending?.id !== id) return false;
    clearTimeout(this.pending.timer);
    this.pending = undefined;
    this.pings.answered++;
    this.unconfirmed = [];
    this.unrecorded = 0;
    return true;
  }

  /** XEP-0220 §2.3.1: asks the remote (authoritative) server whether it made `key` for a stream of ours. */
  verify(streamId: string, key: string): Promise<VerifyOutcome> {
    if (this.state === "closed") return Promise.resolve("error");
    const existing = this.verifies.get(streamId);
    if (existing) existing.done("error");
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish("error"), this.d.config.connectTimeoutSeconds * 1000);
      timer.unref();
      const finish = (outcome: VerifyOutcome) => {
        clearTimeout(timer);
        if (this.verifies.get(streamId)?.done === finish) this.verifies.delete(streamId);
        resolve(outcome);
      };
      this.verifies.set(streamId, { key, sent: false, done: finish });
      if (this.state === "authenticating" || this.state === "ready") this.sendVerifies();
    });
  }

  private sendVerifies(): void {
    for (const [id, v] of this.verifies) {
      if (v.sent) continue;
      v.sent = true;
      this.lastUsed = Date.now();
      this.stream?.send(el("verify", NS_DIALBACK, { from: this.d.local, to: this.d.remote, id }, v.key));
    }
  }

  private async tryTargets(targets: S2sTarget[]): Promise<void> {
    if (targets.length === 0) return this.fail("remote-server-not-found", `${this.d.remote} has no XMPP server (SRV)`);
    let last = "";
    for (const t of targets) {
      if (this.state === "closed") return;
      try {
        const socket = await this.connect(t);
        if (this.isClosed()) {
          socket.destroy();
          return;
        }
        this.reached = true;
        this.opened(socket);
        return;
      } catch (err) {
        last = `${t.host}:${t.port}: ${(err as Error).message}`;
        this.d.log.debug("s2s connect failed", { remote: this.d.remote, target: `${t.host}:${t.port}`, error: (err as Error).message });
      }
    }
    this.fail("remote-server-not-found", `cannot connect to ${this.d.remote} (${last})`);
  }

  private connect(t: S2sTarget): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = t.directTls
        ? tls.connect({ host: t.host, port: t.port, servername: this.d.remote, ALPNProtocols: ["xmpp-server"], rejectUnauthorized: false, checkServerIdentity: namesCheckedLater, ca: this.d.ca, ...this.d.credentials })
        : net.connect({ host: t.host, port: t.port });
      socket.once(t.directTls ? "secureConnect" : "connect", () => {
        socket.off("error", reject);
        resolve(socket);
      });
      socket.once("error", reject);
    });
  }

  private opened(socket: net.Socket): void {
    this.state = "negotiating";
    const stream = new S2sStream(socket, this.d.limits, {
      header: (attrs) => {
        this.streamId = attrs.id;
      },
      element: (e) => this.element(e),
      end: () => this.closeNow(),
      error: (condition, text) => {
        this.stream?.fail(condition, text);
        this.fail("remote-server-timeout", `the stream from ${this.d.remote} failed: ${text}`);
      },
      closed: () => this.socketClosed(),
    }, this.d.gate);
    this.stream = stream;
    if (socket instanceof tls.TLSSocket && !this.certificateAcceptable(socket)) return;
    stream.openStream({ from: this.d.local, to: this.d.remote });
  }

  /** secureDomains: the certificate must verify and name the domain (RFC 6120 §13.7.1.2, RFC 6125, XEP-0178 §2); the others are authenticated by dialback. */
  private certificateAcceptable(socket: tls.TLSSocket): boolean {
    if (!this.d.config.secureDomains.includes(this.d.remote)) return true;
    const cert = socket.getPeerCertificate();
    const named = cert?.raw !== undefined && certificateNames(cert.raw, this.d.remote);
    if (socket.authorized && named) return true;
    const problem = socket.authorizationError === null || socket.authorizationError === undefined
      ? cert?.raw === undefined ? "no certificate" : `it names neither the xmppAddr ${this.d.remote}, nor _xmpp-server.${this.d.remote}, nor the DNS name`
      : String(socket.authorizationError);
    this.fail("remote-server-not-found", `the certificate of ${this.d.remote} does not verify: ${problem}`);
    return false;
  }

  private element(e: XmlElement): void {
    const stream = this.stream;
    if (!stream) return;
    if (e.is("features", NS.stream)) return this.features(e);
    if (e.is("proceed", NS.tls) && this.state === "tls") {
      stream.startTls({ client: { servername: this.d.remote, rejectUnauthorized: false, checkServerIdentity: namesCheckedLater, ca: this.d.ca, ALPNProtocols: ["xmpp-server"], ...this.d.credentials } }).then((socket) => {
        if (this.state === "closed") return;
        if (!this.certificateAcceptable(socket)) return;
        this.state = "negotiating";
        stream.openStream({ from: this.d.local, to: this.d.remote });
      }, (err: Error) => this.fail("remote-server-not-found", `TLS with ${this.d.remote} failed: ${err.message}`));
      return;
    }
    if (e.is("failure", NS.tls)) return this.fail("remote-server-not-found", `${this.d.remote} refused STARTTLS`);
    if (e.is("success", NS.sasl) && this.state === "sasl") {
      // RFC 6120 §6.4.6: a new stream over the same TLS; its features end the negotiation.
      this.state = "restarting";
      stream.resetParser();
      stream.openStream({ from: this.d.local, to: this.d.remote });
      return;
    }
    if (e.is("failure", NS.sasl) && this.state === "sasl") {
      // XEP-0178 §3: the certificate did not do; dialback may still (XEP-0344 §2.4).
      this.d.log.info("s2s SASL EXTERNAL refused; trying dialback", { remote: this.d.remote, condition: e.firstElement()?.name });
      return this.dialback();
    }
    if (e.is("result", NS_DIALBACK)) return this.result(e);
    if (e.is("verify", NS_DIALBACK)) {
      const v = this.verifies.get(e.attrs.id ?? "");
      if (v && e.attrs.from === this.d.remote && e.attrs.to === this.d.local) v.done(e.attrs.type === "valid" ? "valid" : e.attrs.type === "invalid" ? "invalid" : "error");
      return;
    }
    if (e.is("error", NS.stream)) {
      const condition = e.firstElement()?.name ?? "undefined-condition";
      this.fail("remote-server-not-found", `${this.d.remote} sent the stream error ${condition}`);
      return;
    }
    // RFC 6120 §4.2: an outgoing stream carries our stanzas only; the peer answers on its own stream to us.
    this.d.log.debug("ignoring an element on an outgoing s2s stream", { remote: this.d.remote, name: e.name });
  }

  private features(f: XmlElement): void {
    const stream = this.stream;
    if (!stream) return;
    if (this.state === "restarting") return this.authenticated("sasl-external");
    if (this.state !== "negotiating") return;
    if (!stream.secure) {
      if (f.getChild("starttls", NS.tls)) {
        this.state = "tls";
        stream.send(el("starttls", NS.tls));
        return;
      }
      if (this.d.config.requireTls && !this.d.config.insecureDomains.includes(this.d.remote)) {
        stream.close();
        this.fail("remote-server-not-found", `${this.d.remote} does not offer TLS, which s2s.require_tls asks for`);
        return;
      }
    }
    // RFC 6120 §13.7.1.2, XEP-0178 §2: the peer verified our certificate and offers EXTERNAL; the authzid is our domain.
    const mechanisms = f.getChild("mechanisms", NS.sasl)?.getChildren("mechanism").map((m) => m.text().trim()) ?? [];
    if (stream.secure && mechanisms.includes("EXTERNAL")) {
      this.state = "sasl";
      stream.send(el("auth", NS.sasl, { mechanism: "EXTERNAL" }, Buffer.from(this.d.local).toString("base64")));
      return;
    }
    this.dialback();
  }

  private dialback(): void {
    const stream = this.stream;
    if (!stream) return;
    if (this.streamId === undefined) {
      this.fail("remote-server-not-found", `${this.d.remote} sent no stream id, so dialback cannot work`);
      return;
    }
    // XEP-0220 §2.1.1: our key for this stream, which the remote will check with us.
    this.state = "authenticating";
    stream.send(el("result", NS_DIALBACK, { from: this.d.local, to: this.d.remote },
      dialbackKey(this.d.secret, this.d.remote, this.d.local, this.streamId)));
    this.sendVerifies();
  }

  private authenticated(by: "sasl-external" | "dialback"): void {
    this.state = "ready";
    this.authenticatedBy = by;
    if (this.deadline) clearTimeout(this.deadline);
    this.d.log.info("s2s stream authenticated", { from: this.d.local, to: this.d.remote, direction: "outgoing", by });
    this.lastUsed = Date.now();
    for (const s of this.queue.splice(0)) this.send(s);
    this.sendVerifies();
    this.scheduleIdle();
  }

  private result(r: XmlElement): void {
    if (this.state !== "authenticating" || r.attrs.from !== this.d.remote || r.attrs.to !== this.d.local) return;
    if (r.attrs.type === "valid") return this.authenticated("dialback");
    this.stream?.close();
    this.fail("remote-server-not-found", `${this.d.remote} did not accept our dialback key (${r.attrs.type ?? "no type"})`);
  }

  /**
   * One timer for both: the stream closes once it has carried no stanza but
   * pings and their answers for s2s.idle_seconds, and pings once it has been
   * quiet (no use, no ping) for s2s.ping_interval_seconds.
   */
  private scheduleIdle(): void {
    const now = Date.now();
    const again = (ms: number) => {
      this.idleTimer = setTimeout(() => {
        if (this.state === "ready") this.scheduleIdle();
      }, Math.max(ms, 10));
      this.idleTimer.unref();
    };
    // A ping waiting decides first: its timer fails the stream, its answer clears the way for the idle close.
    if (this.pending) return again(1000);
    const closeAt = this.lastUsed + this.d.config.idleSeconds * 1000;
    if (now >= closeAt) {
      this.d.log.debug("closing an idle s2s stream", { remote: this.d.remote });
      return this.closeNow();
    }
    if (!this.pingsOn) return again(closeAt - now);
    const pingAt = Math.max(this.lastUsed, this.lastPing) + this.d.config.pingIntervalSeconds * 1000;
    if (now < pingAt) return again(Math.min(closeAt, pingAt) - now);
    this.ping();
    again(1000);
  }

  /** Closes the stream (idle, shutdown, or the peer closed its side). */
  closeNow(): void {
    if (this.state === "closed") return;
    const wasReady = this.state === "ready";
    this.stream?.close();
    if (!wasReady) return this.fail("remote-server-timeout", `${this.d.remote} closed the stream before it was authenticated`);
    this.finish(undefined);
  }

  /** The connection dropped without a close (S2sService.abort). */
  abort(): void {
    this.stream?.destroy();
  }

  private socketClosed(): void {
    if (this.state === "closed") return;
    // Lost while a ping waited: the peer had stopped answering, and what it may not have read bounces.
    if (this.state === "ready" && this.pending) return this.fail("remote-server-timeout", `the connection to ${this.d.remote} was lost while a ping waited for its answer`);
    if (this.state === "ready") return this.finish(undefined);
    this.fail("remote-server-timeout", `the connection to ${this.d.remote} closed before it was authenticated`);
  }

  private fail(condition: FailureCondition, text: string): void {
    if (this.state === "closed") return;
    this.d.log.warn("s2s stream failed", { from: this.d.local, to: this.d.remote, condition, reason: text,
      bounced: this.unconfirmed.length + this.queue.length, unrecorded: this.unrecorded });
    // RFC 6120 §8.3.3.15: what the peer may never have read comes back to its senders.
    const undelivered = [...this.unconfirmed, ...this.queue.splice(0)];
    this.unconfirmed = [];
    this.finish(condition);
    this.stream?.destroy();
    for (const s of undelivered) this.d.bounce(s, { condition, text });
  }

  private finish(failure: FailureCondition | undefined): void {
    this.state = "closed";
    if (this.deadline) clearTimeout(this.deadline);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = undefined;
    this.unconfirmed = [];
    for (const v of [...this.verifies.values()]) v.done("error");
    this.d.closed(this, failure);
  }
}
