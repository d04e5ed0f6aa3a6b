// Server side of SCRAM-SHA-1 (RFC 5802 §3, §5, §7) and SCRAM-SHA-256 (RFC 7677),
// and their -PLUS variants with channel binding (§6; tls-exporter, RFC 9266;
// tls-server-end-point, RFC 5929). Plain SCRAM takes the gs2 flag "n" or "y"
// ("y" is refused as a downgrade when -PLUS is offered); -PLUS takes only
// "p=<type>" for a binding type this connection has, and c= must then carry the
// gs2 header followed by that binding's data.
//
// Login never re-derives keys: the client's proof is checked with StoredKey and
// the server's signature made with ServerKey (§3). An unknown user gets a
// plausible salt and iteration count and fails only at the proof, so that the
// first exchange does not tell whether an account exists.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { digest, digestOf, fakeCredential, hmac, type ScramCredential, type ScramHash } from "./credentials.js";
import type { CredentialLookup, SaslFailure, SaslFailureCondition, SaslServerMechanism, SaslStep } from "./mechanism.js";

export interface ScramOptions {
  /** Makes the server's part of the nonce (printable ASCII without ","); random by default. Tests only. */
  nonce?: () => string;
  /**
   * Whether -PLUS mechanisms are advertised on this connection. A client that
   * supports channel binding but sends "y" (thinking the server does not) is
   * then under a downgrade attack and must be refused (RFC 5802 §6).
   */
  channelBindingAdvertised?: boolean;
  /** For a -PLUS mechanism: the channel bindings of this connection, by type name. */
  channelBindings?: Readonly<Record<string, Buffer>>;
}

/** Longer client messages are refused; real ones are a few hundred octets. */
const MAX_MESSAGE_OCTETS = 4096;
const SERVER_NONCE_OCTETS = 18;

type State =
  | { phase: "initial"; askedForResponse: boolean }
  | {
      phase: "awaiting-final";
      gs2Header: string;
      /** The binding data c= must carry after the gs2 header (empty without channel binding). */
      bindingData: Buffer;
      username: string;
      authzid: string | undefined;
      nonce: string;
      clientFirstBare: string;
      serverFirst: string;
      credential: ScramCredential;
      /** false when the user does not exist and `credential` is a decoy */
      known: boolean;
    }
  | { phase: "done" };

class Failure {
  constructor(
    readonly condition: SaslFailureCondition,
    readonly text: string,
    /**
     * Grows the brute-force delay: a wrong proof, or binding data of another
     * connection (a man in the middle); refusals of the first message check no password.
     */
    readonly counts = false,
    readonly cause?: SaslFailure["cause"],
  ) {}

  step(): SaslFailure {
    return { kind: "failure", condition: this.condition, text: this.text, counts: this.counts, ...(this.cause ? { cause: this.cause } : {}) };
  }
}

export class ScramServerMechanism implements SaslServerMechanism {
  readonly name: string;
  attemptedUsername: string | undefined;
  #state: State = { phase: "initial", askedForResponse: false };

  constructor(
    readonly hash: ScramHash,
    private readonly lookup: CredentialLookup,
    private readonly options: ScramOptions = {},
    private readonly plus = false,
  ) {
    this.name = `SCRAM-${hash}${plus ? "-PLUS" : ""}`;
  }

  step(input: Buffer): SaslStep {
    const state = this.#state;
    // Whatever the outcome of this message, only "challenge" keeps the exchange open.
    this.#state = { phase: "done" };
    try {
      switch (state.phase) {
        case "initial":
          // RFC 6120 §6.4.2: no initial response, so ask for it with an empty challenge (once).
          if (input.length === 0 && !state.askedForResponse) {
            this.#state = { phase: "initial", askedForResponse: true };
            return { kind: "challenge", data: Buffer.alloc(0) };
          }
          return this.#clientFirst(input);
        case "awaiting-final":
          return this.#clientFinal(state, input);
        case "done":
          throw new Failure("malformed-request", "the exchange is already over");
      }
    } catch (err) {
      if (err instanceof Failure) return err.step();
      throw err;
    }
  }

