// The c2s stream over a real socket: header checks, stream errors for bad
// XML (RFC 6120 §4.9), SASL outcomes, binding, and order of operations.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";

const ACCOUNTS = [
  { jid: "romeo@localhost", password: "s3cret" },
  { jid: "juliet@localhost", password: "balcony" },
];

const stream = suite<{ ts: TestServer }>("c2s stream", { ts: undefined as unknown as TestServer });

stream.before(async (ctx) => {
  ctx.ts = await startTestServer({ accounts: ACCOUNTS });
});
stream.after(async (ctx) => {
  await ctx.ts.stop();
});

const streamError = (condition: string) =>
  new RegExp(`<stream:error><${condition} xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]`);

stream("the pre-auth features offer SCRAM and PLAIN and the XEP-0478 limits", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  const text = await c.waitFor(/<\/stream:features>/);
  assert.match(text, /<mechanism>SCRAM-SHA-256<\/mechanism>/);
  assert.match(text, /<mechanism>SCRAM-SHA-1<\/mechanism>/);
  assert.match(text, /<mechanism>PLAIN<\/mechanism>/);
  assert.match(text, /<limits xmlns=['"]urn:xmpp:stream-limits:0['"]><max-bytes>262144<\/max-bytes><idle-seconds>\d+<\/idle-seconds><\/limits>/);
  c.destroy();
});

stream("malformed XML gets not-well-formed and the stream closes", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write("<message><body>oops</message>");
  await c.waitFor(streamError("not-well-formed"));
  await c.waitFor(/<\/stream:stream>/);
  await c.waitClosed();
});

stream("a DOCTYPE gets restricted-xml, even before the stream header", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write("<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY x 'boom'>]>");
  const text = await c.waitFor(streamError("restricted-xml"));
  // §4.9.1.2: the server opens its own stream before the error.
  assert.match(text, /^<\?xml version=['"]1.0['"]\?><stream:stream /);
  await c.waitClosed();
});

stream("an oversized stanza gets policy-violation before it is complete", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  await c.login("romeo", "s3cret");
  c.write(`<message to='juliet@localhost'><body>${"x".repeat(300 * 1024)}`);
  await c.waitFor(streamError("policy-violation"));
  await c.waitClosed();
});

stream("elements nested deeper than the limit get policy-violation, and other clients are unaffected", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  await c.login("romeo", "s3cret");
  const other = await RawClient.connect(ts.port);
  await other.login("juliet", "balcony");
  c.write(`<message to='juliet@localhost'>${"<x>".repeat(200)}`);
  const text = await c.waitFor(streamError("policy-violation"));
  assert.match(text, /nest deeper than 64/);
  await c.waitClosed();
  other.write("<iq type='get' id='still'><ping xmlns='urn:xmpp:ping'/></iq>");
  await other.waitFor(/<iq type='result' id='still'/);
  other.destroy();
});

stream("an element with a huge number of attributes gets policy-violation", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  await c.login("romeo", "s3cret");
  const attrs = Array.from({ length: 5000 }, (_, i) => `a${i}='v'`).join(" ");
  c.write(`<message to='juliet@localhost' ${attrs}><body>hi</body></message>`);
  const text = await c.waitFor(streamError("policy-violation"));
  assert.match(text, /more than 256 attributes/);
  await c.waitClosed();
});

stream("a reference to an undeclared entity gets restricted-xml", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  await c.login("romeo", "s3cret");
  c.write("<message to='juliet@localhost'><body>&lol9;</body></message>");
  await c.waitFor(streamError("restricted-xml"));
  await c.waitClosed();
});

stream("an entity declaration inside the stream gets restricted-xml", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  await c.login("romeo", "s3cret");
  c.write("<!ENTITY lol 'lol'><message to='juliet@localhost'><body>&lol;</body></message>");
  await c.waitFor(streamError("restricted-xml"));
  await c.waitClosed();
});

stream("a wrong stream namespace gets invalid-namespace", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>");
  await c.waitFor(streamError("invalid-namespace"));
  await c.waitClosed();
});

stream("a header for a domain not served gets host-unknown", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER("elsewhere.example"));
  await c.waitFor(streamError("host-unknown"));
  await c.waitClosed();
});

stream("a header without version 1.0 gets unsupported-version", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>");
  await c.waitFor(streamError("unsupported-version"));
  await c.waitClosed();
});

stream("a stanza before authentication gets not-authorized", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write("<message to='juliet@localhost'><body>hi</body></message>");
  await c.waitFor(streamError("not-authorized"));
  await c.waitClosed();
});

stream("a wrong password gets a SASL not-authorized failure, and the stream stays open", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0wrong").toString("base64")}</auth>`);
  await c.waitFor(/<failure xmlns=['"]urn:ietf:params:xml:ns:xmpp-sasl['"]><not-authorized\/>/);
  c.clear();
  // The right password still works on the same stream.
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0s3cret").toString("base64")}</auth>`);
  await c.waitFor(/<success/);
  c.destroy();
});

stream("an unknown mechanism gets invalid-mechanism; an abort gets aborted", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-MAGIC'>=</auth>");
  await c.waitFor(/<invalid-mechanism\/>/);
  c.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>" +
    Buffer.from("n,,n=romeo,r=abcdefgh").toString("base64") + "</auth>");
  await c.waitFor(/<challenge/);
  c.write("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
  await c.waitFor(/<aborted\/>/);
  c.destroy();
});

