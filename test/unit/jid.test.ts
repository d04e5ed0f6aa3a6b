// JIDs per RFC 7622: the examples of §3.5, the splitting rules of §3.1, the
// preparation of each part (§3.2-3.4) and the 1023-octet limits.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Jid, JidError, jid, parseJid, tryParseJid } from "../../src/jid/jid.js";

function parts(s: string): [string, string, string] {
  const j = parseJid(s);
  return [j.local, j.domain, j.resource];
}

const isJidError = (err: unknown): boolean => err instanceof JidError;

function assertInvalid(s: string, reasonPattern?: RegExp): void {
  try {
    parseJid(s);
  } catch (err) {
    assert.instance(err, JidError);
    if (reasonPattern) assert.match((err as JidError).reason, reasonPattern);
    return;
  }
  assert.unreachable(`'${s}' was accepted`);
}

// --- RFC 7622 §3.5.1: valid JIDs ------------------------------------------

test("RFC 7622 §3.5.1: the fifteen example JIDs are valid and split as the RFC says", () => {
  const examples: [string, [string, string, string]][] = [
    ["juliet@example.com", ["juliet", "example.com", ""]],
    ["juliet@example.com/foo", ["juliet", "example.com", "foo"]],
    ["juliet@example.com/foo bar", ["juliet", "example.com", "foo bar"]],
    ["juliet@example.com/foo@bar", ["juliet", "example.com", "foo@bar"]],
    ["foo\\20bar@example.com", ["foo\\20bar", "example.com", ""]],
    ["fussball@example.com", ["fussball", "example.com", ""]],
    ["fu\u00DFball@example.com", ["fu\u00DFball", "example.com", ""]],
    ["\u03C0@example.com", ["\u03C0", "example.com", ""]],
    ["\u03A3@example.com/foo", ["\u03C3", "example.com", "foo"]],
    ["\u03C3@example.com/foo", ["\u03C3", "example.com", "foo"]],
    ["\u03C2@example.com/foo", ["\u03C2", "example.com", "foo"]],
    ["king@example.com/\u265A", ["king", "example.com", "\u265A"]],
    ["example.com", ["", "example.com", ""]],
    ["example.com/foobar", ["", "example.com", "foobar"]],
    ["a.example.com/b@example.net", ["", "a.example.com", "b@example.net"]],
  ];
  for (const [input, expected] of examples) assert.equal(parts(input), expected, input);
});

test("RFC 7622 §3.5.1: ß and ss stay distinct localparts; capital sigma folds to σ, final sigma stays ς", () => {
  assert.is.not(parseJid("fu\u00DFball@example.com").local, parseJid("fussball@example.com").local);
  assert.ok(parseJid("\u03A3@example.com").equals(parseJid("\u03C3@example.com")));
  assert.not.ok(parseJid("\u03C2@example.com").equals(parseJid("\u03C3@example.com")));
});

// --- RFC 7622 §3.5.2: invalid JIDs ----------------------------------------

test("RFC 7622 §3.5.2: the eight example JIDs are invalid", () => {
  assertInvalid('"juliet"@example.com', /localpart.*'"'/); // quotation marks excluded from localparts
  assertInvalid("foo bar@example.com", /localpart.*U\+0020/); // space in a localpart
  assertInvalid("juliet@example.com/", /empty resourcepart/);
  assertInvalid("@example.com/", /empty localpart/);
  assertInvalid("henry\u2163@example.com", /localpart/); // ROMAN NUMERAL FOUR: compatibility character
  assertInvalid("\u265A@example.com", /localpart/); // BLACK CHESS KING: a symbol, not IdentifierClass
  assertInvalid("juliet@", /empty domainpart/);
  assertInvalid("/foobar", /empty domainpart/);
});

// --- splitting (§3.1) -------------------------------------------------------

test("the resourcepart is everything after the first '/', and may hold '/' and '@'", () => {
  assert.equal(parts("juliet@example.com/a/b@c/d"), ["juliet", "example.com", "a/b@c/d"]);
  assert.equal(parts("example.com/x@y"), ["", "example.com", "x@y"]);
});

test("the localpart ends at the first '@' before the first '/'; a second '@' lands in the domainpart and is refused", () => {
  assertInvalid("user@host@example.com", /domainpart.*'@'/);
  assertInvalid("@example.com", /empty localpart/);
  assertInvalid("@", /empty localpart/);
  assertInvalid("", /empty domainpart/);
});

