// XEP-0280 Message Carbons over real sockets: enabling and disabling per
// resource (§4, §5), received copies (§7) and sent copies (§8), which
// messages are copied (§6.1), the <private/> and no-copy opt-outs (§9), a
// message that went offline, and XEP-0184 receipts and XEP-0333 markers
// delivered untouched and copied.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { XmlElement } from "../../src/xml/element.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { Peer, barrier } from "../helpers/xmpp-peer.js";

const CARBONS = "urn:xmpp:carbons:2";
const FORWARD = "urn:xmpp:forward:0";
const ACCOUNTS = [
  { jid: "romeo@localhost", password: "r" },
  { jid: "juliet@localhost", password: "j" },
];

/** The carbon copies of one kind a resource received. */
function carbons(p: Peer, kind: "sent" | "received"): XmlElement[] {
  return p.messages().filter((m) => m.getChild(kind, CARBONS) !== undefined);
}

/** The message a carbon forwards (XEP-0297). */
function forwardedOf(carbon: XmlElement): XmlElement {
  const wrapper = carbon.getChild("sent", CARBONS) ?? carbon.getChild("received", CARBONS);
  const inner = wrapper?.getChild("forwarded", FORWARD)?.getChild("message", "jabber:client");
  if (!inner) throw new Error(`not a carbon: ${JSON.stringify(carbon)}`);
  return inner;
}

/** Messages that are not carbons. */
function originals(p: Peer): XmlElement[] {
  return p.messages().filter((m) => m.getChild("sent", CARBONS) === undefined && m.getChild("received", CARBONS) === undefined);
}

function bodies(messages: readonly XmlElement[]): string[] {
  return messages.map((m) => m.getChildText("body") ?? "");
}

/** Juliet on three resources (balcony and phone with carbons, desk without, all at priority 0) and Romeo on two (garden with carbons). */
async function cast(ts: TestServer) {
  const balcony = await Peer.login(ts.port, "juliet", "j", "balcony");
  const phone = await Peer.login(ts.port, "juliet", "j", "phone");
  const desk = await Peer.login(ts.port, "juliet", "j", "desk");
  const orchard = await Peer.login(ts.port, "romeo", "r", "orchard");
  const garden = await Peer.login(ts.port, "romeo", "r", "garden");
  for (const p of [balcony, phone, desk, orchard, garden]) await p.available();
  for (const p of [balcony, phone, garden]) await p.enableCarbons();
  const all = [balcony, phone, desk, orchard, garden];
  await barrier(all);
  for (const p of all) p.clear();
  return { balcony, phone, desk, orchard, garden, all };
}

async function withServer(body: (ts: TestServer) => Promise<void>): Promise<void> {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    await body(ts);
  } finally {
    await ts.stop();
  }
}

test("the server advertises urn:xmpp:carbons:2 and the rules of §6.1 as required (urn:xmpp:carbons:rules:0)", () => withServer(async (ts) => {
  const romeo = await Peer.login(ts.port, "romeo", "r", "orchard");
  const info = await romeo.iq("<iq type='get' id='info' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", "info");
  const features = info.getChild("query")?.getChildren("feature").map((f) => f.attrs.var) ?? [];
  assert.ok(features.includes(CARBONS), `features: ${features.join(" ")}`);
  assert.ok(features.includes("urn:xmpp:carbons:rules:0"));
  romeo.close();
}));

test("enable and disable are answered with a result, twice in a row too (§10.1); another user's carbons are not-allowed (§5.1)", () => withServer(async (ts) => {
  const romeo = await Peer.login(ts.port, "romeo", "r", "orchard");
  for (const [id, name] of [["e1", "enable"], ["e2", "enable"], ["d1", "disable"], ["d2", "disable"]] as const) {
    const reply = await romeo.iq(`<iq type='set' id='${id}'><${name} xmlns='${CARBONS}'/></iq>`, id);
    assert.is(reply.attrs.type, "result", `${id}: ${JSON.stringify(reply.attrs)}`);
    assert.is(reply.children.length, 0);
  }
  const other = await romeo.iq(`<iq type='set' id='x1' to='juliet@localhost'><enable xmlns='${CARBONS}'/></iq>`, "x1");
  assert.is(other.attrs.type, "error");
  assert.ok(other.getChild("error")?.getChild("not-allowed", "urn:ietf:params:xml:ns:xmpp-stanzas"), JSON.stringify(other));
  romeo.close();
}));

