// SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), server side: the RFC
// test vectors, a full exchange against a client written from the RFC, wrong
// and unknown users, malformed messages, and the stored credentials.
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  deriveScramCredential,
  preparePassword,
  verifyPlainPassword,
  type ScramCredential,
  type ScramHash,
} from "../../src/sasl/credentials.js";
import {
  createMechanism,
  SUPPORTED_MECHANISMS,
  CHANNEL_BINDING_MECHANISMS,
  type CredentialLookup,
  type SaslServerMechanism,
  type SaslStep,
} from "../../src/sasl/mechanism.js";

const b = (s: string): Buffer => Buffer.from(s, "utf8");
const text = (step: SaslStep): string => (step.kind === "failure" || step.kind === "pending" ? "" : (step.data ?? Buffer.alloc(0)).toString("utf8"));

/** A user directory holding one user per entry, with credentials for both hashes. */
function directory(users: Record<string, string>): CredentialLookup & { asked: string[] } {
  const creds = new Map<string, ScramCredential>();
  for (const [name, password] of Object.entries(users)) {
    for (const hash of ["SHA-1", "SHA-256"] as const) creds.set(`${hash} ${name}`, deriveScramCredential(password, hash));
  }
  const asked: string[] = [];
  const lookup = (username: string, hash: ScramHash): ScramCredential | undefined => {
    asked.push(username);
    return creds.get(`${hash} ${username}`);
  };
  return Object.assign(lookup, { asked });
}

function scram(hash: ScramHash, lookup: CredentialLookup, nonce?: () => string): SaslServerMechanism {
  const m = createMechanism(`SCRAM-${hash}`, lookup, nonce ? { nonce } : {});
  if (!m) throw new Error("no mechanism");
  return m;
}

function assertFailure(step: SaslStep, condition: string, message?: string): void {
  assert.is(step.kind, "failure", message);
  if (step.kind === "failure") assert.is(step.condition, condition, message);
}

