// Server Dialback keys (XEP-0220 §2.1.1, generated as XEP-0185 recommends):
// HMAC-SHA256 keyed with SHA-256 of a secret this server keeps (the
// server_secrets table, migration 023), over "Receiving Originating StreamID".
// Only the server that made a key can tell whether it is right, which is
// what the verification back to the authoritative server asks it.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const DIALBACK_SECRET = "s2s-dialback";

export function dialbackKey(secret: Buffer, receiving: string, originating: string, streamId: string): string {
  const key = createHash("sha256").update(secret).digest("hex");
  return createHmac("sha256", key).update(`${receiving} ${originating} ${streamId}`).digest("hex");
}

/** Whether `key` is the one this server would have made for the triple. */
export function dialbackKeyValid(secret: Buffer, receiving: string, originating: string, streamId: string, key: string): boolean {
  const expected = Buffer.from(dialbackKey(secret, receiving, originating, streamId));
  const given = Buffer.from(key.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
