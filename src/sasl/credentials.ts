// Stored SCRAM credentials: RFC 5802 §3 (SaltedPassword, ClientKey, StoredKey,
// ServerKey) for SCRAM-SHA-1 and RFC 7677 §3 for SCRAM-SHA-256. Only these salted
// keys are ever stored; PLAIN (RFC 4616) is verified by re-deriving them.
//
// Password preparation approximates SASLprep (RFC 4013, which RFC 5802 §2.2
// requires): characters "commonly mapped to nothing" (RFC 3454 B.1) are removed,
// non-ASCII spaces (C.1.2) become U+0020, then NFKC. The prohibited-output,
// unassigned and bidi checks of RFC 4013 §2.3-2.5 are not made: a password with
// such characters is accepted (a SASLprep client would refuse to send it), which
// costs nothing for the passwords both sides prepare alike.
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

export type ScramHash = "SHA-1" | "SHA-256";

export interface ScramCredential {
  hash: ScramHash;
  /** base64 */
  salt: string;
  iterations: number;
  /** base64 of H(ClientKey) */
  storedKey: string;
  /** base64 of HMAC(SaltedPassword, "Server Key") */
  serverKey: string;
}

/** RFC 7677 §4: at least 4096 iterations. */
export const DEFAULT_ITERATIONS = 4096;
export const DEFAULT_SALT_OCTETS = 16;

/** Node's digest name and output length of a SCRAM hash. */
export function digestOf(hash: ScramHash): { name: "sha1" | "sha256"; octets: number } {
  return hash === "SHA-1" ? { name: "sha1", octets: 20 } : { name: "sha256", octets: 32 };
}

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(digestOf(hash).name, key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(digestOf(hash).name).update(data).digest();
}

/** The SASLprep approximation described at the top of this file. */
export function preparePassword(password: string): string {
  return password
    .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, "")
    .replace(/[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g, " ")
    .normalize("NFKC");
}

/** Derives the stored keys for a password; a random salt unless one is given. */
export function deriveScramCredential(
  password: string,
  hash: ScramHash,
  iterations = DEFAULT_ITERATIONS,
  salt: Buffer = randomBytes(DEFAULT_SALT_OCTETS),
): ScramCredential {
  checkDerivationInput(iterations, salt);
  const { name, octets } = digestOf(hash);
  const salted = pbkdf2Sync(passwordOctets(password), salt, iterations, octets, name);
  return credentialFrom(hash, iterations, salt, salted);
}

/**
 * The same on libuv's thread pool: many of these at once use every core and
 * leave the event loop free (bulk account creation).
 */
export function deriveScramCredentialAsync(
  password: string,
  hash: ScramHash,
  iterations = DEFAULT_ITERATIONS,
  salt: Buffer = randomBytes(DEFAULT_SALT_OCTETS),
): Promise<ScramCredential> {
  checkDerivationInput(iterations, salt);
  const { name, octets } = digestOf(hash);
  return new Promise((resolve, reject) => {
    pbkdf2(passwordOctets(password), salt, iterations, octets, name, (err, salted) => {
      if (err) reject(new Error(`deriving a ${hash} credential: ${err.message}`));
      else resolve(credentialFrom(hash, iterations, salt, salted));
    });
  });
}

function checkDerivationInput(iterations: number, salt: Buffer): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`invalid iteration count ${iterations}`);
  if (salt.length === 0) throw new RangeError("empty salt");
}

function passwordOctets(password: string): Buffer {
  return Buffer.from(preparePassword(password), "utf8");
}

function credentialFrom(hash: ScramHash, iterations: number, salt: Buffer, salted: Buffer): ScramCredential {
  const { storedKey, serverKey } = keysFromSalted(hash, salted);
  return {
    hash,
    salt: salt.toString("base64"),
    iterations,
    storedKey: storedKey.toString("base64"),
    serverKey: serverKey.toString("base64"),
  };
}

/**
 * Whether a cleartext password (from PLAIN) matches a stored credential,
 * compared in constant time. The key derivation runs on libuv's thread pool: a
 * login costs the event loop nothing, and logins in parallel use every core.
 */
export function verifyPlainPassword(password: string, cred: ScramCredential): Promise<boolean> {
  const stored = Buffer.from(cred.storedKey, "base64");
  const { name, octets } = digestOf(cred.hash);
  return new Promise((resolve, reject) => {
    // SaltedPassword := Hi(Normalize(password), salt, i), and Hi is PBKDF2 with HMAC (RFC 5802 §2.2).
    pbkdf2(passwordOctets(password), Buffer.from(cred.salt, "base64"), cred.iterations, octets, name, (err, salted) => {
      if (err) return reject(new Error(`verifying a ${cred.hash} password: ${err.message}`));
      const { storedKey } = keysFromSalted(cred.hash, salted);
      resolve(stored.length === storedKey.length && timingSafeEqual(stored, storedKey));
    });
  });
}

function keysFromSalted(hash: ScramHash, salted: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(hash, salted, "Client Key");
  return { storedKey: digest(hash, clientKey), serverKey: hmac(hash, salted, "Server Key") };
}

// The key of this process for credentials of users that do not exist, when
// the caller has no lasting server secret to give; see fakeCredential.
const PROCESS_FAKE_KEY = randomBytes(32);

export interface FakeCredentialOptions {
  /** A lasting server secret, so that an unknown user's salt is the same after a restart (as a real user's is). */
  readonly key?: Buffer;
  /** The iteration count real credentials get (`scram_iterations`), so that it tells nothing either. */
  readonly iterations?: number;
}

/**
 * A credential for a user that does not exist, so that a SCRAM exchange (or the
 * time PLAIN takes) looks the same as for a real user until the proof fails. The
 * salt and keys are derived from a secret and the username, otherwise asking
 * twice would tell the two apart; the username is folded like a localpart so
 * that case variants of an unknown name get one salt, as case variants of a
 * real one do. No password matches it, short of breaking the hash.
 */
export function fakeCredential(username: string, hash: ScramHash, options: FakeCredentialOptions = {}): ScramCredential {
  const name = username.normalize("NFKC").toLowerCase().normalize("NFC");
  const key = options.key ?? PROCESS_FAKE_KEY;
  const derive = (purpose: string, octets: number) =>
    createHmac("sha256", key).update(`${purpose}\0${hash}\0${name}`).digest().subarray(0, octets).toString("base64");
  const { octets } = digestOf(hash);
  return {
    hash,
    salt: derive("salt", DEFAULT_SALT_OCTETS),
    iterations: options.iterations ?? DEFAULT_ITERATIONS,
    storedKey: derive("stored-key", octets),
    serverKey: derive("server-key", octets),
  };
}