// --- localpart (§3.3) -------------------------------------------------------

test("localpart: the characters RFC 7622 §3.3.1 excludes are refused", () => {
  for (const ch of ['"', "&", "'", ":", "<", ">"]) assertInvalid(`a${ch}b@example.com`, /localpart/);
  // '/' and '@' can only reach a localpart through the factory, as parsing splits on them.
  for (const ch of ["/", "@"]) assert.throws(() => jid(`a${ch}b`, "example.com"), isJidError);
});

test("localpart: controls and whitespace are refused", () => {
  for (const ch of ["\u0000", "\t", "\n", "\u007F", "\u0085", "\u00A0", "\u2003", "\u200B"]) {
    assertInvalid(`a${ch}b@example.com`, /localpart/);
  }
});

test("localpart: case is folded with toLowerCase and the result is NFC", () => {
  assert.is(parseJid("JuLiEt@example.com").local, "juliet");
  assert.is(parseJid("\u00C9LODIE@example.com").local, "\u00E9lodie");
  // e + COMBINING ACUTE ACCENT composes to é, so both spellings are one account.
  assert.ok(parseJid("e\u0301lodie@example.com").equals(parseJid("\u00E9lodie@example.com")));
});

test("localpart: fullwidth letters are width-mapped; other compatibility characters are refused", () => {
  assert.is(parseJid("\uFF2A\uFF55\uFF4C\uFF49\uFF45\uFF54@example.com").local, "juliet");
  assertInvalid("\uFB01sh@example.com", /localpart/); // LATIN SMALL LIGATURE FI
  assertInvalid("\u2460@example.com", /localpart/); // CIRCLED DIGIT ONE
});

test("localpart: letters of other scripts are fine", () => {
  assert.is(parseJid("\u0436\u0443\u043B\u044C\u0435\u0442\u0442\u0430@example.com").local, "\u0436\u0443\u043B\u044C\u0435\u0442\u0442\u0430");
  assert.is(parseJid("\u30B8\u30E5\u30EA\u30A8\u30C3\u30C8@example.com").local, "\u30B8\u30E5\u30EA\u30A8\u30C3\u30C8");
});

// --- domainpart (§3.2) ------------------------------------------------------

test("domainpart: case is folded and one trailing dot is stripped", () => {
  assert.is(parseJid("juliet@EXAMPLE.Com").domain, "example.com");
  assert.is(parseJid("juliet@example.com.").domain, "example.com");
  assert.is(parseJid("example.com./res").toString(), "example.com/res");
  assert.ok(parseJid("juliet@Example.COM.").equals(parseJid("juliet@example.com")));
});

test("domainpart: empty labels are refused", () => {
  assertInvalid("juliet@example.com..", /empty label/);
  assertInvalid("juliet@example..com", /empty label/);
  assertInvalid("juliet@.example.com", /empty label/);
  assertInvalid("juliet@.", /empty domainpart/);
});

test("domainpart: whitespace, controls and punctuation are refused", () => {
  for (const d of ["exa mple.com", "example.com ", "exa\tmple.com", "exa\u0000mple.com", "exam\u00A0ple.com", "example.com:5222", "exa<mple.com"]) {
    assertInvalid(`juliet@${d}`, /domainpart/);
  }
});

test("domainpart: IP literals and IPv4 addresses are accepted, malformed literals are not", () => {
  assert.is(parseJid("juliet@[::1]/res").domain, "[::1]");
  assert.is(parseJid("juliet@[2001:DB8::1]").domain, "[2001:db8::1]");
  assert.is(parseJid("juliet@192.0.2.1").domain, "192.0.2.1");
  assertInvalid("juliet@[::1", /IPv6/);
  assertInvalid("juliet@[example.com]", /IPv6/);
  assertInvalid("juliet@[fe80::1%eth0]", /IPv6/);
});

test("domainpart: internationalised domain names are kept as U-labels", () => {
  assert.is(parseJid("juliet@B\u00DCCHER.example").domain, "b\u00FCcher.example");
});

// --- resourcepart (§3.4) ----------------------------------------------------

test("resourcepart: case is preserved, NFC is applied, non-ASCII spaces become U+0020", () => {
  assert.is(parseJid("juliet@example.com/Balcony").resource, "Balcony");
  assert.not.ok(parseJid("juliet@example.com/Balcony").equals(parseJid("juliet@example.com/balcony")));
  assert.is(parseJid("juliet@example.com/e\u0301").resource, "\u00E9");
  assert.is(parseJid("juliet@example.com/a\u00A0b").resource, "a b");
});

