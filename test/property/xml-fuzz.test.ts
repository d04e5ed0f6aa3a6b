// Fuzzing the XML stream layer with fast-check: whatever bytes arrive, in
// whatever chunks, the parser never throws, reports at most one error, and
// stops after it; well-formed stanzas survive any chunking unchanged.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { XmlStreamParser, type StreamListener } from "../../src/xml/stream-parser.js";
import { serialize } from "../../src/xml/serialize.js";
import type { XmlElement } from "../../src/xml/element.js";
import { NS } from "../../src/xmpp/namespaces.js";

const runs = Number(process.env.PARLEY_PROPERTY_RUNS ?? 0);
const settings = runs > 0 ? { numRuns: runs } : { numRuns: 500, seed: 4 };
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

function run(chunks: (string | Uint8Array)[], limits = { maxStanzaBytes: 4096, maxDepth: 16 }) {
  const seen = { stanzas: [] as XmlElement[], errors: 0, afterError: 0, condition: undefined as string | undefined };
  const listener: StreamListener = {
    streamStart: () => { if (seen.errors) seen.afterError++; },
    stanza: (e) => { if (seen.errors) seen.afterError++; seen.stanzas.push(e); },
    streamEnd: () => { if (seen.errors) seen.afterError++; },
    error: (e) => { seen.errors++; seen.condition ??= e.condition; },
  };
  const parser = new XmlStreamParser(listener, limits);
  for (const c of chunks) parser.write(typeof c === "string" ? c : Buffer.from(c));
  return seen;
}

// Fragments that make interesting XML-ish noise.
const fragment = fc.oneof(
  fc.constantFrom("<", ">", "/>", "</", "<message>", "</message>", "<body>", "</body>", "&amp;", "&lt;", "&#x1F600;",
    "&unknown;", "<!--", "-->", "<![CDATA[", "]]>", "<?pi?>", "<!DOCTYPE x>", "<!ENTITY e 'x'>", "xmlns='urn:x'",
    "xmlns:p='urn:p'", "<p:x/>", "<q:y/>", "'", "\"", "=", " ", "\n", "\u0000", "\uFFFE", "é", "☃", "</stream:stream>"),
  fc.string({ maxLength: 8 }),
);

test("random input in random chunks: the parser never throws and reports at most one error, then nothing", () => {
  fc.assert(fc.property(fc.array(fragment, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }), (parts, sizes) => {
    const text = HEADER + parts.join("");
    const chunks: string[] = [];
    for (let i = 0, k = 0; i < text.length; k++) {
      const n = sizes[k % sizes.length] as number;
      chunks.push(text.slice(i, i + n));
      i += n;
    }
    const seen = run(chunks);
    assert.ok(seen.errors <= 1);
    assert.is(seen.afterError, 0, "nothing is reported after an error");
  }), settings);
});

test("random bytes (not just characters) never make the parser throw", () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 32 }), { maxLength: 20 }), (chunks) => {
    const seen = run([HEADER, ...chunks]);
    assert.ok(seen.errors <= 1);
  }), settings);
});

// Well-formed stanzas: generated trees, serialised, must come back the same however they are cut.
const name = fc.constantFrom("message", "body", "x", "item", "query", "presence");
const attrValue = fc.string({ maxLength: 10 }).filter((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(s));
const text = attrValue;
type Tree = { name: string; ns: string; attrs: Record<string, string>; children: (Tree | string)[] };
const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
  node: fc.record({
    name,
    ns: fc.constantFrom(NS.client, "urn:example:a", "urn:example:b"),
    attrs: fc.dictionary(fc.constantFrom("id", "to", "type", "v"), attrValue, { maxKeys: 3 }),
    children: fc.array(fc.oneof({ depthSize: "small", withCrossShrink: true }, text.filter((s) => s !== ""), tie("node")), { maxLength: 3 }),
  }),
})).node;

test("well-formed stanzas survive any chunking and come back equal", async () => {
  const { XmlElement } = await import("../../src/xml/element.js");
  const toElement = (t: Tree): XmlElement => new XmlElement(t.name, t.ns, t.attrs, mergeText(t.children.map((c) => (typeof c === "string" ? c : toElement(c)))));
  fc.assert(fc.property(tree, fc.integer({ min: 1, max: 9 }), (t, size) => {
    const stanza = toElement({ ...t, ns: NS.client });
    const xml = serialize(stanza, NS.client);
    const full = HEADER + xml;
    const chunks: string[] = [];
    for (let i = 0; i < full.length; i += size) chunks.push(full.slice(i, i + size));
    const seen = run(chunks, { maxStanzaBytes: 1_000_000, maxDepth: 64 });
    assert.is(seen.errors, 0, xml);
    assert.is(seen.stanzas.length, 1);
    assert.is(serialize(seen.stanzas[0] as XmlElement, NS.client), xml);
  }), settings);
});

/** Cuts `bytes` at the given offsets (taken modulo its length). */
function cutAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  out.push(bytes.subarray(from));
  return out;
}

// RFC 6120 §11.1: whatever the chunking, a markup declaration, DOCTYPE, comment or
// processing instruction is refused, and what follows it never reaches the session.
const restricted = fc.constantFrom(
  "<!ENTITY x 'y'>", "<!ENTITY % p SYSTEM 'http://x/'>", "<!ELEMENT message ANY>", "<!ATTLIST message a CDATA #IMPLIED>",
  "<!NOTATION n SYSTEM 'x'>", "<!DOCTYPE stream [<!ENTITY x 'y'>]>", "<!-- c -->", "<?pi data?>", "<?xml version='1.0'?>",
);

test("a restricted construct anywhere between or inside stanzas is refused however the bytes are cut", () => {
  fc.assert(fc.property(restricted, fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (construct, inside, cuts) => {
    const xml = HEADER + "<presence/>" + (inside ? `<message><body>a${construct}b</body></message>` : `${construct}<message/>`);
    const seen = run(cutAt(Buffer.from(xml), cuts));
    assert.is(seen.condition, "restricted-xml", `${construct} cut at ${cuts.join(",")}`);
    assert.is(seen.errors, 1);
    assert.ok(seen.stanzas.every((e) => e.name === "presence"), "at most the presence before it");
  }), settings);
});

test("invalid UTF-8 anywhere is unsupported-encoding however the bytes are cut", () => {
  const bad = fc.constantFrom([0xff], [0xfe], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]);
  fc.assert(fc.property(bad, fc.nat(), fc.array(fc.nat(), { maxLength: 12 }), (sequence, where, cuts) => {
    const body = "é☃𝄞 text";
    const at = [...body].slice(0, where % 6).join("").length;
    const bytes = Buffer.concat([
      Buffer.from(`${HEADER}<presence/><message><body>${body.slice(0, at)}`), Buffer.from(sequence),
      Buffer.from(`${body.slice(at)}</body></message>`),
    ]);
    const seen = run(cutAt(bytes, cuts));
    assert.is(seen.condition, "unsupported-encoding", `bytes ${sequence.join(",")} cut at ${cuts.join(",")}`);
    assert.ok(seen.stanzas.every((e) => e.name === "presence"), "at most the presence before it");
  }), settings);
});

/** Adjacent text nodes arrive merged from the parser; compare like with like. */
function mergeText(children: (XmlElement | string)[]): (XmlElement | string)[] {
  const out: (XmlElement | string)[] = [];
  for (const c of children) {
    const last = out[out.length - 1];
    if (typeof c === "string" && typeof last === "string") out[out.length - 1] = last + c;
    else out.push(c);
  }
  return out;
}

test.run();
