// The XML stream layer: incremental parsing, namespaces, limits, restricted
// XML, and serialisation round trips.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { XmlStreamParser, StreamError, type StreamListener } from "../../src/xml/stream-parser.js";
import { serialize, escapeAttr, escapeText, streamHeader } from "../../src/xml/serialize.js";
import { el, type XmlElement } from "../../src/xml/element.js";
import { NS } from "../../src/xmpp/namespaces.js";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

function collect(limits = {}) {
  const out = { starts: [] as Record<string, string>[], defaultNs: [] as (string | undefined)[], stanzas: [] as XmlElement[], sizes: [] as number[], ends: 0, keepalives: 0, errors: [] as StreamError[] };
  const listener: StreamListener = {
    streamStart: (attrs, info) => { out.starts.push(attrs); out.defaultNs.push(info.defaultNs); },
    stanza: (e, size) => { out.stanzas.push(e); out.sizes.push(size); },
    streamEnd: () => { out.ends++; },
    error: (e) => { out.errors.push(e); },
    keepalive: () => { out.keepalives++; },
  };
  return { out, parser: new XmlStreamParser(listener, limits) };
}

const STREAM = HEADER +
  "<message to='juliet@localhost' type='chat'><body>Wherefore art thou, Romeo? é ☃ 𝄞</body>" +
  "<x:thread xmlns:x='urn:example:x'>t1</x:thread></message> \n " +
  "<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq></stream:stream>";

test("a stream fed whole and fed byte by byte gives the same stanzas", () => {
  const whole = collect();
  whole.parser.write(Buffer.from(STREAM));
  const bytes = Buffer.from(STREAM);
  const split = collect();
  for (let i = 0; i < bytes.length; i++) split.parser.write(bytes.subarray(i, i + 1));
  assert.is(whole.out.errors.length, 0, whole.out.errors[0]?.message);
  assert.is(split.out.errors.length, 0, split.out.errors[0]?.message);
  assert.is(whole.out.stanzas.length, 2);
  assert.equal(split.out.stanzas.map((s) => serialize(s, NS.client)), whole.out.stanzas.map((s) => serialize(s, NS.client)));
  assert.equal(split.out.sizes, whole.out.sizes);
  assert.is(whole.out.ends, 1);
  assert.is(whole.out.keepalives, 1);
  assert.is(whole.out.starts[0]?.to, "localhost");
  assert.is(whole.out.defaultNs[0], NS.client);
  assert.is(whole.out.stanzas[0]?.getChildText("body"), "Wherefore art thou, Romeo? é ☃ 𝄞");
});

test("namespaces resolve whatever the prefix; children inherit", () => {
  const { out, parser } = collect();
  parser.write(STREAM);
  const message = out.stanzas[0] as XmlElement;
  assert.is(message.ns, NS.client);
  assert.is(message.getChild("body")?.ns, NS.client);
  const thread = message.getChild("thread", "urn:example:x");
  assert.ok(thread, "the prefixed child is found by namespace");
  const query = (out.stanzas[1] as XmlElement).getChild("query", NS.roster) as XmlElement;
  assert.is(query.getChild("item")?.ns, NS.roster);
  // Serialising normalises the prefix to a default-namespace declaration.
  assert.match(serialize(message, NS.client), /<thread xmlns='urn:example:x'>t1<\/thread>/);
});

test("the sizes reported are the bytes of each stanza as sent", () => {
  const stanza = "<message><body>é</body></message>";
  const { out, parser } = collect();
  parser.write(HEADER + stanza);
  assert.is(out.sizes[0], Buffer.byteLength(stanza));
});

test("escaping round-trips through serialise and parse", () => {
  const tricky = `<&>"' ]]> é\u00a0☃`;
  const original = el("message", NS.client, { to: "a@b", id: tricky }, el("body", NS.client, {}, tricky));
  const xml = serialize(original, NS.client);
  assert.not.match(xml, /id='[^']*'[^ >]*'/);
  const { out, parser } = collect();
  parser.write(HEADER + xml);
  assert.is(out.errors.length, 0);
  const back = out.stanzas[0] as XmlElement;
  assert.is(back.attrs.id, tricky);
  assert.is(back.getChildText("body"), tricky);
  assert.is(serialize(back, NS.client), xml);
  assert.is(escapeText("plain"), "plain");
  assert.is(escapeAttr("a'b"), "a&apos;b");
});