  #clientFirst(input: Buffer): SaslStep {
    const text = decodeMessage(input);
    // client-first-message = gs2-header client-first-message-bare (§7)
    const c1 = text.indexOf(",");
    const c2 = c1 < 0 ? -1 : text.indexOf(",", c1 + 1);
    if (c2 < 0) throw malformed("missing GS2 header");
    const flag = text.slice(0, c1);
    let bindingData: Buffer = Buffer.alloc(0);
    if (this.plus) {
      if (!flag.startsWith("p=")) throw malformed(`${this.name} needs channel binding (p=<type>)`);
      const type = flag.slice(2);
      const data = this.options.channelBindings?.[type];
      if (!data) throw new Failure("malformed-request", `channel binding type '${type}' is not available on this connection`);
      bindingData = data;
    } else if (flag.startsWith("p=")) {
      throw new Failure("malformed-request", `channel binding needs ${this.name}-PLUS`);
    } else if (flag !== "n" && flag !== "y") {
      throw malformed(`invalid channel binding flag '${flag}'`);
    }
    if (flag === "y" && this.options.channelBindingAdvertised) {
      // RFC 5802 §6: "y" says the client could bind but saw no -PLUS offered; we
      // offered it, so someone may have stripped it (XEP-0440 §4). Refused before
      // any password is checked or any account looked up, so it tells a guesser
      // nothing and does not count toward the brute-force delay: clients that know
      // only tls-unique (undefined under TLS 1.3, RFC 9266) send it, then retry.
      const types = Object.keys(this.options.channelBindings ?? {}).join(", ") || "none on this connection";
      throw new Failure("not-authorized",
        `channel binding downgrade refused: the client says it saw no channel binding (gs2 flag 'y'), ` +
        `but SCRAM-*-PLUS is offered with ${types} (RFC 5802 §6); a client that cannot bind with these sends 'n'`,
        false, "channel-binding-downgrade");
    }
    const authzField = text.slice(c1 + 1, c2);
    let authzid: string | undefined;
    if (authzField !== "") {
      if (!authzField.startsWith("a=")) throw malformed("invalid authorization identity field");
      authzid = decodeSaslname(authzField.slice(2), "authorization identity");
    }
    const gs2Header = text.slice(0, c2 + 1);
    const clientFirstBare = text.slice(c2 + 1);

    const attrs = clientFirstBare.split(",");
    const [user, nonceAttr, ...extensions] = attrs;
    if (user?.startsWith("m=")) throw malformed("mandatory extension 'm' is not supported");
    if (!user?.startsWith("n=")) throw malformed("missing username");
    const username = decodeSaslname(user.slice(2), "username");
    this.attemptedUsername = username;
    if (!nonceAttr?.startsWith("r=")) throw malformed("missing nonce");
    const clientNonce = nonceAttr.slice(2);
    if (!isNonce(clientNonce)) throw malformed("invalid nonce");
    checkExtensions(extensions);

    const serverNonce = this.options.nonce?.() ?? randomBytes(SERVER_NONCE_OCTETS).toString("base64");
    if (!isNonce(serverNonce)) throw new Error("the server nonce generator made an invalid nonce");
    const nonce = clientNonce + serverNonce;

