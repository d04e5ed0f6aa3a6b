// One incoming server-to-server stream (RFC 6120 §4, §5; XEP-0220 §2.2-2.4):
// our header and features (STARTTLS, required by default; then dialback),
// db:result requests checked back with the sender's authoritative server,
// db:verify requests answered from our own secret, and stanzas from the
// domains this stream has authenticated, normalised and routed like a
// client's. A stanza whose `from` is a domain the stream did not authenticate
// is invalid-from (RFC 6120 §4.9.3.9, §13.1: a peer speaks only for itself).
import type { SecureContext } from "node:tls";
import type { X509Certificate } from "node:crypto";
import { chainVerifies, peerChain, certificateNames } from "./certificate.js";
import { el, type XmlElement } from "../xml/element.js";
import { tryParseJid } from "../jid/jid.js";
import type { StreamErrorCondition } from "../xmpp/errors.js";
import { NS } from "../xmpp/namespaces.js";
import type { Logger } from "../util/logger.js";
import type { S2sConfig } from "../config.js";
import { S2sStream, NS_DIALBACK, NS_DIALBACK_FEATURE, NS_SERVER, renamespace } from "./stream.js";
import { dialbackKeyValid } from "./dialback.js";
import { isKeepalive } from "./ping.js";
import type { VerifyOutcome } from "./outgoing.js";

export interface IncomingDeps {
  readonly config: S2sConfig;
  readonly log: Logger;
  readonly secret: Buffer;
  readonly tlsContext: SecureContext;
  /** Trust anchors for peers' certificates (SASL EXTERNAL). */
  anchors(): readonly X509Certificate[];
  readonly unauthenticatedTimeoutMs: number;
  isLocal(domain: string): boolean;
  blocked(domain: string): boolean;
  /** XEP-0220 §2.3: asks `remote`'s authoritative server over our outgoing stream to it. */
  verify(local: string, remote: string, streamId: string, key: string): Promise<VerifyOutcome>;
  /** A stanza from the remote domain, in jabber:client, its addresses normalised. */
  route(stanza: XmlElement): void;
  /** Told when a remote domain authenticated, and when the stream is gone. */
  authenticated(remote: string, local: string): void;
  closed(stream: IncomingStream): void;
}

const STANZAS = new Set(["message", "presence", "iq"]);
/** Presence entries remembered per incoming stream for the unavailable on loss. */
const PRESENCE_TRACKED = 10_000;
/**
 * Dialback requests one stream may have waiting for their verification (each
 * makes us resolve and connect to the claimed domain), and domain pairs one
 * stream may authenticate (XEP-0220 §4.2 multiplexing): past them, dialback
 * errors, not more connections.
 */
const PENDING_DIALBACK = 4;
const PAIRS_PER_STREAM = 64;

export class IncomingStream {
  readonly id: string;
  /** "remote local" pairs this stream may carry stanzas for. */
  private readonly pairs = new Set<string>();
  private readonly unauthTimer: NodeJS.Timeout;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Last element received that was not a ping or a ping's answer (XEP-0199 §4.2): those keep no stream from its idle close. */
  private lastUsed = Date.now();
  private gone = false;
  /** Dialback requests waiting for their verification. */
  private pending = 0;
  /** The peer closed its stream (</stream:stream>): an orderly end, not a loss. */
  private ended = false;
  /**
   * Available presence that came in on this stream and was not withdrawn yet,
   * as "from-full-JID to-bare-JID" (at most PRESENCE_TRACKED): if the stream is
   * lost, those contacts are unavailable to us (RFC 6121 §4.5.2: the server
   * tells its users when a contact's presence can no longer be known).
   */
  private readonly available = new Map<string, { from: string; to: string }>();

  constructor(readonly stream: S2sStream, id: string, private readonly d: IncomingDeps) {
    this.id = id;
    // An unauthenticated stream is closed after limits.unauthenticatedTimeoutSeconds (as c2s).
    this.unauthTimer = setTimeout(() => {
      if (this.pairs.size === 0) this.fail("connection-timeout", "not authenticated in time");
    }, d.unauthenticatedTimeoutMs);
    this.unauthTimer.unref();
    this.scheduleIdle(d.config.idleSeconds * 1000);
  }