stream("bad base64 gets incorrect-encoding; a garbled SCRAM message gets malformed-request", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>***</auth>");
  await c.waitFor(/<incorrect-encoding\/>/);
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${Buffer.from("garbage").toString("base64")}</auth>`);
  await c.waitFor(/<malformed-request\/>/);
  c.destroy();
});

stream("after SASL the server offers bind and optional session; bind generates a resource", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0s3cret").toString("base64")}</auth>`);
  await c.waitFor(/<success/);
  c.clear();
  c.write(HEADER());
  const features = await c.waitFor(/<\/stream:features>/);
  assert.match(features, /<bind xmlns=['"]urn:ietf:params:xml:ns:xmpp-bind['"]\/>/);
  assert.match(features, /<session xmlns=['"]urn:ietf:params:xml:ns:xmpp-session['"]><optional\/><\/session>/);
  c.write("<presence/>");
  await c.waitFor(streamError("not-authorized"));
});

stream("a generated resource, the legacy session IQ, and a clean close on both sides", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  const jid = await c.login("romeo", "s3cret");
  assert.match(jid, /^romeo@localhost\/.{8,}$/);
  c.write("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
  await c.waitFor(/<iq type=['"]result['"] id=['"]s1['"]\/>/);
  c.write("</stream:stream>");
  await c.waitFor(/<\/stream:stream>/);
  await c.waitClosed();
});

stream("a second session with the same full JID replaces the first with a conflict error", async ({ ts }) => {
  const first = await RawClient.connect(ts.port);
  await first.login("juliet", "balcony", "balcony");
  const second = await RawClient.connect(ts.port);
  const jid = await second.login("juliet", "balcony", "balcony");
  assert.is(jid, "juliet@localhost/balcony");
  await first.waitFor(streamError("conflict"));
  await first.waitClosed();
  // The new session works.
  second.write("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
  await second.waitFor(/id=['"]p['"]/);
  second.destroy();
});

stream("binary garbage gets not-well-formed", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write(Buffer.from([0x00, 0xff, 0xfe, 0x3c, 0x01, 0x02]));
  await c.waitFor(streamError("(not-well-formed|invalid-xml|bad-format|unsupported-encoding)"));
  await c.waitClosed();
});

// RFC 6120 §11.6 and §4.9.3.22: the stream is UTF-8; anything else is a stream error, never repaired.
stream("invalid UTF-8 in a stanza gets unsupported-encoding, and nothing of it is forwarded", async ({ ts }) => {
  const juliet = await RawClient.connect(ts.port);
  await juliet.login("juliet", "balcony", "utf8");
  const c = await RawClient.connect(ts.port);
  await c.login("romeo", "s3cret");
  c.write(Buffer.concat([
    Buffer.from("<message to='juliet@localhost/utf8' type='chat'><body>bad "), Buffer.from([0xc3, 0x28, 0xff]),
    Buffer.from(" bytes</body></message>"),
  ]));
  await c.waitFor(streamError("unsupported-encoding"));
  await c.waitClosed();
  // A ping answered after the refusal shows juliet's stream is served and got no message.
  juliet.write("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  const text = await juliet.waitFor(/id='p1'/);
  assert.not.match(text, /bad/);
  juliet.destroy();
});

stream("an XML declaration naming an encoding other than UTF-8 gets unsupported-encoding", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER().replace("<?xml version='1.0'?>", "<?xml version='1.0' encoding='ISO-8859-1'?>"));
  await c.waitFor(streamError("unsupported-encoding"));
  await c.waitClosed();
});

stream("an element declaration gets restricted-xml", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  await c.login("romeo", "s3cret");
  c.write("<!ELEMENT message ANY><message to='juliet@localhost'><body>x</body></message>");
  await c.waitFor(streamError("restricted-xml"));
  await c.waitClosed();
});

stream("an entity declaration split across two TCP segments gets restricted-xml", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  await c.login("romeo", "s3cret");
  c.write("<!EN");
  // Long enough that the server reads the first segment alone.
  await new Promise((r) => setTimeout(r, 100));
  c.write("TITY lol 'lol'><message to='juliet@localhost'><body>&lol;</body></message>");
  await c.waitFor(streamError("restricted-xml"));
  await c.waitClosed();
});

stream("a stream header with more attributes than the limit gets policy-violation", async ({ ts }) => {
  const c = await RawClient.connect(ts.port);
  const attrs = Array.from({ length: 300 }, (_, i) => `a${i}='x'`).join(" ");
  c.write(HEADER().replace("version='1.0'>", `version='1.0' ${attrs}>`));
  await c.waitFor(streamError("policy-violation"));
  await c.waitClosed();
});

stream.run();
