// Server side of PLAIN (RFC 4616 §2): message = [authzid] NUL authcid NUL passwd.
// The password is checked by re-deriving the stored SCRAM keys (credentials.ts),
// since no cleartext password is stored. The caller decides whether PLAIN may be
// offered at all (RFC 6120 §6.4: not without TLS, outside loopback).
import { fakeCredential, verifyPlainPassword, type ScramCredential } from "./credentials.js";
import type { CredentialLookup, SaslServerMechanism, SaslStep, SettledSaslStep } from "./mechanism.js";

/**
 * RFC 4616 §2 requires accepting up to 255 octets per field; we accept a
 * localpart's worth of authcid (RFC 7622 §3.3), a password of up to 1023 octets
 * and a full JID's worth of authzid, and refuse anything larger outright.
 */
const MAX_AUTHCID_OCTETS = 1023;
const MAX_PASSWORD_OCTETS = 1023;
const MAX_MESSAGE_OCTETS = 3 * 1023 + 2 + MAX_AUTHCID_OCTETS + MAX_PASSWORD_OCTETS + 2;

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class PlainServerMechanism implements SaslServerMechanism {
  readonly name = "PLAIN";
  attemptedUsername: string | undefined;
  #phase: "initial" | "asked" | "done" = "initial";

  constructor(private readonly lookup: CredentialLookup) {}

  step(input: Buffer): SaslStep {
    const phase = this.#phase;
    this.#phase = "done";
    if (phase === "done") return malformed("the exchange is already over");
    // RFC 6120 §6.4.2: no initial response, so ask for it with an empty challenge (once).
    if (phase === "initial" && input.length === 0) {
      this.#phase = "asked";
      return { kind: "challenge", data: Buffer.alloc(0) };
    }
    if (input.length > MAX_MESSAGE_OCTETS) return malformed("message too long");

    const first = input.indexOf(0);
    const second = first < 0 ? -1 : input.indexOf(0, first + 1);
    if (second < 0 || input.indexOf(0, second + 1) >= 0) return malformed("expected exactly two NUL separators");
    const authzidOctets = input.subarray(0, first);
    const authcidOctets = input.subarray(first + 1, second);
    const passwordOctets = input.subarray(second + 1);
    if (authcidOctets.length === 0) return malformed("empty authentication identity");
    if (passwordOctets.length === 0) return malformed("empty password");
    if (authcidOctets.length > MAX_AUTHCID_OCTETS) return malformed("authentication identity too long");
    if (passwordOctets.length > MAX_PASSWORD_OCTETS) return malformed("password too long");
    let authzid: string, authcid: string, password: string;
    try {
      authzid = utf8.decode(authzidOctets);
      authcid = utf8.decode(authcidOctets);
      this.attemptedUsername = authcid;
      password = utf8.decode(passwordOctets);
    } catch {
      return malformed("message is not UTF-8");
    }

    let credential: ScramCredential | undefined;
    try {
      credential = this.lookup(authcid, "SHA-256") ?? this.lookup(authcid, "SHA-1");
    } catch {
      return { kind: "failure", condition: "temporary-auth-failure", text: "credentials could not be read", counts: false };
    }
    // An unknown user costs the same key derivation as a known one, so timing does not tell them apart.
    const outcome = verifyPlainPassword(password, credential ?? fakeCredential(authcid, "SHA-256")).then(
      (ok): SettledSaslStep => ok && credential !== undefined
        ? { kind: "success", username: authcid, ...(authzid !== "" ? { authzid } : {}) }
        : { kind: "failure", condition: "not-authorized", text: "authentication failed", counts: true },
      (): SettledSaslStep => ({ kind: "failure", condition: "temporary-auth-failure", text: "the password could not be checked", counts: false }),
    );
    return { kind: "pending", outcome };
  }
}

function malformed(text: string): SaslStep {
  return { kind: "failure", condition: "malformed-request", text, counts: false };
}
