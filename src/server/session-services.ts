// What session actors need from the server around them (SessionEnvironment):
// which mechanisms to offer, credentials, the account actor of a user, SASL
// failure counts, and registration before login.
import type { XmlElement } from "../xml/element.js";
import { tryParseJid } from "../jid/jid.js";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";
import type { EventStore } from "../events/store.js";
import { errorReply } from "../xmpp/errors.js";
import { getCredential, accountExists } from "../accounts/account-service.js";
import type { AnyActorRef } from "xstate";
import type { SessionStarter } from "../net/c2s-listener.js";
import type { OutputGate } from "../net/connection.js";
import type { AccountRef } from "../actors/account-types.js";
import type { StreamPort } from "../actors/stream-port.js";
import { SUPPORTED_MECHANISMS, CHANNEL_BINDING_MECHANISMS, type CredentialLookup } from "../sasl/mechanism.js";
import type { HookBus } from "../kernel/hooks.js";
import { AuthFailureTracker } from "./auth-failures.js";
import { loadOrCreateSecret } from "./server-secret.js";
import { fakeCredential } from "../sasl/credentials.js";
import { createHmac, randomBytes } from "node:crypto";
import { el } from "../xml/element.js";
import { NS_SM } from "../actors/stream-management.js";
import { NS } from "../xmpp/namespaces.js";
import type { Jid } from "../jid/jid.js";
import type { SaslServerMechanism } from "../sasl/mechanism.js";
import type { Sasl2Request } from "../xmpp/sasl2-elements.js";
import { FastTokenStore, type FastToken } from "../sasl/fast-tokens.js";
import { HT_MECHANISMS, HtServerMechanism, htMechanismsFor, isHtMechanism } from "../sasl/ht.js";
import type { ConnectionObservers } from "../net/port-observer.js";
import type { StreamManagementService } from "../actors/session-environment.js";
import { ManagedStreamRegistry } from "../actors/stream-management.js";

export interface SessionServicesDeps {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly store: EventStore;
  readonly hooks: HookBus;
  readonly domains: ReadonlySet<string>;
  readonly commitGate: OutputGate;
  readonly connections?: ConnectionObservers;
  account(bareJid: string): AccountRef;
  sessionClosed(sessionId: string): void;
  startSession(sessionId: string, conn: StreamPort, env: SessionStarter): AnyActorRef;
}

export class SessionServices implements SessionStarter {
  readonly config: ServerConfig;
  readonly commitGate: OutputGate;
  readonly log: Logger;
  readonly defaultDomain: string;
  readonly connections: ConnectionObservers | undefined;
  /** XEP-0198, when the stream_management module is enabled: resumable streams live as long as the server. */
  readonly streamManagement: StreamManagementService | undefined;
  /** XEP-0352, when the csi module is enabled. */
  readonly csiMaxQueue: number | undefined;
  private readonly authFailures = new AuthFailureTracker();
  private readonly fakeKey: Buffer;
  /** Derives Bind2 resources from user-agent ids (XEP-0386 §3), the same after a restart. */
  private readonly bind2Key: Buffer;
  /** XEP-0484 tokens; undefined when FAST is off. */
  private readonly fastTokens: FastTokenStore | undefined;

  constructor(private readonly deps: SessionServicesDeps) {
    this.config = deps.config;
    this.log = deps.log;
    this.commitGate = deps.commitGate;
    this.connections = deps.connections;
    this.fakeKey = loadOrCreateSecret(deps.store.db, "fake-scram-key");
    this.bind2Key = loadOrCreateSecret(deps.store.db, "bind2-resource-key");
    const fast = deps.config.fast;
    if (fast.enabled) {
      const tokens = new FastTokenStore(deps.store.db, {
        ttlSeconds: fast.tokenSeconds, rotateAfterSeconds: fast.rotateAfterSeconds, maxUserAgents: fast.maxUserAgents,
      });
      this.fastTokens = tokens;
      deps.hooks.on("account-deleted", ({ jid }) => tokens.revokeAccount(jid.bareString()), 0, "fast");
    }
    this.defaultDomain = deps.config.domains[0] ?? "localhost";
    const sm = deps.config.streamManagement;
    this.streamManagement = deps.config.modulesEnabled.includes("stream_management")
      ? {
        registry: new ManagedStreamRegistry(), timeoutSeconds: sm.timeoutSeconds, maxQueue: sm.maxQueue,
        detached: (jid) => deps.hooks.fire("session/detached", { bareJid: jid.bareString(), resource: jid.resource ?? "" }),
        resumed: (jid) => deps.hooks.fire("session/resumed", { bareJid: jid.bareString(), resource: jid.resource ?? "" }),
      }
      : undefined;
    this.csiMaxQueue = deps.config.modulesEnabled.includes("csi") ? sm.csiMaxQueue : undefined;
  }