test("§7: a message to one resource is copied, wrapped in <received/>, to the other carbons-enabled resources only", () => withServer(async (ts) => {
  const { balcony, phone, desk, orchard, garden, all } = await cast(ts);
  orchard.write(`<message type='chat' to='${balcony.jid}' id='m1'><body>What man art thou?</body><thread>t1</thread></message>`);
  await barrier(all);
  assert.equal(bodies(originals(balcony)), ["What man art thou?"]);
  assert.equal(balcony.messages().length, 1, "the addressed resource gets no copy (§7)");
  const [copy, ...more] = carbons(phone, "received");
  assert.ok(copy, `phone got: ${phone.raw.text}`);
  assert.equal(more, []);
  assert.equal(copy.attrs, { from: "juliet@localhost", to: phone.jid, type: "chat" });
  const inner = forwardedOf(copy);
  assert.is(inner.attrs.from, orchard.jid);
  assert.is(inner.attrs.to, balcony.jid);
  assert.is(inner.attrs.id, "m1");
  assert.is(inner.getChildText("body"), "What man art thou?");
  assert.is(inner.getChildText("thread"), "t1");
  assert.equal(desk.messages(), [], "desk did not enable carbons");
  // §8 on Romeo's side: garden enabled carbons, so it sees what orchard sent.
  const [sent] = carbons(garden, "sent");
  assert.ok(sent, `garden got: ${garden.raw.text}`);
  assert.equal(sent.attrs, { from: "romeo@localhost", to: garden.jid, type: "chat" });
  assert.is(forwardedOf(sent).attrs.to, balcony.jid);
  assert.equal(orchard.messages(), [], "the sender gets no copy of its own message");
  for (const p of all) p.close();
}));

test("§8: a message one resource sends is copied, wrapped in <sent/>, to the others that enabled carbons, whether or not the sender did", () => withServer(async (ts) => {
  const { balcony, phone, desk, orchard, garden, all } = await cast(ts);
  desk.write(`<message type='chat' to='romeo@localhost' id='s1'><body>Neither, fair saint</body></message>`);
  await barrier(all);
  for (const p of [balcony, phone]) {
    const [copy, ...more] = carbons(p, "sent");
    assert.ok(copy, `${p.resource} got: ${p.raw.text}`);
    assert.equal(more, []);
    assert.equal(copy.attrs, { from: "juliet@localhost", to: p.jid, type: "chat" });
    const inner = forwardedOf(copy);
    assert.equal([inner.attrs.from, inner.attrs.to, inner.attrs.id], [desk.jid, "romeo@localhost", "s1"]);
  }
  assert.equal(desk.messages(), []);
  // Romeo's resources are both at priority 0: both get the original (a tie), so no received copy.
  for (const p of [orchard, garden]) assert.equal(bodies(p.messages()), ["Neither, fair saint"], p.resource);
  assert.equal(carbons(garden, "received"), []);
  // Disabled again: no more copies for the phone.
  await phone.iq(`<iq type='set' id='off'><disable xmlns='${CARBONS}'/></iq>`, "off");
  phone.clear();
  balcony.clear();
  desk.write(`<message type='chat' to='romeo@localhost' id='s2'><body>again</body></message>`);
  await barrier(all);
  assert.equal(phone.messages(), []);
  assert.is(carbons(balcony, "sent").length, 1);
  for (const p of all) p.close();
}));

test("§9: <private/> and XEP-0334 <no-copy/> stop the copies on both sides; the message itself is delivered as sent", () => withServer(async (ts) => {
  const { balcony, phone, desk, orchard, garden, all } = await cast(ts);
  orchard.write(`<message type='chat' to='${balcony.jid}' id='p1'><body>private</body><private xmlns='${CARBONS}'/></message>`);
  orchard.write(`<message type='chat' to='${balcony.jid}' id='p2'><body>no copy</body><no-copy xmlns='urn:xmpp:hints'/></message>`);
  balcony.write(`<message type='chat' to='${orchard.jid}' id='p3'><body>private reply</body><private xmlns='${CARBONS}'/><no-copy xmlns='urn:xmpp:hints'/></message>`);
  await barrier(all);
  assert.equal(bodies(balcony.messages()), ["private", "no copy"]);
  // Not stripped: XEP-0280 1.0 lifted the old requirement to remove <private/> (§9, interoperability note).
  assert.ok(balcony.messages()[0]?.getChild("private", CARBONS));
  assert.equal(bodies(orchard.messages()), ["private reply"]);
  assert.ok(orchard.messages()[0]?.getChild("private", CARBONS));
  for (const p of [phone, desk, garden]) assert.equal(p.messages(), [], p.resource);
  for (const p of all) p.close();
}));

