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
import type { FeatureStage } from "../xmpp/stream-features.js";
import type { ConnectionObservers } from "../net/port-observer.js";

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
  private readonly authFailures = new AuthFailureTracker();
  private readonly fakeKey: Buffer;

  constructor(private readonly deps: SessionServicesDeps) {
    this.config = deps.config;
    this.log = deps.log;
    this.commitGate = deps.commitGate;
    this.connections = deps.connections;
    this.fakeKey = loadOrCreateSecret(deps.store.db, "fake-scram-key");
    this.defaultDomain = deps.config.domains[0] ?? "localhost";
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

  moduleFeatures(stage: FeatureStage, authenticating: boolean): XmlElement[] {
    const features: XmlElement[] = [];
    this.deps.hooks.fire("stream-features", { stage, authenticating, features });
    return features;
  }

  /** XEP-0077 before authentication: the registration module answers, if loaded. */
  preAuthRegistration(domain: string, iq: XmlElement, address: string): XmlElement {
    let reply: XmlElement | undefined;
    this.deps.hooks.fire("pre-auth/register", { domain, iq, address, respond: (r) => { reply = r; } });
    return reply ?? errorReply(iq, { condition: "service-unavailable", text: "In-band registration is not enabled on this server" }, domain);
  }
}