  servesDomain(domain: string): boolean {
    return this.deps.domains.has(domain);
  }

  /** RFC 6120 §6.4.1: no mechanisms are offered where authentication is not allowed yet. */
  mechanismsFor(conn: StreamPort): string[] {
    if (!this.mayAuthenticate(conn)) return [];
    const plus = conn.secure && Object.keys(conn.channelBindings()).length > 0;
    return plus ? [...CHANNEL_BINDING_MECHANISMS, ...SUPPORTED_MECHANISMS] : [...SUPPORTED_MECHANISMS];
  }

  /** TLS first (RFC 6120 §5.3.1); loopback counts as secure unless encryption is required. */
  mayAuthenticate(conn: StreamPort): boolean {
    return conn.secure || (conn.isLoopback && !this.config.tls.requireEncryption);
  }

  /**
   * Credentials for a login; an unknown user gets fake ones derived from the
   * server's lasting secret with the configured iteration count, so neither
   * the salt (across restarts) nor the count tells unknown from real.
   */
  credentialLookup(domain: string): CredentialLookup {
    return (username, hash) => {
      const jid = tryParseJid(`${username}@${domain}`);
      const real = jid && jid.resource === "" ? getCredential(this.deps.store.db, jid.bareString(), hash) : undefined;
      if (real) return real;
      // An account without keys for this hash (imported from Prosody: SCRAM-SHA-1 only) is no
      // unknown user: undefined lets PLAIN try its other hash, and SCRAM fails as for a wrong password.
      if (jid && jid.resource === "" && accountExists(this.deps.store.db, jid.bareString())) return undefined;
      return fakeCredential(jid?.bareString() ?? `${username}@${domain}`, hash, { key: this.fakeKey, iterations: this.config.scramIterations });
    };
  }

  account(bareJid: string): AccountRef {
    return this.deps.account(bareJid);
  }

  noteAuthFailure(address: string, account: string | undefined): void {
    this.authFailures.note(`address ${address}`);
    // Per account too, so that guessing one account's password from many addresses slows down as well.
    if (account !== undefined) this.authFailures.note(`account ${account}`);
  }

  /**
   * A temporary lockout: after `account_lockout_failures` failures for one
   * account, from anywhere, within the failure window (10 minutes after the
   * last), every login to it fails until the window passes.
   */
  accountLockedFor(account: string): number {
    return this.authFailures.lockedFor(`account ${account}`, this.config.limits.accountLockoutFailures);
  }

  authFailuresFor(address: string, account: string | undefined): number {
    const byAddress = this.authFailures.count(`address ${address}`);
    return account === undefined ? byAddress : Math.max(byAddress, this.authFailures.count(`account ${account}`));
  }

  sessionClosed(sessionId: string): void {
    this.deps.sessionClosed(sessionId);
  }

  /** A session actor for a new connection (called by the listeners). */
  startSession(sessionId: string, conn: StreamPort): AnyActorRef {
    return this.deps.startSession(sessionId, conn, this);
  }

  moduleFeatures(stage: "pre-auth" | "post-auth", authenticating: boolean, domain: string): XmlElement[] {
    const features: XmlElement[] = [];
    this.deps.hooks.fire("stream-features", { stage, authenticating, features, domain });
    return features;
  }

  /** XEP-0077 before authentication: the registration module answers, if loaded. */
  preAuthRegistration(domain: string, iq: XmlElement, address: string): XmlElement {
    let reply: XmlElement | undefined;
    this.deps.hooks.fire("pre-auth/register", { domain, iq, address, respond: (r) => { reply = r; } });
    return reply ?? errorReply(iq, { condition: "service-unavailable", text: "In-band registration is not enabled on this server" }, domain);
  }