test("§6.1: chat, normal with a body, receipts, chat states, markers and invitations are copied; groupchat, headline, bodiless normal and MUC private messages are not", () => withServer(async (ts) => {
  const { balcony, phone, orchard, all } = await cast(ts);
  const to = balcony.jid;
  const eligible = [
    `<message to='${to}' id='e1'><body>normal with a body</body></message>`,
    `<message to='${to}' id='e2'><received xmlns='urn:xmpp:receipts' id='x'/></message>`,
    `<message to='${to}' id='e3'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
    `<message to='${to}' id='e4'><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>`,
    `<message to='${to}' id='e5'><x xmlns='jabber:x:conference' jid='room@conference.localhost'/></message>`,
    `<message to='${to}' id='e6'><x xmlns='http://jabber.org/protocol/muc#user'><invite from='x@localhost'/></x></message>`,
    `<message to='${to}' id='e7' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
  ];
  const ineligible = [
    `<message to='${to}' id='n1' type='groupchat'><body>groupchat</body></message>`,
    `<message to='${to}' id='n2' type='headline'><body>headline</body></message>`,
    `<message to='${to}' id='n3'><x xmlns='urn:example:custom'/></message>`,
    `<message to='${to}' id='n4' type='chat'><body>muc pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`,
  ];
  for (const m of [...eligible, ...ineligible]) orchard.write(m);
  await barrier(all);
  assert.equal(balcony.messages().map((m) => m.attrs.id), ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "n1", "n2", "n3", "n4"]);
  assert.equal(carbons(phone, "received").map((c) => forwardedOf(c).attrs.id), ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]);
  assert.equal(carbons(phone, "received").map((c) => c.attrs.type), [undefined, undefined, undefined, undefined, undefined, undefined, "chat"]);
  for (const p of all) p.close();
}));

test("§6.1: an error answering an eligible message is copied, one answering nothing copied is not", () => withServer(async (ts) => {
  const { balcony, phone, orchard, all } = await cast(ts);
  balcony.write(`<message type='chat' to='${orchard.jid}' id='q1'><body>question</body></message>`);
  await barrier(all);
  phone.clear();
  orchard.write(`<message type='error' to='${balcony.jid}' id='q1'><error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`);
  orchard.write(`<message type='error' to='${balcony.jid}' id='unrelated'><error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`);
  await barrier(all);
  assert.equal(balcony.messages().filter((m) => m.attrs.type === "error").map((m) => m.attrs.id), ["q1", "unrelated"]);
  const copies = carbons(phone, "received");
  assert.equal(copies.map((c) => [c.attrs.type, forwardedOf(c).attrs.id]), [["error", "q1"]]);
  for (const p of all) p.close();
}));

test("a message to the bare JID with no available resource goes offline and is copied to the carbons-enabled resources", () => withServer(async (ts) => {
  // One resource enabled carbons before its presence (as clients should), another at priority -1.
  const early = await Peer.login(ts.port, "juliet", "j", "early");
  await early.enableCarbons();
  const hidden = await Peer.login(ts.port, "juliet", "j", "hidden");
  await hidden.available(-1);
  await hidden.enableCarbons();
  const plain = await Peer.login(ts.port, "juliet", "j", "plain");
  const romeo = await Peer.login(ts.port, "romeo", "r", "orchard");
  const all = [early, hidden, plain, romeo];
  await barrier(all);
  for (const p of all) p.clear();
  romeo.write("<message type='chat' to='juliet@localhost' id='o1'><body>for later</body></message>");
  await barrier(all);
  for (const p of [early, hidden]) {
    const copies = carbons(p, "received");
    assert.equal(copies.map((c) => forwardedOf(c).getChildText("body")), ["for later"], p.resource);
    assert.equal(originals(p), []);
  }
  assert.equal(plain.messages(), []);
  assert.equal(romeo.messages(), [], "stored, not bounced");
  // Still stored: non-negative presence collects it (XEP-0160).
  const phone = await Peer.login(ts.port, "juliet", "j", "phone");
  await phone.available();
  await barrier([phone]);
  assert.equal(bodies(originals(phone)), ["for later"]);
  for (const p of [...all, phone]) p.close();
}));