  /** The "remote local" pairs authenticated on this stream. */
  get authenticatedPairs(): readonly string[] {
    return [...this.pairs];
  }

  private scheduleIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const idleFor = Date.now() - this.lastUsed;
      const limit = this.d.config.idleSeconds * 1000;
      if (idleFor < limit) return this.scheduleIdle(limit - idleFor);
      this.stream.close();
    }, ms);
    this.idleTimer.unref();
  }

  /** The domains of the latest stream header (SASL EXTERNAL authenticates this pair). */
  private headerFrom: string | undefined;
  private headerTo: string | undefined;
  /** SASL succeeded on this connection: not offered again after the restart. */
  private saslDone = false;
  /** Our header for the current stream went out (a new stream after TLS or SASL needs its own). */
  private opened = false;

  /**
   * RFC 6120 §13.7.1.2, XEP-0178 §2: the peer's TLS certificate verified (the
   * trust store: s2s.ca_file, else the system's) and names `domain`.
   */
  private certificateNames(domain: string): boolean {
    const socket = this.stream.tlsSocket;
    if (!socket?.encrypted) return false;
    const peer = socket.getPeerCertificate(true);
    if (Object.keys(peer).length === 0) return false;
    const verified = chainVerifies(peerChain(peer), this.d.anchors()) && certificateNames(peer.raw, domain);
    if (!verified) this.d.log.debug("s2s peer certificate does not verify for its domain", { stream: this.id, domain });
    return verified;
  }

  header(attrs: Record<string, string>, defaultNs: string | undefined): void {
    const to = attrs.to?.toLowerCase();
    const from = attrs.from?.toLowerCase();
    this.headerFrom = from;
    this.headerTo = to;
    const reply: { from?: string; to?: string; id: string } = { id: this.id };
    if (to !== undefined) reply.from = to;
    if (from !== undefined) reply.to = from;
    this.stream.openStream(reply);
    this.opened = true;
    // RFC 6120 §4.8.2, §4.9.3.10: the content namespace of an s2s stream is jabber:server.
    if (defaultNs !== NS_SERVER) return this.fail("invalid-namespace", "a server-to-server stream is in jabber:server");
    if (to !== undefined && !this.d.isLocal(to)) return this.fail("host-unknown", `${to} is not served here`);
    if (from !== undefined && this.d.blocked(from)) return this.fail("policy-violation", `federation with ${from} is disabled here`);
    if (attrs.version === undefined) return; // pre-RFC 3920 peer: dialback without features
    const features: XmlElement[] = [];
    const tlsRequired = this.d.config.requireTls && !(from !== undefined && this.d.config.insecureDomains.includes(from));
    if (!this.stream.secure) features.push(el("starttls", NS.tls, {}, tlsRequired ? el("required", NS.tls) : undefined));
    if (!this.saslDone && from !== undefined && this.certificateNames(from)) {
      features.push(el("mechanisms", NS.sasl, {}, el("mechanism", NS.sasl, {}, "EXTERNAL")));
    }
    if (this.stream.secure || !tlsRequired) features.push(el("dialback", NS_DIALBACK_FEATURE, {}, el("errors", NS_DIALBACK_FEATURE)));
    this.stream.send(el("features", NS.stream, {}, ...features));
  }

  element(e: XmlElement): void {
    if (!(e.ns === NS_SERVER && isKeepalive(e))) this.lastUsed = Date.now();
    if (e.is("starttls", NS.tls)) return this.startTls();
    if (e.is("auth", NS.sasl)) return this.saslExternal(e);
    if (e.is("result", NS_DIALBACK)) return void this.dialbackResult(e);
    if (e.is("verify", NS_DIALBACK)) return this.dialbackVerify(e);
    if (e.ns === NS_SERVER && STANZAS.has(e.name)) return this.stanza(e);
    if (e.is("error", NS.stream)) {
      this.d.log.info("s2s peer sent a stream error", { stream: this.id, condition: e.firstElement()?.name });
      return this.stream.close();
    }
    this.fail("unsupported-stanza-type", `<${e.name}/> in ${e.ns} is not understood on this stream`);
  }

  private startTls(): void {
    if (this.stream.secure) return this.fail("policy-violation", "TLS is already in place");
    this.stream.write(`<proceed xmlns='${NS.tls}'/>`);
    this.opened = false;
    this.stream.startTls({ server: this.d.tlsContext }).catch((err: Error) => {
      this.d.log.debug("s2s TLS failed", { stream: this.id, error: err.message });
      this.stream.destroy();
    });
  }

  private tlsMissing(remote: string): boolean {
    return !this.stream.secure && this.d.config.requireTls && !this.d.config.insecureDomains.includes(remote);
  }

  /**
   * XEP-0178 §2: SASL EXTERNAL with the certificate. The authorization identity
   * is the header's `from` (sent, or "=" for none); it must be the domain the
   * verified certificate names.
   */
  private saslExternal(auth: XmlElement): void {
    const failure = (condition: string) => this.stream.send(el("failure", NS.sasl, {}, el(condition, NS.sasl)));
    const from = this.headerFrom;
    const to = this.headerTo;
    if (auth.attrs.mechanism !== "EXTERNAL" || this.saslDone) return failure("invalid-mechanism");
    if (from === undefined || to === undefined || !this.d.isLocal(to) || this.d.blocked(from)) return failure("not-authorized");
    const text = auth.text().trim();
    const authzid = text === "" || text === "=" ? from : Buffer.from(text, "base64").toString("utf8").toLowerCase();
    if (authzid !== from) return failure("invalid-authzid");
    if (!this.certificateNames(from)) return failure("not-authorized");
    this.saslDone = true;
    this.pairs.add(`${from} ${to}`);
    clearTimeout(this.unauthTimer);
    this.d.log.info("s2s stream authenticated", { from, to, direction: "incoming", by: "sasl-external", stream: this.id });
    this.stream.send(el("success", NS.sasl));
    // RFC 6120 §6.4.6: the peer opens a new stream on the same connection.
    this.stream.resetParser();
    this.opened = false;
    this.d.authenticated(from, to);
  }

  /** XEP-0220 §2.2: the sender asks to be trusted as `from` for `to`; we ask `from`'s server (§2.3). */
  private async dialbackResult(r: XmlElement): Promise<void> {
    const from = tryParseJid(r.attrs.from ?? "");
    const to = tryParseJid(r.attrs.to ?? "");
    if (!from || !to || from.local !== "" || from.resource !== "" || to.local !== "" || to.resource !== "") return this.fail("improper-addressing", "db:result needs from and to domains");
    const remote = from.domain;
    const local = to.domain;
    const answer = (type: "valid" | "invalid" | "error", error?: XmlElement) => this.stream.send(el("result", NS_DIALBACK, { from: local, to: remote, type }, error));
    if (!this.d.isLocal(local)) return answer("error", el("error", NS.client, { type: "cancel" }, el("item-not-found", NS.stanzas)));
    if (this.d.blocked(remote)) return answer("error", el("error", NS.client, { type: "cancel" }, el("not-allowed", NS.stanzas)));
    if (this.tlsMissing(remote)) return this.fail("policy-violation", "TLS is required before dialback");
    if (this.pending >= PENDING_DIALBACK || this.pairs.size >= PAIRS_PER_STREAM) {
      return answer("error", el("error", NS.client, { type: "wait" }, el("resource-constraint", NS.stanzas)));
    }
    this.pending++;
    const outcome = await this.d.verify(local, remote, this.id, r.text()).finally(() => this.pending--);
    if (this.gone) return;
    if (outcome === "valid") {
      this.pairs.add(`${remote} ${local}`);
      clearTimeout(this.unauthTimer);
      this.d.log.info("s2s stream authenticated", { from: remote, to: local, direction: "incoming", stream: this.id });
      answer("valid");
      this.d.authenticated(remote, local);
      return;
    }
    if (outcome === "invalid") {
      answer("invalid");
      return this.fail("not-authorized", `${remote} did not confirm the dialback key`);
    }
    answer("error", el("error", NS.client, { type: "cancel" }, el("remote-server-not-found", NS.stanzas)));
  }

  /** XEP-0220 §2.4: whether we made this key for a stream of ours to `from`. */
  private dialbackVerify(v: XmlElement): void {
    const receiving = v.attrs.from?.toLowerCase();
    const originating = v.attrs.to?.toLowerCase();
    const id = v.attrs.id;
    if (receiving === undefined || originating === undefined || id === undefined) return this.fail("improper-addressing", "db:verify needs from, to and id");
    // As for db:result: with s2s.require_tls nothing but STARTTLS is offered on a plain stream (RFC 6120 §5.3.1),
    // and an answer about our keys is not given in the clear either.
    if (this.tlsMissing(receiving)) return this.fail("policy-violation", "TLS is required before dialback");
    if (!this.d.isLocal(originating)) {
      this.stream.send(el("verify", NS_DIALBACK, { from: originating, to: receiving, id, type: "error" },
        el("error", NS.client, { type: "cancel" }, el("item-not-found", NS.stanzas))));
      return;
    }
    const valid = dialbackKeyValid(this.d.secret, receiving, originating, id, v.text());
    this.stream.send(el("verify", NS_DIALBACK, { from: originating, to: receiving, id, type: valid ? "valid" : "invalid" }));
  }

  private stanza(s: XmlElement): void {
    const from = tryParseJid(s.attrs.from ?? "");
    const to = tryParseJid(s.attrs.to ?? "");
    if (this.pairs.size === 0) return this.fail("not-authorized", "authenticate (dialback) before sending stanzas");
    // RFC 6120 §8.1.2.2: on s2s every stanza has from and to; §4.9.3.9: from a domain the stream authenticated.
    if (!from) return this.fail("invalid-from", `'${s.attrs.from ?? ""}' is not a JID this stream may send from`);
    if (!to) return this.fail("improper-addressing", `'${s.attrs.to ?? ""}' is not a JID`);
    if (!this.pairs.has(`${from.domain} ${to.domain}`)) {
      if (!this.d.isLocal(to.domain)) return this.fail("host-unknown", `${to.domain} is not served here`);
      return this.fail("invalid-from", `this stream has not authenticated ${from.domain} for ${to.domain}`);
    }
    if (s.name === "presence") this.trackPresence(s.attrs.type, from.toString(), to.bareString());
    // JIDs normalised at the edge, as c2s does (RFC 7622 preparation).
    this.d.route(renamespace(s, NS_SERVER, NS.client).withAttrs({ from: from.toString(), to: to.toString() }));
  }

  private trackPresence(type: string | undefined, from: string, to: string): void {
    const key = `${from} ${to}`;
    if (type === "unavailable") this.available.delete(key);
    else if (type === undefined && this.available.size < PRESENCE_TRACKED) this.available.set(key, { from, to });
  }

  /** The peer sent </stream:stream>. */
  peerEnded(): void {
    this.ended = true;
  }

  fail(condition: StreamErrorCondition, text: string): void {
    this.d.log.info("closing an s2s stream", { stream: this.id, condition, reason: text });
    // RFC 6120 §4.9.1.2: an error before the peer's header (bad XML, a timeout) still follows a header of ours.
    if (!this.opened) this.stream.openStream({ id: this.id });
    this.opened = true;
    this.stream.fail(condition, text);
  }

  closed(): void {
    if (this.gone) return;
    this.gone = true;
    clearTimeout(this.unauthTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.d.closed(this);
    // Lost without </stream:stream> (a dropped connection, a crashed peer): every
    // contact whose availability came this way is unavailable now. An orderly close
    // (the peer's idle timeout) says nothing about presence, and the peer's own
    // unavailable presence comes before a shutdown.
    if (!this.ended) {
      for (const { from, to } of this.available.values()) this.d.route(el("presence", NS.client, { from, to, type: "unavailable" }));
    }
    this.available.clear();
  }
}