    const found = this.#lookup(username);
    const credential = found ?? fakeCredential(username, this.hash);
    const serverFirst = `r=${nonce},s=${credential.salt},i=${credential.iterations}`;
    this.#state = {
      phase: "awaiting-final",
      gs2Header,
      bindingData,
      username,
      authzid,
      nonce,
      clientFirstBare,
      serverFirst,
      credential,
      known: found !== undefined,
    };
    return { kind: "challenge", data: Buffer.from(serverFirst, "utf8") };
  }

  #clientFinal(state: Extract<State, { phase: "awaiting-final" }>, input: Buffer): SaslStep {
    const text = decodeMessage(input);
    // client-final-message = client-final-message-without-proof "," proof; the proof is last (§7).
    const p = text.lastIndexOf(",p=");
    if (p < 0) throw malformed("missing proof");
    const withoutProof = text.slice(0, p);
    const proof = decodeBase64(text.slice(p + 3));
    if (!proof || proof.length !== digestOf(this.hash).octets) throw malformed("invalid proof");

    const [binding, nonceAttr, ...extensions] = withoutProof.split(",");
    if (!binding?.startsWith("c=")) throw malformed("missing channel binding");
    const cbind = decodeBase64(binding.slice(2));
    if (!cbind) throw malformed("invalid channel binding encoding");
    // c= carries the GS2 header of the first message, then any channel binding data (§6, §7).
    const expected = Buffer.concat([Buffer.from(state.gs2Header, "utf8"), state.bindingData]);
    if (cbind.length !== expected.length || !timingSafeEqual(cbind, expected)) {
      throw state.bindingData.length > 0
        ? new Failure("not-authorized", "channel binding data does not match this connection", true)
        : malformed("channel binding does not match the GS2 header");
    }
    if (!nonceAttr?.startsWith("r=")) throw malformed("missing nonce");
    if (nonceAttr.slice(2) !== state.nonce) throw malformed("nonce does not match");
    checkExtensions(extensions);

    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(state.credential.storedKey, "base64");
    // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the client knows the
    // password iff H(ClientKey) = StoredKey (§3).
    const clientSignature = hmac(this.hash, storedKey, authMessage);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ clientSignature[i];
    const candidate = digest(this.hash, clientKey);
    const matches = candidate.length === storedKey.length && timingSafeEqual(candidate, storedKey);
    if (!matches || !state.known) throw new Failure("not-authorized", "authentication failed", true);

    const serverSignature = hmac(this.hash, Buffer.from(state.credential.serverKey, "base64"), authMessage);
    const serverFinal = `v=${serverSignature.toString("base64")}`;
    return {
      kind: "success",
      data: Buffer.from(serverFinal, "utf8"),
      username: state.username,
      ...(state.authzid !== undefined ? { authzid: state.authzid } : {}),
    };
  }

  /** The stored credential, checked for shape so that a corrupt one fails cleanly rather than as a wrong proof. */
  #lookup(username: string): ScramCredential | undefined {
    let found: ScramCredential | undefined;
    try {
      found = this.lookup(username, this.hash);
    } catch {
      throw new Failure("temporary-auth-failure", "credentials could not be read");
    }
    if (found === undefined) return undefined;
    const octets = digestOf(this.hash).octets;
    const usable =
      found.hash === this.hash &&
      Number.isSafeInteger(found.iterations) &&
      found.iterations > 0 &&
      (decodeBase64(found.salt)?.length ?? 0) > 0 &&
      decodeBase64(found.storedKey)?.length === octets &&
      decodeBase64(found.serverKey)?.length === octets;
    if (!usable) throw new Failure("temporary-auth-failure", "stored credentials are unusable");
    return found;
  }
}

function malformed(text: string): Failure {
  return new Failure("malformed-request", text);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeMessage(input: Buffer): string {
  if (input.length === 0) throw malformed("empty message");
  if (input.length > MAX_MESSAGE_OCTETS) throw malformed("message too long");
  try {
    return utf8.decode(input);
  } catch {
    throw malformed("message is not UTF-8");
  }
}

/**
 * saslname (§7): "," and "=" appear only as "=2C" and "=3D"; any other "=" is an
 * error the server must treat as a failure (§5.1).
 */
function decodeSaslname(value: string, what: string): string {
  if (value === "" || !/^(?:[^=,\0]|=2C|=3D)+$/.test(value)) throw malformed(`invalid ${what}`);
  return value.replace(/=2C|=3D/g, (e) => (e === "=2C" ? "," : "="));
}

/** printable = %x21-2B / %x2D-7E: visible ASCII except "," (§7). */
function isNonce(s: string): boolean {
  return /^[\x21-\x2B\x2D-\x7E]+$/.test(s);
}

/** Optional extensions (§7: attr-val) are ignored, but must at least look like attributes. */
function checkExtensions(extensions: string[]): void {
  for (const ext of extensions) {
    if (!/^[A-Za-z]=/.test(ext)) throw malformed("invalid attribute");
  }
}

/** Strict base64 (Buffer.from silently skips junk); undefined when not canonical base64. */
function decodeBase64(s: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return undefined;
  return Buffer.from(s, "base64");
}
