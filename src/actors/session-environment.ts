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
}

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
  moduleFeatures(stage: "pre-auth" | "post-auth", authenticating: boolean): XmlElement[];
  /** XEP-0077 before authentication: the reply to a jabber:iq:register IQ. */
  preAuthRegistration(domain: string, iq: XmlElement, address: string): XmlElement;
  /** XEP-0198, when offered (undefined: <enable/> and <resume/> fail). */
  readonly streamManagement?: StreamManagementService;
  /** XEP-0352, when offered: at most this many stanzas held per inactive client (undefined: not offered). */
  readonly csiMaxQueue?: number;
}
