// PLAIN (RFC 4616), server side: message = [authzid] NUL authcid NUL passwd,
// checked against the stored SCRAM credential (SHA-256 if present, else SHA-1).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { deriveScramCredential, type ScramCredential, type ScramHash } from "../../src/sasl/credentials.js";
import { createMechanism, settle, type CredentialLookup, type SaslServerMechanism, type SettledSaslStep } from "../../src/sasl/mechanism.js";

const b = (s: string): Buffer => Buffer.from(s, "utf8");

function lookupOf(creds: Record<string, Partial<Record<ScramHash, ScramCredential>>>): CredentialLookup {
  return (username, hash) => creds[username]?.[hash];
}

const users = lookupOf({ juliet: { "SHA-256": deriveScramCredential("r0m30!", "SHA-256"), "SHA-1": deriveScramCredential("r0m30!", "SHA-1") } });

function plain(lookup: CredentialLookup = users): SaslServerMechanism {
  const m = createMechanism("PLAIN", lookup);
  if (!m) throw new Error("no PLAIN");
  return m;
}

function assertFailure(step: SettledSaslStep, condition: string, message?: string): void {
  assert.is(step.kind, "failure", message);
  if (step.kind === "failure") assert.is(step.condition, condition, message);
}

test("the right password succeeds and names the user, without additional data", async () => {
  const step = (await settle(plain().step(b("\0juliet\0r0m30!"))));
  assert.equal(step, { kind: "success", username: "juliet" });
});

test("an authzid is handed to the caller, which checks it", async () => {
  const step = (await settle(plain().step(b("juliet@example.com\0juliet\0r0m30!"))));
  assert.is(step.kind, "success");
  if (step.kind === "success") assert.is(step.authzid, "juliet@example.com");
});

test("a wrong password and an unknown user both fail with not-authorized", async () => {
  assertFailure((await settle(plain().step(b("\0juliet\0tybalt")))), "not-authorized");
  assertFailure((await settle(plain().step(b("\0romeo\0r0m30!")))), "not-authorized");
});

test("the SHA-256 credential is used when there is one, else the SHA-1 one", async () => {
  const both = lookupOf({
    juliet: { "SHA-256": deriveScramCredential("new", "SHA-256"), "SHA-1": deriveScramCredential("old", "SHA-1") },
  });
  assert.is((await settle(plain(both).step(b("\0juliet\0new")))).kind, "success");
  assertFailure((await settle(plain(both).step(b("\0juliet\0old")))), "not-authorized");
  const sha1Only = lookupOf({ juliet: { "SHA-1": deriveScramCredential("old", "SHA-1") } });
  assert.is((await settle(plain(sha1Only).step(b("\0juliet\0old")))).kind, "success");
});

test("the password is prepared as SCRAM prepares it (non-ASCII space = space)", async () => {
  const lookup = lookupOf({ juliet: { "SHA-256": deriveScramCredential("a b", "SHA-256") } });
  assert.is((await settle(plain(lookup).step(b("\0juliet\0a\u00A0b")))).kind, "success");
});

test("malformed messages fail with malformed-request", async () => {
  const cases: [string, Buffer][] = [
    ["no NUL", b("julietr0m30!")],
    ["one NUL", b("juliet\0r0m30!")],
    ["three NULs", b("\0juliet\0r0m\0 30!")],
    ["empty authcid", b("\0\0r0m30!")],
    ["empty password", b("\0juliet\0")],
    ["not UTF-8", Buffer.concat([b("\0juli"), Buffer.from([0xc3]), b("\0r0m30!")])],
    ["authcid over 1023 octets", b(`\0${"j".repeat(1024)}\0r0m30!`)],
    ["password over 1023 octets", b(`\0juliet\0${"p".repeat(1024)}`)],
    ["far too long", b(`${"a".repeat(10_000)}\0juliet\0r0m30!`)],
  ];
  for (const [what, input] of cases) assertFailure((await settle(plain().step(input))), "malformed-request", what);
});

test("without an initial response the server asks for it with an empty challenge, once", async () => {
  const m = plain();
  assert.equal((await settle(m.step(Buffer.alloc(0)))), { kind: "challenge", data: Buffer.alloc(0) });
  assert.is((await settle(m.step(b("\0juliet\0r0m30!")))).kind, "success");
  const twice = plain();
  (await settle(twice.step(Buffer.alloc(0))));
  assertFailure((await settle(twice.step(Buffer.alloc(0)))), "malformed-request");
});

test("a step after the exchange is over fails", async () => {
  const m = plain();
  assertFailure((await settle(m.step(b("\0juliet\0tybalt")))), "not-authorized");
  assertFailure((await settle(m.step(b("\0juliet\0r0m30!")))), "malformed-request");
});

test("a lookup that throws is a temporary-auth-failure", async () => {
  const m = plain(() => {
    throw new Error("database is locked");
  });
  assertFailure((await settle(m.step(b("\0juliet\0r0m30!")))), "temporary-auth-failure");
});

test.run();
