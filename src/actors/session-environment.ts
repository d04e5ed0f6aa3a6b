// What a session actor needs from the server around it, named so the
// machine can be driven by a test double as easily as by the real server.
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";
import type { StreamPort } from "./stream-port.js";
import type { CredentialLookup } from "../sasl/mechanism.js";
import type { AccountRef } from "./account-types.js";
import type { XmlElement } from "../xml/element.js";
import type { ManagedStreamRegistry } from "./stream-management.js";

/** XEP-0198 on this server (the stream_management module): where resumable streams are, and the limits. */
export interface StreamManagementService {
  readonly registry: ManagedStreamRegistry;
  /** Seconds a stream stays resumable: the advertised `max`. */
  readonly timeoutSeconds: number;
  readonly maxQueue: number;
  /** The stream of `jid` lost its connection and waits for a <resume/> (the `session/detached` hook). */
  detached(jid: Jid): void;
  /** The stream of `jid` was resumed on a new connection (the `session/resumed` hook). */
  resumed(jid: Jid): void;
}
import type { Jid } from "../jid/jid.js";
import type { SaslServerMechanism } from "../sasl/mechanism.js";
import type { Sasl2Request } from "../xmpp/sasl2-elements.js";

export interface SessionEnvironment {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly defaultDomain: string;
  servesDomain(domain: string): boolean;
  /** SASL mechanisms offered on this connection, in order of preference. */
  mechanismsFor(conn: StreamPort): string[];
  /** Whether this connection is secure enough to authenticate on. */
  mayAuthenticate(conn: StreamPort): boolean;
  credentialLookup(domain: string): CredentialLookup;
  /** The account actor of a local user, started on demand. */
  account(bareJid: string): AccountRef;
  /** A failed authentication from this address, for this account (when the client named one). */
  noteAuthFailure(address: string, account: string | undefined): void;
  /** Milliseconds an account stays locked after too many recent failures (undefined or 0: not locked). */
  accountLockedFor(account: string): number | undefined;
  /** Recent failures: the larger of the address's and the account's counts. */
  authFailuresFor(address: string, account: string | undefined): number;
  sessionClosed(sessionId: string): void;
  /** Stream features that feature modules add at this stage (RFC 6120 §4.3.2). */
  moduleFeatures(stage: "pre-auth" | "post-auth", authenticating: boolean, domain: string): XmlElement[];
  /** XEP-0077 before authentication: the reply to a jabber:iq:register IQ. */
  preAuthRegistration(domain: string, iq: XmlElement, address: string): XmlElement;
  /** XEP-0198, when offered (undefined: <enable/> and <resume/> fail). */
  readonly streamManagement?: StreamManagementService;
  /** XEP-0352, when offered: at most this many stanzas held per inactive client (undefined: not offered). */
  readonly csiMaxQueue?: number;
  /** XEP-0388 §2.1: the inline features of <authentication/> here (XEP-0386 <bind/>, XEP-0484 <fast/>). */
  sasl2Inline(conn: StreamPort): XmlElement[];
  /** XEP-0484 §3.1: the FAST (HT-*) mechanisms this connection offers. */
  fastMechanismsFor(conn: StreamPort): string[];
  /** XEP-0484 §3.3: a token login's exchange for this user agent; undefined when not offered. */
  createFastMechanism(name: string, domain: string, userAgentId: string, conn: StreamPort): SaslServerMechanism | undefined;
  /**
   * XEP-0484 after a successful SASL2 login with `mechanism`: carries out
   * invalidation and rotation, and returns the <token/> for <success/> when
   * one was asked for or is due.
   */
  fastAfterSuccess(user: Jid, request: Sasl2Request, mechanism: SaslServerMechanism | undefined, conn: StreamPort): XmlElement | undefined;
  /** XEP-0386 §3: the resource for an inline bind, stable for one user agent of one user. */
  bind2Resource(user: Jid, userAgentId: string | undefined, tag: string | undefined): string;
}