test("a message between the user's own resources: one sent copy to each other carbons-enabled resource, none to the sender or the recipient", () => withServer(async (ts) => {
  const { balcony, phone, desk, all } = await cast(ts);
  desk.write(`<message type='chat' to='${balcony.jid}' id='self1'><body>note to self</body></message>`);
  await barrier(all);
  assert.equal(bodies(balcony.messages()), ["note to self"], "the recipient gets the original only");
  assert.equal(phone.messages().map((m) => [m.getChild("sent", CARBONS) !== undefined, forwardedOf(m).attrs.id]), [[true, "self1"]]);
  assert.equal(desk.messages(), []);
  for (const p of all) p.clear();
  // To the own bare JID: all three are at priority 0 and get the original; nobody is left for a copy.
  phone.write(`<message type='chat' to='juliet@localhost' id='self2'><body>to all of me</body></message>`);
  await barrier(all);
  for (const p of [balcony, phone, desk]) assert.equal(bodies(p.messages()), ["to all of me"], p.resource);
  for (const p of all) p.close();
}));

test("a message to a blocked JID bounces without copies; one from a blocked JID is dropped without copies (XEP-0191 runs first)", () => withServer(async (ts) => {
  const { balcony, phone, desk, orchard, garden, all } = await cast(ts);
  await balcony.iq("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block></iq>", "b1");
  await barrier(all);
  for (const p of all) p.clear();
  balcony.write("<message type='chat' to='romeo@localhost' id='bl1'><body>blocked out</body></message>");
  orchard.write(`<message type='chat' to='${phone.jid}' id='bl2'><body>blocked in</body></message>`);
  await barrier(all);
  assert.equal(balcony.messages().map((m) => [m.attrs.id, m.attrs.type]), [["bl1", "error"]]);
  for (const p of [phone, desk]) assert.equal(p.messages(), [], p.resource);
  // Romeo's side knows no block: garden sees what orchard sent, and the error
  // that answered it (§6.1: an error answering an eligible message).
  assert.equal(garden.messages().map((m) => [m.getChild("sent", CARBONS) ? "sent" : "received", forwardedOf(m).attrs.id, forwardedOf(m).attrs.type]),
    [["sent", "bl2", "chat"], ["received", "bl2", "error"]]);
  for (const p of all) p.close();
}));

test("XEP-0184 receipts and XEP-0333 markers are delivered untouched and copied both ways", () => withServer(async (ts) => {
  const { balcony, phone, orchard, garden, all } = await cast(ts);
  const request = `<message type='chat' to='${balcony.jid}' id='r1'><body>Dost thou love me?</body><request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/></message>`;
  orchard.write(request);
  await barrier(all);
  const [got] = originals(balcony);
  assert.ok(got?.getChild("request", "urn:xmpp:receipts"), balcony.raw.text);
  assert.ok(got?.getChild("markable", "urn:xmpp:chat-markers:0"));
  const [received] = carbons(phone, "received");
  assert.ok(received && forwardedOf(received).getChild("request", "urn:xmpp:receipts"), phone.raw.text);
  for (const p of all) p.clear();
  // Juliet's receipt and marker, as normal messages without a body.
  balcony.write(`<message to='${orchard.jid}' id='r2'><received xmlns='urn:xmpp:receipts' id='r1'/></message>`);
  balcony.write(`<message to='${orchard.jid}' id='r3'><displayed xmlns='urn:xmpp:chat-markers:0' id='r1'/></message>`);
  await barrier(all);
  const answers = originals(orchard);
  assert.equal(answers.map((m) => m.attrs.id), ["r2", "r3"]);
  assert.equal(answers[0]?.getChild("received", "urn:xmpp:receipts")?.attrs, { id: "r1" });
  assert.equal(answers[1]?.getChild("displayed", "urn:xmpp:chat-markers:0")?.attrs, { id: "r1" });
  assert.equal(carbons(phone, "sent").map((c) => forwardedOf(c).attrs.id), ["r2", "r3"]);
  assert.equal(carbons(garden, "received").map((c) => forwardedOf(c).attrs.id), ["r2", "r3"]);
  for (const p of all) p.close();
}));

test.run();