  /** XEP-0388 §2.1: Bind2 with the features modules enable inline (XEP-0386 §2), and FAST's mechanisms (XEP-0484 §3.1). */
  sasl2Inline(conn: StreamPort): XmlElement[] {
    const features: string[] = [];
    this.deps.hooks.fire("bind2/features", { features });
    // XEP-0198 is the session's own (src/actors/stream-management.ts): <enable/> inline when offered.
    if (this.streamManagement) features.push(NS_SM);
    const fast = this.fastMechanismsFor(conn);
    return [
      el("bind", NS.bind2, {}, el("inline", NS.bind2, {}, ...features.map((v) => el("feature", NS.bind2, { var: v })))),
      ...(fast.length > 0 ? [el("fast", NS.fast, {}, ...fast.map((m) => el("mechanism", NS.fast, {}, m)))] : []),
      // XEP-0198 resumption inline in SASL2's <authenticate/>.
      ...(this.streamManagement ? [el("sm", NS_SM)] : []),
    ];
  }

  fastMechanismsFor(conn: StreamPort): string[] {
    if (!this.fastTokens || !this.mayAuthenticate(conn)) return [];
    return htMechanismsFor(conn.channelBindings());
  }

  createFastMechanism(name: string, domain: string, userAgentId: string, conn: StreamPort): SaslServerMechanism | undefined {
    const tokens = this.fastTokens;
    if (!tokens || !isHtMechanism(name) || !this.fastMechanismsFor(conn).includes(name)) return undefined;
    const type = HT_MECHANISMS[name];
    const cbData = type === undefined ? Buffer.alloc(0) : conn.channelBindings()[type];
    return new HtServerMechanism(name, (username) => {
      const jid = tryParseJid(`${username}@${domain}`);
      return jid && jid.resource === "" ? tokens.usable(jid.bareString(), userAgentId, name, new Date()) : [];
    }, cbData);
  }

  /**
   * XEP-0484 §3.2-§3.5 after a SASL2 success. A token login: `invalidate`
   * revokes the user agent's tokens; the first use of a rotated token retires
   * the old one; a token older than `fast.rotate_after_seconds` (or a new
   * <request-token/>) gets a successor, the old one valid until it is used.
   * A password login with <request-token/> gets a fresh token for that mechanism.
   */
  fastAfterSuccess(user: Jid, request: Sasl2Request, mechanism: SaslServerMechanism | undefined, conn: StreamPort): XmlElement | undefined {
    const tokens = this.fastTokens;
    const userAgent = request.userAgentId;
    if (!tokens || userAgent === undefined) return undefined;
    const account = user.bareString();
    const now = new Date();
    if (mechanism instanceof HtServerMechanism && mechanism.matched) {
      const used = mechanism.matched;
      if (request.invalidateToken) {
        tokens.revoke(account, userAgent);
        return undefined;
      }
      if (used.slot === "next") tokens.promote(account, userAgent);
      const due = now.getTime() - Date.parse(used.issuedAt) >= this.config.fast.rotateAfterSeconds * 1000;
      return due || request.requestToken !== undefined ? tokenElement(tokens.issue(account, userAgent, used.mechanism, now, "next")) : undefined;
    }
    const wanted = request.requestToken;
    if (wanted === undefined || !this.fastMechanismsFor(conn).includes(wanted)) return undefined;
    return tokenElement(tokens.issue(account, userAgent, wanted, now, "current"));
  }

  /**
   * XEP-0386 §3: "<tag>.<8 hex digits>", the digits a keyed hash of the user
   * and the user-agent id, so that a device reconnecting gets its old
   * resource (and replaces a stale session on it); random without an id.
   */
  bind2Resource(user: Jid, userAgentId: string | undefined, tag: string | undefined): string {
    const base = (tag ?? "").replace(/[\s/@"'<>&]+/g, "-").slice(0, 32) || "parley";
    const suffix = userAgentId === undefined
      ? randomBytes(4).toString("hex")
      : createHmac("sha256", this.bind2Key).update(`${user.bareString()}\0${userAgentId}`).digest("hex").slice(0, 8);
    return `${base}.${suffix}`;
  }
}

/** XEP-0484 §3.2: the token and when it expires. */
function tokenElement(token: FastToken): XmlElement {
  return el("token", NS.fast, { token: token.token, expiry: token.expiresAt });
}