test("stream-namespace elements use the stream: prefix; their children declare their own", () => {
  const features = el("features", NS.stream, {}, el("bind", NS.bind));
  assert.is(serialize(features, NS.client), "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
  assert.match(streamHeader({ from: "localhost", id: "abc", version: "1.0" }), /^<\?xml version='1.0'\?><stream:stream xmlns='jabber:client' xmlns:stream='http:\/\/etherx.jabber.org\/streams' from='localhost' id='abc' version='1.0'>$/);
});

const refused: [string, string, string][] = [
  ["a DOCTYPE", "<?xml version='1.0'?><!DOCTYPE stream>", "restricted-xml"],
  ["a comment", HEADER + "<!-- hello -->", "restricted-xml"],
  ["a processing instruction", HEADER + "<?evil data?>", "restricted-xml"],
  ["an entity declaration", HEADER + "<!ENTITY x 'y'>", "restricted-xml"],
  ["an element declaration", HEADER + "<!ELEMENT message ANY>", "restricted-xml"],
  ["an attribute-list declaration", HEADER + "<!ATTLIST message a CDATA #IMPLIED>", "restricted-xml"],
  ["a notation declaration", HEADER + "<!NOTATION n SYSTEM 'x'>", "restricted-xml"],
  ["an element declaration inside a stanza", HEADER + "<message><!ELEMENT x ANY></message>", "restricted-xml"],
  ["an XML declaration naming another encoding", "<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER.slice("<?xml version='1.0'?>".length), "unsupported-encoding"],
  ["an undefined entity reference", HEADER + "<message><body>&lol;</body></message>", "restricted-xml"],
  ["mismatched tags", HEADER + "<message><body>x</message>", "not-well-formed"],
  ["an unbound prefix", HEADER + "<foo:bar/>", "not-well-formed"],
  ["text between stanzas", HEADER + "hello<presence/>", "not-well-formed"],
  ["a control character", HEADER + "<message>\u0001</message>", "not-well-formed"],
  ["a root in the wrong namespace", "<stream xmlns='jabber:client'>", "invalid-namespace"],
];
for (const [what, input, condition] of refused) {
  test(`${what} is refused with ${condition}`, () => {
    const { out, parser } = collect();
    parser.write(input);
    assert.is(out.errors[0]?.condition, condition, `got ${out.errors[0]?.condition}: ${out.errors[0]?.message}`);
    assert.is(out.errors.length, 1);
  });
}

test("invalid UTF-8 is unsupported-encoding, never replaced and passed on (RFC 6120 §11.6)", () => {
  for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
    const { out, parser } = collect();
    parser.write(Buffer.from(HEADER + "<message><body>"));
    parser.write(Buffer.concat([Buffer.from("a"), Buffer.from(bad), Buffer.from("b</body></message>")]));
    assert.is(out.errors[0]?.condition, "unsupported-encoding", `bytes ${bad.join(",")}: ${out.errors[0]?.message}`);
    assert.is(out.stanzas.length, 0);
  }
});

test("UTF-8 (declared or not), a character split across reads and U+FFFD sent as such are accepted", () => {
  const { out, parser } = collect();
  const bytes = Buffer.from("<?xml version='1.0' encoding='UTF-8'?>" + HEADER.slice("<?xml version='1.0'?>".length) + "<message><body>é\uFFFD𝄞</body></message>");
  const cut = bytes.indexOf(Buffer.from("𝄞")) + 2;
  parser.write(bytes.subarray(0, cut));
  parser.write(bytes.subarray(cut));
  assert.is(out.errors.length, 0, out.errors[0]?.message);
  assert.is(out.stanzas[0]?.getChildText("body"), "é\uFFFD𝄞");
});

test("a markup declaration cut across chunks is refused as soon as its keyword is seen", () => {
  for (const cut of ["<", "<!", "<!E", "<!EN", "<!ENTIT", "<!ENTITY"]) {
    const { out, parser } = collect();
    parser.write(HEADER + cut);
    parser.write("<!ENTITY x 'y'>".slice(cut.length));
    assert.is(out.errors[0]?.condition, "restricted-xml", `cut after ${cut}: ${out.errors[0]?.message}`);
    assert.match(out.errors[0]?.message ?? "", cut === "<!E" ? /Markup declarations \(<!E>\)/ : /Entity declarations/);
  }
  // A DOCTYPE that never ends is refused at its start, not held whole until its '>'.
  const { out, parser } = collect({ maxStanzaBytes: 1000 });
  parser.write("<?xml version='1.0'?><!DOC");
  parser.write("TYPE x [");
  assert.is(out.errors[0]?.condition, "restricted-xml");
});

test("CDATA sections may hold anything, cut anywhere, '<!ENTITY' included", () => {
  const xml = HEADER + "<message><body><![CDATA[<!ENTITY x 'y'> <!-- ]] ]>]]></body></message>";
  for (let size = 1; size < 12; size++) {
    const { out, parser } = collect();
    for (let i = 0; i < xml.length; i += size) parser.write(xml.slice(i, i + size));
    assert.is(out.errors.length, 0, `chunks of ${size}: ${out.errors[0]?.message}`);
    assert.is(out.stanzas[0]?.getChildText("body"), "<!ENTITY x 'y'> <!-- ]] ]>");
  }
});

test("the stream header counts against the attribute limit", () => {
  const { out, parser } = collect({ maxAttributes: 10 });
  const attrs = Array.from({ length: 20 }, (_, i) => `a${i}='x'`).join(" ");
  parser.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' ${attrs}>`);
  assert.is(out.errors[0]?.condition, "policy-violation");
  assert.is(out.starts.length, 0);
});

test("the predefined entities and character references are allowed", () => {
  const { out, parser } = collect();
  parser.write(HEADER + "<message><body>&lt;&amp;&gt;&quot;&apos;&#x263A;&#65;</body></message>");
  assert.is(out.errors.length, 0);
  assert.is(out.stanzas[0]?.getChildText("body"), `<&>"'☺A`);
});

test("an oversized stanza is refused before it is complete", () => {
  const { out, parser } = collect({ maxStanzaBytes: 1000 });
  parser.write(HEADER + "<message><body>");
  parser.write("x".repeat(2000));
  assert.is(out.errors[0]?.condition, "policy-violation");
  assert.is(out.stanzas.length, 0);
});

test("an oversized stanza in a single chunk is refused too; one at the limit is accepted", () => {
  const big = collect({ maxStanzaBytes: 1000 });
  big.parser.write(HEADER + `<message><body>${"x".repeat(1200)}</body></message>`);
  assert.is(big.out.errors[0]?.condition, "policy-violation");
  const body = 1000 - "<message><body></body></message>".length;
  const fits = collect({ maxStanzaBytes: 1000 });
  fits.parser.write(HEADER + `<message><body>${"x".repeat(body)}</body></message>`);
  assert.is(fits.out.errors.length, 0);
  assert.is(fits.out.sizes[0], 1000);
});

test("nesting deeper than the limit is refused", () => {
  const { out, parser } = collect({ maxDepth: 64 });
  parser.write(HEADER + "<a>".repeat(100));
  assert.is(out.errors[0]?.condition, "policy-violation");
});

test("too many attributes are refused", () => {
  const { out, parser } = collect({ maxAttributes: 10 });
  const attrs = Array.from({ length: 20 }, (_, i) => `a${i}='x'`).join(" ");
  parser.write(HEADER + `<message ${attrs}/>`);
  assert.is(out.errors[0]?.condition, "policy-violation");
});

test("after an error nothing more is reported; reset() starts a new stream", () => {
  const { out, parser } = collect();
  parser.write(HEADER + "<message><body>x</message>");
  parser.write("<presence/>");
  assert.is(out.errors.length, 1);
  assert.is(out.stanzas.length, 0);
  parser.reset();
  parser.write(HEADER + "<presence/>");
  assert.is(out.stanzas.length, 1);
  assert.is(out.starts.length, 2);
});

test("a restart after SASL: a new header on a reset parser is a new stream", () => {
  const { out, parser } = collect();
  parser.write(HEADER + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>");
  assert.is(out.stanzas[0]?.ns, NS.sasl);
  parser.reset();
  parser.write(HEADER);
  assert.is(out.starts.length, 2);
  assert.is(out.errors.length, 0);
});

test.run();
