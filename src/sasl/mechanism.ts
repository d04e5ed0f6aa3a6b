// The server side of a SASL exchange as RFC 6120 §6.4 drives it: the stream
// layer hands each decoded <auth/>/<response/> payload to `step` and turns the
// answer into <challenge/>, <success/> or <failure/> (conditions of §6.5).
// Mechanisms: SCRAM-SHA-256 (RFC 7677), SCRAM-SHA-1 (RFC 5802), PLAIN (RFC 4616).
import type { ScramCredential, ScramHash } from "./credentials.js";
import { PlainServerMechanism } from "./plain.js";
import { ScramServerMechanism, type ScramOptions } from "./scram.js";

export type SaslStep =
  | { kind: "challenge"; data: Buffer }
  | { kind: "success"; data?: Buffer; username: string; authzid?: string }
  | SaslFailure
  /** The outcome needs work off the event loop (PLAIN's key derivation); it arrives later. */
  | { kind: "pending"; outcome: Promise<SettledSaslStep> };

/**
 * A refused step. `counts`: whether it is evidence of a guessed password, and so
 * grows the brute-force delay (RFC 6120 §6.4.5 leaves that policy to the
 * server): a wrong proof or password does; a client mistake, a missing binding
 * type or a refused downgrade, which check no password, do not.
 */
export interface SaslFailure {
  kind: "failure";
  condition: SaslFailureCondition;
  text?: string;
  counts: boolean;
  /** Why, when the log should say more than the condition: the gs2 flag "y" while -PLUS is offered (RFC 5802 §6). */
  cause?: "channel-binding-downgrade";
}

export type SettledSaslStep = Exclude<SaslStep, { kind: "pending" }>;

/** The final outcome of a step, waiting for it when pending. */
export function settle(step: SaslStep): Promise<SettledSaslStep> {
  return step.kind === "pending" ? step.outcome : Promise.resolve(step);
}

/** RFC 6120 §6.5 */
export type SaslFailureCondition =
  | "aborted"
  | "account-disabled"
  | "credentials-expired"
  | "encryption-required"
  | "incorrect-encoding"
  | "invalid-authzid"
  | "invalid-mechanism"
  | "malformed-request"
  | "mechanism-too-weak"
  | "not-authorized"
  | "temporary-auth-failure";

/**
 * One exchange with one client. `step` gets each client message (an empty buffer
 * for an <auth/> without initial response) and is never called again after a
 * success or failure. On success, `username` is the authentication identity as
 * the client sent it (the localpart, not yet prepared) and `authzid` the
 * requested authorization identity, if any: the caller checks it against the
 * user's bare JID (RFC 6120 §6.3.8), which needs the domain this layer does not know.
 */
export interface SaslServerMechanism {
  readonly name: string;
  step(input: Buffer): SaslStep;
  /** The username the client tried, once known: failures are also counted per account. */
  readonly attemptedUsername: string | undefined;
}

/** Looks up the stored credentials of a username (the localpart) for a hash; undefined when no such user. */
export type CredentialLookup = (username: string, hash: ScramHash) => ScramCredential | undefined;

/** Options of a mechanism; `nonce` exists to reproduce the RFC test vectors and is for tests only. */
export type MechanismOptions = ScramOptions;

/** In order of preference, strongest first, as the stream features list them. */
export const SUPPORTED_MECHANISMS: readonly string[] = ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"];

/** Offered only on TLS connections, before the others. */
export const CHANNEL_BINDING_MECHANISMS: readonly string[] = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"];

/** A fresh exchange for a mechanism name; undefined when the name is not supported (→ invalid-mechanism). */
export function createMechanism(
  name: string,
  lookup: CredentialLookup,
  options: MechanismOptions = {},
): SaslServerMechanism | undefined {
  switch (name) {
    case "SCRAM-SHA-256-PLUS":
      return new ScramServerMechanism("SHA-256", lookup, options, true);
    case "SCRAM-SHA-1-PLUS":
      return new ScramServerMechanism("SHA-1", lookup, options, true);
    case "SCRAM-SHA-256":
      return new ScramServerMechanism("SHA-256", lookup, options);
    case "SCRAM-SHA-1":
      return new ScramServerMechanism("SHA-1", lookup, options);
    case "PLAIN":
      return new PlainServerMechanism(lookup);
    default:
      return undefined;
  }
}
