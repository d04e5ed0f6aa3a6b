// The HT (hashed token) SASL mechanisms of draft-schmaus-kitten-sasl-ht, as
// XEP-0484 §4 uses them for FAST tokens: HT-SHA-256-NONE (no channel
// binding), -ENDP (tls-server-end-point, RFC 5929 §4) and -EXPR (tls-exporter,
// RFC 9266). One message each way:
//   client: authcid NUL HMAC-SHA-256(token, "Initiator" || cb-data)
//   server: HMAC-SHA-256(token, "Responder" || cb-data), in <additional-data>
import { createHmac } from "node:crypto";
import type { SaslServerMechanism, SaslStep } from "./mechanism.js";
import { sameMac, type FastToken } from "./fast-tokens.js";

/** The channel binding each HT mechanism uses; NONE uses none (its cb-data is empty). */
export const HT_MECHANISMS = {
  "HT-SHA-256-EXPR": "tls-exporter",
  "HT-SHA-256-ENDP": "tls-server-end-point",
  "HT-SHA-256-NONE": undefined,
} as const satisfies Record<string, string | undefined>;

export type HtMechanismName = keyof typeof HT_MECHANISMS;

export function isHtMechanism(name: string): name is HtMechanismName {
  return Object.hasOwn(HT_MECHANISMS, name);
}

/** The HT mechanisms this connection can offer: NONE always, the bound ones when TLS gives their binding. */
export function htMechanismsFor(bindings: Record<string, Buffer>): HtMechanismName[] {
  return (Object.keys(HT_MECHANISMS) as HtMechanismName[]).filter((m) => {
    const type = HT_MECHANISMS[m];
    return type === undefined || bindings[type] !== undefined;
  });
}

export function htMac(token: string, role: "Initiator" | "Responder", cbData: Buffer): Buffer {
  return createHmac("sha256", Buffer.from(token, "utf8")).update(Buffer.concat([Buffer.from(role), cbData])).digest();
}

/** The tokens the user agent may use for this mechanism, by username (the localpart as sent). */
export type TokenLookup = (username: string) => FastToken[];

export class HtServerMechanism implements SaslServerMechanism {
  attemptedUsername: string | undefined;
  /** The token that matched, after a success (the caller promotes a rotated one). */
  matched: FastToken | undefined;
  private done = false;

  constructor(readonly name: HtMechanismName, private readonly tokens: TokenLookup, private readonly cbData: Buffer | undefined) {}

  step(input: Buffer): SaslStep {
    if (this.done) return { kind: "failure", condition: "malformed-request", counts: false };
    this.done = true;
    const nul = input.indexOf(0);
    if (nul <= 0 || nul === input.length - 1) {
      return { kind: "failure", condition: "malformed-request", text: "Expected authcid NUL hashed-token", counts: false };
    }
    const username = input.subarray(0, nul).toString("utf8");
    const proof = input.subarray(nul + 1);
    this.attemptedUsername = username;
    if (this.cbData === undefined) {
      return { kind: "failure", condition: "mechanism-too-weak", text: "This connection has no channel binding for that mechanism", counts: false };
    }
    const cb = this.cbData;
    const token = this.tokens(username).find((t) => sameMac(htMac(t.token, "Initiator", cb), proof));
    // A wrong token counts like a wrong password: it is a guess at a secret.
    if (!token) return { kind: "failure", condition: "not-authorized", counts: true };
    this.matched = token;
    return { kind: "success", username, data: htMac(token.token, "Responder", cb) };
  }
}
