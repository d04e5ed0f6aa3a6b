// XEP-0198 §4 counting (h modulo 2^32, acks, an h too high) and the XEP-0352
// filter, without sockets.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { el, type XmlElement } from "../../src/xml/element.js";
import { parseJid } from "../../src/jid/jid.js";
import { DeliveryOutlet } from "../../src/actors/delivery-sink.js";
import { ManagedStream, ManagedStreamRegistry, NS_SM, parseH } from "../../src/actors/stream-management.js";
import { ClientStateFilter, isUnimportant } from "../../src/actors/client-state.js";

const message = (body: string) => el("message", "jabber:client", { type: "chat" }, el("body", "jabber:client", {}, body));
const presence = (from: string, status: string) => el("presence", "jabber:client", { from }, el("status", "jabber:client", {}, status));
const composing = () => el("message", "jabber:client", { type: "chat" }, el("composing", "http://jabber.org/protocol/chatstates"));

function stream(maxQueue = 10, id: string | null = "id1"): ManagedStream {
  return new ManagedStream(id ?? undefined, parseJid("romeo@localhost/orchard"), "s1", new DeliveryOutlet(), { actor: { send: () => undefined } }, 60, maxQueue);
}

test("each stanza sent is numbered and kept until acknowledged; one <r/> per outstanding request", () => {
  const s = stream();
  const written: XmlElement[] = [];
  const sink = s.sink((x) => written.push(x), () => assert.unreachable("no overflow"));
  for (const b of ["a", "b", "c"]) sink.deliver(message(b));
  assert.is(s.outbound, 3);
  assert.is(s.unacked.length, 3);
  assert.equal(written.map((w) => w.name === "r" && w.ns === NS_SM ? "r" : w.getChildText("body")), ["a", "r", "b", "c"]);
  assert.ok(s.acknowledge(2).ok);
  assert.equal(s.unacked.map((m) => m.getChildText("body")), ["c"]);
  // An old h acknowledges nothing more; an h above what was sent is refused (§4).
  assert.equal(s.acknowledge(2), { ok: true, acknowledged: 0 });
  assert.not.ok(s.wouldAcknowledge(4));
  assert.equal(s.acknowledge(4), { ok: false, sent: 3 });
  assert.is(s.unacked.length, 1);
  sink.deliver(message("d"));
  assert.is(written.filter((w) => w.name === "r").length, 2, "a new request after the ack");
});

test("h wraps at 2^32 (§4)", () => {
  const s = stream();
  s.outbound = 2 ** 32 - 2;
  const sink = s.sink(undefined, () => undefined);
  for (const b of ["x", "y", "z"]) sink.deliver(message(b));
  assert.is(s.outbound, 1);
  assert.ok(s.wouldAcknowledge(0));
  assert.equal(s.acknowledge(2 ** 32 - 1), { ok: true, acknowledged: 1 });
  assert.equal(s.acknowledge(1), { ok: true, acknowledged: 2 });
  assert.is(s.unacked.length, 0);
  assert.is(parseH("4294967295"), 2 ** 32 - 1);
  assert.is(parseH("4294967296"), undefined);
  assert.is(parseH("-1"), undefined);
  assert.is(parseH("1e3"), undefined);
});

test("a detached sink writes nothing, keeps everything, and reports overflow once past max_queue", () => {
  const s = stream(2);
  let overflows = 0;
  const sink = s.sink(undefined, () => overflows++);
  for (const b of ["1", "2", "3", "4"]) sink.deliver(message(b));
  assert.is(overflows, 1);
  assert.is(s.unacked.length, 4, "nothing dropped: the caller ends the stream and hands them on");
  assert.equal(s.drain().map((m) => m.getChildText("body")), ["1", "2", "3", "4"]);
  assert.is(s.unacked.length, 0);
});

test("the registry finds a stream only by its id and for its own user", () => {
  const r = new ManagedStreamRegistry();
  const s = stream(10, ManagedStreamRegistry.newId());
  r.add(s);
  r.add(stream(10, null)); // not resumable: not registered
  assert.is(r.size, 1);
  assert.is(r.find(s.id ?? "", parseJid("romeo@localhost/elsewhere")), s);
  assert.is(r.find(s.id ?? "", parseJid("juliet@localhost")), undefined);
  assert.is(r.find("nope", parseJid("romeo@localhost")), undefined);
  r.remove(s);
  assert.is(r.find(s.id ?? "", parseJid("romeo@localhost")), undefined);
});

test("CSI: what is unimportant (XEP-0352 §1): availability presence and chat states alone", () => {
  assert.ok(isUnimportant(presence("juliet@localhost/balcony", "away")));
  assert.ok(isUnimportant(el("presence", "jabber:client", { type: "unavailable" })));
  assert.not.ok(isUnimportant(el("presence", "jabber:client", { type: "subscribe" })));
  assert.ok(isUnimportant(composing()));
  assert.not.ok(isUnimportant(message("hi")));
  assert.not.ok(isUnimportant(el("message", "jabber:client", {}, el("received", "urn:xmpp:receipts", { id: "1" }))));
  assert.not.ok(isUnimportant(el("iq", "jabber:client", { type: "get" })));
});

test("CSI: inactive holds the latest presence per contact and chat states; an important stanza flushes them first, in order", () => {
  const out: string[] = [];
  const f = new ClientStateFilter(10);
  f.downstream = { deliver: (s) => out.push(s.getChildText("status") ?? s.getChildText("body") ?? s.children.map((c) => typeof c === "string" ? c : c.name).join()) };
  f.setInactive();
  f.deliver(presence("a@x/1", "a1"));
  f.deliver(presence("b@x/1", "b1"));
  f.deliver(composing());
  f.deliver(presence("a@x/1", "a2"));
  assert.equal(out, []);
  assert.is(f.held, 3);
  f.deliver(message("now"));
  assert.equal(out, ["b1", "composing", "a2", "now"]);
  f.deliver(presence("c@x/1", "c1"));
  f.setActive();
  assert.equal(out, ["b1", "composing", "a2", "now", "c1"]);
  f.deliver(presence("c@x/1", "c2"));
  assert.equal(out.at(-1), "c2", "active: straight through");
});

test("CSI: the held queue is bounded: reaching csi_max_queue flushes it", () => {
  const out: XmlElement[] = [];
  const f = new ClientStateFilter(3);
  f.downstream = { deliver: (s) => out.push(s) };
  f.setInactive();
  for (const who of ["a", "b", "c"]) f.deliver(presence(`${who}@x/1`, who));
  assert.is(out.length, 3);
  assert.is(f.held, 0);
});

test.run();