test("resourcepart: controls are refused", () => {
  for (const ch of ["\u0000", "\u0001", "\n", "\u007F"]) assertInvalid(`juliet@example.com/a${ch}b`, /resourcepart/);
});

// --- lengths ----------------------------------------------------------------

test("each part may be 1023 octets of UTF-8 but not 1024", () => {
  const a = "\u30A2"; // KATAKANA LETTER A: three octets in UTF-8
  assert.is(parseJid(`${"a".repeat(1023)}@example.com`).local.length, 1023);
  assertInvalid(`${"a".repeat(1024)}@example.com`, /localpart is 1024 octets/);
  assert.ok(parseJid(`${a.repeat(341)}@example.com`)); // 1023 octets
  assertInvalid(`${a.repeat(342)}@example.com`, /localpart is 1026 octets/);

  const domain1023 = Array<string>(16).fill("a".repeat(63)).join("."); // 16 × 63 + 15 dots
  assert.is(Buffer.byteLength(domain1023), 1023);
  assert.ok(parseJid(`juliet@${domain1023}`));
  assertInvalid(`juliet@${domain1023}a`, /domainpart is 1024 octets/);

  assert.ok(parseJid(`juliet@example.com/${"r".repeat(1023)}`));
  assertInvalid(`juliet@example.com/${"r".repeat(1024)}`, /resourcepart is 1024 octets/);
});

test("a very long input is refused without being prepared", () => {
  assertInvalid(`${"a".repeat(100_000)}@example.com`, /too long/);
});

// --- the Jid object -----------------------------------------------------------

test("bare() drops the resource; a bare JID is its own bare()", () => {
  const full = parseJid("Juliet@Example.com/Balcony");
  assert.is(full.bare().toString(), "juliet@example.com");
  assert.ok(full.bare().isBare());
  assert.not.ok(full.isBare());
  assert.is(full.bare(), full.bare(), "cached");
  const bare = parseJid("juliet@example.com");
  assert.is(bare.bare(), bare);
});

test("toString() and bareString() give the prepared forms, and are cached", () => {
  const j = parseJid("Juliet@Example.com/Balcony");
  assert.is(j.toString(), "juliet@example.com/Balcony");
  assert.is(j.bareString(), "juliet@example.com");
  assert.is(`${j}`, "juliet@example.com/Balcony");
  assert.is(parseJid("example.com/x").bareString(), "example.com");
  assert.is(parseJid("example.com").toString(), "example.com");
});

test("equals() compares full JIDs, equalsBare() only local and domain parts", () => {
  const a = parseJid("juliet@example.com/balcony");
  const b = parseJid("JULIET@example.com/balcony");
  const c = parseJid("juliet@example.com/chamber");
  assert.ok(a.equals(b));
  assert.not.ok(a.equals(c));
  assert.ok(a.equalsBare(c));
  assert.not.ok(a.equals(a.bare()));
  assert.ok(a.equalsBare(a.bare()));
  assert.not.ok(a.equalsBare(parseJid("romeo@example.com/balcony")));
  assert.not.ok(parseJid("example.com").equalsBare(parseJid("juliet@example.com")));
});

test("jid() builds and prepares a JID from its parts", () => {
  assert.is(jid("Juliet", "Example.com", "balcony").toString(), "juliet@example.com/balcony");
  assert.is(jid("juliet", "example.com").toString(), "juliet@example.com");
  assert.is(jid("", "example.com").toString(), "example.com");
  assert.ok(jid("juliet", "example.com", "a/b").equals(parseJid("juliet@example.com/a/b")));
  assert.throws(() => jid("juliet", ""), isJidError);
  assert.instance(jid("juliet", "example.com"), Jid);
});

test("tryParseJid answers undefined instead of throwing", () => {
  assert.is(tryParseJid("juliet@"), undefined);
  assert.is(tryParseJid("juliet@example.com")?.local, "juliet");
});

test("JidError names the input and the reason", () => {
  try {
    parseJid("foo bar@example.com");
    assert.unreachable();
  } catch (err) {
    assert.instance(err, JidError);
    const e = err as JidError;
    assert.is(e.input, "foo bar@example.com");
    assert.match(e.reason, /localpart contains the forbidden character U\+0020/);
    assert.match(e.message, /'foo bar@example.com'/);
    assert.is(e.name, "JidError");
  }
});

test.run();