/** The client side of RFC 5802 §3, to drive exchanges with random nonces. */
function clientFinal(
  hash: ScramHash,
  password: string,
  clientFirstBare: string,
  serverFirst: string,
  gs2Header = "n,,",
): { message: string; serverSignature: string } {
  const alg = hash === "SHA-1" ? "sha1" : "sha256";
  const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s ?? "", "base64"), Number(attrs.i), hash === "SHA-1" ? 20 : 32, alg);
  const clientKey = createHmac(alg, salted).update("Client Key").digest();
  const storedKey = createHash(alg).update(clientKey).digest();
  const withoutProof = `c=${Buffer.from(gs2Header).toString("base64")},r=${attrs.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac(alg, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((x, i) => x ^ (signature[i] ?? 0)));
  const serverKey = createHmac(alg, salted).update("Server Key").digest();
  return {
    message: `${withoutProof},p=${proof.toString("base64")}`,
    serverSignature: createHmac(alg, serverKey).update(authMessage).digest("base64"),
  };
}

/** Runs a whole exchange as a well-behaved client; answers the server's last step. */
function login(hash: ScramHash, lookup: CredentialLookup, username: string, password: string, gs2Header = "n,,"): SaslStep {
  const m = scram(hash, lookup);
  const bare = `n=${username},r=clientnonce123`;
  const first = m.step(b(`${gs2Header}${bare}`));
  if (first.kind !== "challenge") return first;
  return m.step(b(clientFinal(hash, password, bare, text(first), gs2Header).message));
}

// --- test vectors -------------------------------------------------------------

test("RFC 5802 §5: the SCRAM-SHA-1 example exchange, byte for byte", () => {
  const cred = deriveScramCredential("pencil", "SHA-1", 4096, Buffer.from("QSXCR+Q6sek8bf92", "base64"));
  const m = scram("SHA-1", (u, h) => (u === "user" && h === "SHA-1" ? cred : undefined), () => "3rfcNHYJY1ZVvWVs7j");
  assert.is(m.name, "SCRAM-SHA-1");

  const first = m.step(b("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
  assert.is(first.kind, "challenge");
  assert.is(text(first), "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");

  const final = m.step(b("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
  assert.is(final.kind, "success");
  assert.is(text(final), "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
  if (final.kind === "success") {
    assert.is(final.username, "user");
    assert.is(final.authzid, undefined);
  }
});

test("RFC 7677 §3: the SCRAM-SHA-256 example exchange, byte for byte", () => {
  const cred = deriveScramCredential("pencil", "SHA-256", 4096, Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"));
  const m = scram("SHA-256", (u, h) => (u === "user" && h === "SHA-256" ? cred : undefined), () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  assert.is(m.name, "SCRAM-SHA-256");

  const first = m.step(b("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  assert.is(text(first), "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");

  const final = m.step(
    b("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
  );
  assert.is(final.kind, "success");
  assert.is(text(final), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
});

// --- exchanges with random nonces -------------------------------------------

for (const hash of ["SHA-1", "SHA-256"] as const) {
  test(`SCRAM-${hash}: the right password succeeds, and the server proves it knows the key`, () => {
    const users = directory({ juliet: "r0m30!" });
    const m = scram(hash, users);
    const bare = "n=juliet,r=abcdefghijkl";
    const first = m.step(b(`n,,${bare}`));
    const serverFirst = text(first);
    const nonce = /^r=([^,]+),s=[^,]+,i=4096$/.exec(serverFirst)?.[1] ?? "";
    assert.ok(nonce.startsWith("abcdefghijkl") && nonce.length > "abcdefghijkl".length, "nonce extends the client's");
    const { message, serverSignature } = clientFinal(hash, "r0m30!", bare, serverFirst);
    const final = m.step(b(message));
    assert.is(final.kind, "success");
    assert.is(text(final), `v=${serverSignature}`);
    assert.equal(users.asked, ["juliet"]);
  });

  test(`SCRAM-${hash}: a wrong password fails with not-authorized at the proof`, () => {
    assertFailure(login(hash, directory({ juliet: "r0m30!" }), "juliet", "tybalt"), "not-authorized");
  });

  test(`SCRAM-${hash}: an unknown user gets a plausible challenge and fails only at the proof`, () => {
    const users = directory({ juliet: "r0m30!" });
    const m = scram(hash, users);
    const first = m.step(b("n,,n=nobody,r=abcdefghijkl"));
    assert.is(first.kind, "challenge");
    assert.match(text(first), /^r=abcdefghijkl[^,]+,s=[A-Za-z0-9+/]{22}==,i=4096$/);
    const final = m.step(b(clientFinal(hash, "anything", "n=nobody,r=abcdefghijkl", text(first)).message));
    assertFailure(final, "not-authorized");
  });

  test(`SCRAM-${hash}: the salt shown for an unknown user is the same every time, and differs between users`, () => {
    const users = directory({});
    const salt = (name: string): string => /,s=([^,]+),/.exec(text(scram(hash, users).step(b(`n,,n=${name},r=x`))))?.[1] ?? "";
    assert.is(salt("nobody"), salt("nobody"));
    assert.is(salt("nobody"), salt("NoBody"), "case variants, like those of a real user, share a salt");
    assert.is.not(salt("nobody"), salt("someone"));
  });
}

test("the username's =2C and =3D escapes are decoded before the lookup", () => {
  const users = directory({ "a,b=c": "pw" });
  const step = login("SHA-256", users, "a=2Cb=3Dc", "pw");
  assert.is(step.kind, "success");
  if (step.kind === "success") assert.is(step.username, "a,b=c");
  assert.equal(users.asked, ["a,b=c"]);
});

test("an authzid is decoded and handed to the caller, which checks it", () => {
  const users = directory({ juliet: "pw" });
  const step = login("SHA-256", users, "juliet", "pw", "n,a=juliet@example.com,");
  assert.is(step.kind, "success");
  if (step.kind === "success") assert.is(step.authzid, "juliet@example.com");
  const escaped = login("SHA-256", users, "juliet", "pw", "n,a=x=2Cy,");
  if (escaped.kind === "success") assert.is(escaped.authzid, "x,y");
  else assert.unreachable("escaped authzid refused");
});

test("gs2 flag 'y' (client could bind, thinks we cannot) is accepted while no -PLUS is advertised", () => {
  assert.is(login("SHA-1", directory({ juliet: "pw" }), "juliet", "pw", "y,,").kind, "success");
});

test("gs2 flag 'y' is refused when channel binding is advertised: that is a downgrade, not a wrong password", () => {
  const bindings = { "tls-exporter": Buffer.alloc(32, 1), "tls-server-end-point": Buffer.alloc(32, 2) };
  const m = createMechanism("SCRAM-SHA-1", directory({ juliet: "pw" }), { channelBindingAdvertised: true, channelBindings: bindings });
  const step = m!.step(b("y,,n=juliet,r=abc"));
  assertFailure(step, "not-authorized");
  if (step.kind !== "failure") return;
  assert.is(step.counts, false, "no password was checked: it must not grow the brute-force delay");
  assert.is(step.cause, "channel-binding-downgrade");
  assert.match(step.text ?? "", /gs2 flag 'y'.*tls-exporter, tls-server-end-point/);
});

test("which failures count toward the brute-force delay: a wrong proof does; a malformed message does not", () => {
  const users = directory({ juliet: "pw" });
  const m = scram("SHA-256", users);
  const first = m.step(b("n,,n=juliet,r=abc"));
  const wrong = m.step(b(clientFinal("SHA-256", "not the password", "n=juliet,r=abc", text(first)).message));
  assert.ok(wrong.kind === "failure" && wrong.counts, "a wrong password counts");
  const bad = scram("SHA-256", users).step(b("x,,n=juliet,r=abc"));
  assert.ok(bad.kind === "failure" && !bad.counts, "an invalid gs2 flag does not");
});

test("gs2 flag 'p=' (channel binding) is refused: no -PLUS mechanism yet", () => {
  const m = scram("SHA-256", directory({ juliet: "pw" }));
  assertFailure(m.step(b("p=tls-exporter,,n=juliet,r=abc")), "malformed-request");
});

test("without an initial response the server asks for it with an empty challenge, once", () => {
  const users = directory({ juliet: "pw" });
  const m = scram("SHA-256", users);
  const ask = m.step(Buffer.alloc(0));
  assert.is(ask.kind, "challenge");
  assert.is(text(ask), "");
  const first = m.step(b("n,,n=juliet,r=abc"));
  assert.is(first.kind, "challenge");
  assert.is(m.step(b(clientFinal("SHA-256", "pw", "n=juliet,r=abc", text(first)).message)).kind, "success");

  const twice = scram("SHA-256", users);
  twice.step(Buffer.alloc(0));
  assertFailure(twice.step(Buffer.alloc(0)), "malformed-request");
});

test("malformed client-first messages fail with malformed-request", () => {
  const cases = [
    "n=juliet,r=abc", // no GS2 header
    "x,,n=juliet,r=abc", // unknown flag
    "n,b=juliet,n=juliet,r=abc", // authzid field without a=
    "n,a=,n=juliet,r=abc", // empty authzid
    "n,,m=ext,n=juliet,r=abc", // mandatory extension
    "n,,r=abc", // no username
    "n,,n=,r=abc", // empty username
    "n,,n=jul=2Biet,r=abc", // '=' not followed by 2C or 3D
    "n,,n=juliet=,r=abc", // trailing '='
    "n,,n=juliet", // no nonce
    "n,,n=juliet,r=", // empty nonce
    "n,,n=juliet,r=ab\u00E9", // nonce not printable ASCII
    "n,,n=juliet,r=abc,bogus", // extension that is not attr=value
  ];
  for (const c of cases) assertFailure(scram("SHA-256", directory({ juliet: "pw" })).step(b(c)), "malformed-request", c);
  assertFailure(scram("SHA-1", directory({})).step(Buffer.from([0x6e, 0x2c, 0x2c, 0xff])), "malformed-request", "not UTF-8");
  assertFailure(scram("SHA-1", directory({})).step(b(`n,,n=juliet,r=${"x".repeat(5000)}`)), "malformed-request", "too long");
});

test("malformed client-final messages fail with malformed-request", () => {
  const users = directory({ juliet: "pw" });
  const start = (): { m: SaslServerMechanism; good: string; nonce: string } => {
    const m = scram("SHA-1", users);
    const first = text(m.step(b("n,,n=juliet,r=abc")));
    return { m, good: clientFinal("SHA-1", "pw", "n=juliet,r=abc", first).message, nonce: first.split(",")[0].slice(2) };
  };
  const mutations: [string, (good: string, nonce: string) => string][] = [
    ["no proof", (g) => g.replace(/,p=.*$/, "")],
    ["proof not base64", (g) => g.replace(/,p=.*$/, ",p=!!!!")],
    ["proof of the wrong length", (g) => g.replace(/,p=.*$/, ",p=AAAA")],
    ["no channel binding", (g) => g.replace(/^c=[^,]*,/, "")],
    ["channel binding not base64", (g) => g.replace(/^c=[^,]*/, "c=b?ws")],
    ["channel binding differs from the GS2 header", (g) => g.replace(/^c=[^,]*/, "c=eSws")],
    ["nonce of another exchange", (g, n) => g.replace(n, `${n}x`)],
    ["only the client's nonce", (g, n) => g.replace(n, "abc")],
    ["no nonce", (g, n) => g.replace(`r=${n},`, "")],
  ];
  for (const [what, mutate] of mutations) {
    const { m, good, nonce } = start();
    assertFailure(m.step(b(mutate(good, nonce))), "malformed-request", what);
  }
});

test("a step after the exchange is over fails", () => {
  const m = scram("SHA-256", directory({ juliet: "pw" }));
  assertFailure(m.step(b("x")), "malformed-request");
  assertFailure(m.step(b("n,,n=juliet,r=abc")), "malformed-request");
});

test("a lookup that throws, or a corrupt stored credential, is a temporary-auth-failure", () => {
  const throwing = scram("SHA-256", () => {
    throw new Error("database is locked");
  });
  assertFailure(throwing.step(b("n,,n=juliet,r=abc")), "temporary-auth-failure");
  const sha1 = deriveScramCredential("pw", "SHA-1");
  assertFailure(scram("SHA-256", () => sha1).step(b("n,,n=juliet,r=abc")), "temporary-auth-failure");
});

// --- mechanisms and credentials ------------------------------------------

test("createMechanism knows the supported names and nothing else", () => {
  assert.equal([...SUPPORTED_MECHANISMS], ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
  for (const name of [...SUPPORTED_MECHANISMS, ...CHANNEL_BINDING_MECHANISMS]) assert.is(createMechanism(name, directory({}))?.name, name);
  for (const name of ["DIGEST-MD5", "scram-sha-1", "SCRAM-SHA-512-PLUS", ""]) {
    assert.is(createMechanism(name, directory({})), undefined, name);
  }
});

test("SCRAM-SHA-256-PLUS: binds to the connection's data; other types, other data and a plain flag are refused", () => {
  const lookup = directory({ user: "pencil" });
  const bindings = { "tls-exporter": Buffer.alloc(32, 1) };
  const run = (gs2: string, data: Buffer) => {
    const m = createMechanism("SCRAM-SHA-256-PLUS", lookup, { channelBindings: bindings }) as NonNullable<ReturnType<typeof createMechanism>>;
    const first = `n=user,r=clientnonce`;
    const challenge = m.step(Buffer.from(gs2 + first));
    if (challenge.kind !== "challenge") return challenge;
    const serverFirst = challenge.data.toString();
    const fields = new Map(serverFirst.split(",").map((kv) => [kv[0] as string, kv.slice(2)]));
    const salted = pbkdf2Sync("pencil", Buffer.from(fields.get("s") ?? "", "base64"), Number(fields.get("i")), 32, "sha256");
    const clientKey = createHmac("sha256", salted).update("Client Key").digest();
    const withoutProof = `c=${Buffer.concat([Buffer.from(gs2), data]).toString("base64")},r=${fields.get("r")}`;
    const signature = createHmac("sha256", createHash("sha256").update(clientKey).digest()).update(`${first},${serverFirst},${withoutProof}`).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number)));
    return m.step(Buffer.from(`${withoutProof},p=${proof.toString("base64")}`));
  };
  assert.is(run("p=tls-exporter,,", Buffer.alloc(32, 1)).kind, "success");
  const wrongData = run("p=tls-exporter,,", Buffer.alloc(32, 2));
  assert.is(wrongData.kind === "failure" && wrongData.condition, "not-authorized");
  const wrongType = run("p=tls-unique,,", Buffer.alloc(12));
  assert.is(wrongType.kind === "failure" && wrongType.condition, "malformed-request");
  const noBinding = run("n,,", Buffer.alloc(0));
  assert.is(noBinding.kind === "failure" && noBinding.condition, "malformed-request");
});

test("deriveScramCredential stores salted keys, never the password, with a fresh salt each time", () => {
  const a = deriveScramCredential("pencil", "SHA-256");
  const c = deriveScramCredential("pencil", "SHA-256");
  assert.is(a.hash, "SHA-256");
  assert.is(a.iterations, 4096);
  assert.is(Buffer.from(a.salt, "base64").length, 16);
  assert.is(Buffer.from(a.storedKey, "base64").length, 32);
  assert.is(Buffer.from(a.serverKey, "base64").length, 32);
  assert.is.not(a.salt, c.salt);
  assert.is.not(a.storedKey, c.storedKey);
  assert.not.match(JSON.stringify(a), /pencil/);
  assert.is(Buffer.from(deriveScramCredential("pencil", "SHA-1").storedKey, "base64").length, 20);
  assert.throws(() => deriveScramCredential("pencil", "SHA-1", 0));
});

test("verifyPlainPassword re-derives the keys and compares them", async () => {
  const cred = deriveScramCredential("pencil", "SHA-1", 4096, Buffer.from("QSXCR+Q6sek8bf92", "base64"));
  assert.ok(await verifyPlainPassword("pencil", cred));
  assert.not.ok(await verifyPlainPassword("Pencil", cred));
  assert.not.ok(await verifyPlainPassword("", cred));
});

test("passwords are prepared like SASLprep: soft hyphens dropped, non-ASCII spaces mapped, NFKC", async () => {
  assert.is(preparePassword("pen\u00ADcil"), "pencil");
  assert.is(preparePassword("a\u00A0b\u3000c"), "a b c");
  assert.is(preparePassword("\uFB01x"), "fix");
  assert.is(preparePassword("\u2168"), "IX");
  const cred = deriveScramCredential("I\u00A0X", "SHA-256");
  assert.ok(await verifyPlainPassword("I X", cred));
  assert.ok(await verifyPlainPassword("\uFF29 X", cred), "fullwidth I");
});

test.run();
