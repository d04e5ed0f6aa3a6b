// XEP-0198 Stream Management and XEP-0352 Client State Indication over real
// sockets: the features (§2), enabling (§3), acks both ways (§4), resumption
// after a killed connection with the queued stanzas in order (§5),
// item-not-found for an unknown previd, and what a stream that expires leaves
// behind (offline storage, unavailable presence to whoever saw it, once).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import type { ServerConfig } from "../../src/config.js";

const SM = "urn:xmpp:sm:3";
const ACCOUNTS = [
  { jid: "romeo@localhost", password: "romeo-pass" },
  { jid: "juliet@localhost", password: "juliet-pass" },
];

async function withServer(body: (ts: TestServer) => Promise<void>, configure?: (c: ServerConfig) => void): Promise<void> {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure });
  try {
    await body(ts);
  } finally {
    await ts.stop();
  }
}

/** SASL PLAIN and the stream restart, without binding; resolves with the post-auth features. */
async function authenticate(port: number, user: string, password: string): Promise<{ c: RawClient; features: string }> {
  const c = await RawClient.connect(port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString("base64")}</auth>`);
  await c.waitFor(/<success/);
  c.clear();
  c.write(HEADER());
  const features = await c.waitFor(/<\/stream:features>/);
  c.clear();
  return { c, features };
}

/** Logs in, binds `resource` and enables stream management; resolves with the stream id (when resumable). */
async function managed(port: number, user: string, password: string, resource: string, resume = true): Promise<{ c: RawClient; id: string | undefined }> {
  const c = await RawClient.connect(port);
  await c.login(user, password, resource);
  c.write(`<enable xmlns='${SM}'${resume ? " resume='true'" : ""}/>`);
  const text = await c.waitFor(/<enabled[^>]*>/);
  const id = /<enabled[^>]* id=['"]([^'"]+)['"]/.exec(text)?.[1];
  c.clear();
  return { c, id };
}

/** The bodies that arrived, in order. */
function bodies(text: string): string[] {
  return [...text.matchAll(/<body>([^<]*)<\/body>/g)].map((m) => m[1] as string);
}

async function plain(port: number, user: string, password: string, resource: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.login(user, password, resource);
  return c;
}

test("sm and csi are offered after authentication; enable resume='true' answers an id and the configured max (§3, §5)", () => withServer(async (ts) => {
  const { c, features } = await authenticate(ts.port, "romeo", "romeo-pass");
  assert.match(features, /<sm xmlns=['"]urn:xmpp:sm:3['"]/);
  assert.match(features, /<csi xmlns=['"]urn:xmpp:csi:0['"]/);
  // §3: enabling before binding is unexpected.
  c.write(`<enable xmlns='${SM}'/>`);
  await c.waitFor(/<failed xmlns=['"]urn:xmpp:sm:3['"]><unexpected-request/);
  c.clear();
  c.write("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>orchard</resource></bind></iq>");
  await c.waitFor(/<jid>/);
  c.write(`<enable xmlns='${SM}' resume='true'/>`);
  const enabled = await c.waitFor(/<enabled[^>]*>/);
  assert.match(enabled, /resume=['"]true['"]/);
  assert.match(enabled, /max=['"]77['"]/);
  assert.match(enabled, / id=['"][A-Za-z0-9_-]{16,}['"]/);
  // A second <enable/> is unexpected.
  c.clear();
  c.write(`<enable xmlns='${SM}'/>`);
  await c.waitFor(/<failed[^>]*><unexpected-request/);
  c.destroy();
}, (config) => { config.streamManagement.timeoutSeconds = 77; }));

test("acks both ways: <r/> is answered with the stanzas handled; the server asks for acks and accepts the client's h (§4)", () => withServer(async (ts) => {
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  const { c: romeo } = await managed(ts.port, "romeo", "romeo-pass", "orchard");
  romeo.write("<message to='juliet@localhost/balcony' type='chat'><body>one</body></message>");
  romeo.write("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  romeo.write(`<r xmlns='${SM}'/>`);
  // Two stanzas handled; the ping's result is the first stanza the server counts, and it asks for an ack.
  const text = await romeo.waitFor(/<a xmlns=['"]urn:xmpp:sm:3['"] h=['"]2['"]\/>/);
  assert.match(text, /id=['"]p1['"][\s\S]*<r xmlns=['"]urn:xmpp:sm:3['"]\/>/);
  await juliet.waitFor(/<body>one<\/body>/);
  romeo.write(`<a xmlns='${SM}' h='1'/>`);
  romeo.clear();
  juliet.write("<message to='romeo@localhost/orchard' type='chat'><body>two</body></message>");
  await romeo.waitFor(/<body>two<\/body>[\s\S]*<r xmlns/);
  romeo.write(`<a xmlns='${SM}' h='2'/>`);
  await romeo.sync("after-ack");
  // §4: an h larger than what was sent is a stream error.
  romeo.write(`<a xmlns='${SM}' h='9'/>`);
  await romeo.waitFor(/<stream:error><undefined-condition/);
  await romeo.waitClosed();
  juliet.destroy();
}));

test("resumption after a killed connection: the stanzas queued meanwhile arrive in order, then the stream goes on (§5)", () => withServer(async (ts) => {
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  const { c: first, id } = await managed(ts.port, "romeo", "romeo-pass", "orchard");
  assert.ok(id);
  juliet.write("<message to='romeo@localhost/orchard' type='chat'><body>before</body></message>");
  await first.waitFor(/<body>before<\/body>/);
  first.write(`<a xmlns='${SM}' h='1'/>`);
  await first.sync("acked");
  first.destroy();
  await new Promise((r) => setTimeout(r, 100));
  for (const b of ["q1", "q2", "q3"]) juliet.write(`<message to='romeo@localhost/orchard' type='chat'><body>${b}</body></message>`);
  await juliet.sync("sent");
  // The ping result counted as stanza 2 (unacknowledged); then q1..q3 are 3..5. The server handled one stanza (the ping).
  const { c: second } = await authenticate(ts.port, "romeo", "romeo-pass");
  second.write(`<resume xmlns='${SM}' previd='${id}' h='2'/>`);
  const resumed = await second.waitFor(/<body>q3<\/body>/);
  assert.match(resumed, new RegExp(`<resumed xmlns=['"]urn:xmpp:sm:3['"] previd=['"]${id}['"] h=['"]1['"]/>`), resumed);
  assert.equal(bodies(resumed), ["q1", "q2", "q3"]);
  assert.not.match(resumed, /before/);
  second.clear();
  juliet.write("<message to='romeo@localhost/orchard' type='chat'><body>after</body></message>");
  await second.waitFor(/<body>after<\/body>/);
  // The counter went on from where the first connection left it: after = stanza 6.
  second.write(`<a xmlns='${SM}' h='6'/>`);
  second.write("<message to='juliet@localhost/balcony' type='chat'><body>from the new connection</body></message>");
  await juliet.waitFor(/from the new connection/);
  second.write(`<r xmlns='${SM}'/>`);
  // Inbound counting went on as well: the ping 'acked' (1), then this message (2).
  await second.waitFor(/<a xmlns=['"]urn:xmpp:sm:3['"] h=['"]2['"]\/>/);
  // The resumed stream cannot be resumed twice at once; an unknown one is item-not-found.
  const { c: third } = await authenticate(ts.port, "romeo", "romeo-pass");
  third.write(`<resume xmlns='${SM}' previd='no-such-stream' h='0'/>`);
  await third.waitFor(/<failed xmlns=['"]urn:xmpp:sm:3['"]><item-not-found xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]\/><\/failed>/);
  // It may still bind as usual.
  third.write("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
  await third.waitFor(/<jid>romeo@localhost\//);
  for (const c of [juliet, second, third]) c.destroy();
}));

test("a resumption while the old connection still seems alive replaces it, which gets a conflict", () => withServer(async (ts) => {
  const { c: first, id } = await managed(ts.port, "romeo", "romeo-pass", "orchard");
  const { c: second } = await authenticate(ts.port, "romeo", "romeo-pass");
  second.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
  await second.waitFor(/<resumed/);
  await first.waitFor(/<conflict/);
  await first.waitClosed();
  second.write("<iq type='get' id='still' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  await second.waitFor(/id=['"]still['"]/);
  second.destroy();
}));

test("another user cannot resume my stream, nor anyone one that ended with </stream:stream>: item-not-found", () => withServer(async (ts) => {
  const { c: first, id } = await managed(ts.port, "romeo", "romeo-pass", "orchard");
  const { c: juliet } = await authenticate(ts.port, "juliet", "juliet-pass");
  juliet.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
  await juliet.waitFor(/<item-not-found/);
  first.write("</stream:stream>");
  await first.waitClosed();
  const { c: again } = await authenticate(ts.port, "romeo", "romeo-pass");
  again.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
  await again.waitFor(/<item-not-found/);
  for (const c of [juliet, again]) c.destroy();
}));

test("when a detached stream expires, its unacknowledged message goes to offline storage and directed presence ends once", () => withServer(async (ts) => {
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  const { c: romeo } = await managed(ts.port, "romeo", "romeo-pass", "orchard");
  // Available, and directed presence to juliet (RFC 6121 §4.6), who must hear romeo's unavailable when the stream expires.
  romeo.write("<presence/>");
  romeo.write("<presence to='juliet@localhost/balcony'/>");
  await juliet.waitFor(/<presence[^>]*from=['"]romeo@localhost\/orchard['"]/);
  juliet.clear();
  // Delivered but never acknowledged: the connection dies before the client says it got it.
  juliet.write("<message to='romeo@localhost' type='chat'><body>are you there?</body></message>");
  await romeo.waitFor(/are you there\?/);
  romeo.destroy();
  await juliet.waitFor(/type=['"]unavailable['"]/, 4000);
  await new Promise((r) => setTimeout(r, 300));
  assert.is(juliet.text.match(/type=['"]unavailable['"]/g)?.length, 1, juliet.text);
  // Logging in again: the message comes from offline storage, once.
  const back = await plain(ts.port, "romeo", "romeo-pass", "garden");
  back.write("<presence/>");
  const text = await back.waitFor(/are you there\?[\s\S]*/);
  await back.sync("later");
  assert.is(back.text.match(/are you there\?/g)?.length, 1);
  assert.match(text, /urn:xmpp:delay/);
  for (const c of [juliet, back]) c.destroy();
}, (config) => { config.streamManagement.timeoutSeconds = 1; }));

test("while another resource is online, an expired stream's archived message is not delivered twice", () => withServer(async (ts) => {
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  const desk = await plain(ts.port, "romeo", "romeo-pass", "desk");
  desk.write("<presence/>");
  desk.write("<iq type='set' id='c'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
  await desk.waitFor(/id=['"]c['"]/);
  const { c: phone } = await managed(ts.port, "romeo", "romeo-pass", "phone");
  phone.write("<presence><priority>5</priority></presence>");
  await phone.sync("p");
  desk.clear();
  juliet.write("<message to='romeo@localhost' type='chat'><body>hello phone</body></message>");
  await phone.waitFor(/hello phone/);
  await desk.waitFor(/hello phone/); // the carbon
  phone.destroy();
  await desk.waitFor(/<presence type=['"]unavailable['"] from=['"]romeo@localhost\/phone['"]/, 4000);
  await new Promise((r) => setTimeout(r, 200));
  assert.is(desk.text.match(/hello phone/g)?.length, 1);
  assert.not.match(juliet.text, /recipient-unavailable/);
  for (const c of [juliet, desk]) c.destroy();
}, (config) => { config.streamManagement.timeoutSeconds = 1; }));

test("CSI: an inactive client gets presence (the latest per contact) and chat states only when something important arrives, in order (XEP-0352)", () => withServer(async (ts) => {
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  const romeo = await plain(ts.port, "romeo", "romeo-pass", "orchard");
  // Directed presence both ways so that presence flows without a roster.
  juliet.write("<presence to='romeo@localhost/orchard'><status>first</status></presence>");
  await romeo.waitFor(/first/);
  romeo.write("<inactive xmlns='urn:xmpp:csi:0'/>");
  await romeo.sync("inactive");
  romeo.clear();
  juliet.write("<presence to='romeo@localhost/orchard'><status>second</status></presence>");
  juliet.write("<message to='romeo@localhost/orchard' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
  juliet.write("<presence to='romeo@localhost/orchard'><status>third</status></presence>");
  await juliet.sync("sent");
  await new Promise((r) => setTimeout(r, 100));
  assert.not.match(romeo.text, /second|third|composing/);
  juliet.write("<message to='romeo@localhost/orchard' type='chat'><body>important</body></message>");
  const text = await romeo.waitFor(/important/);
  assert.not.match(text, /second/);
  const order = [text.indexOf("composing"), text.indexOf("third"), text.indexOf("important")];
  assert.ok(order[0]! >= 0 && order[0]! < order[1]! && order[1]! < order[2]!, text);
  // <active/> writes out what was held since.
  romeo.write("<inactive xmlns='urn:xmpp:csi:0'/>");
  await romeo.sync("inactive-again");
  juliet.write("<presence to='romeo@localhost/orchard'><status>fourth</status></presence>");
  await juliet.sync("sent-again");
  await new Promise((r) => setTimeout(r, 100));
  assert.not.match(romeo.text, /fourth/);
  romeo.write("<active xmlns='urn:xmpp:csi:0'/>");
  await romeo.waitFor(/fourth/);
  for (const c of [juliet, romeo]) c.destroy();
}));

test.run();
