// RFC 6121 §8.5.2.1.1 over real sockets: a chat or normal message to the
// bare JID goes to the most available resources (the highest non-negative
// priority; all of them on a tie), a headline to every non-negative one;
// the other resources see a chat or normal message only as a XEP-0280
// carbon, if they enabled carbons.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { XmlElement } from "../../src/xml/element.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { Peer, barrier } from "../helpers/xmpp-peer.js";

const CARBONS = "urn:xmpp:carbons:2";

function isCarbon(m: XmlElement): boolean {
  return m.getChild("received", CARBONS) !== undefined || m.getChild("sent", CARBONS) !== undefined;
}

/** What a resource got: "original:<body>" or "carbon:<body of the forwarded message>". */
function got(p: Peer): string[] {
  return p.messages().map((m) => {
    if (!isCarbon(m)) return `original:${m.getChildText("body") ?? ""}`;
    const inner = m.getChild("received", CARBONS)?.getChild("forwarded", "urn:xmpp:forward:0")?.getChild("message", "jabber:client");
    return `carbon:${inner?.getChildText("body") ?? "?"}`;
  });
}

async function withJuliet(priorities: readonly number[], body: (ts: TestServer, juliet: Peer[], romeo: Peer) => Promise<void>): Promise<void> {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }] });
  try {
    const juliet: Peer[] = [];
    for (const [i, priority] of priorities.entries()) {
      const p = await Peer.login(ts.port, "juliet", "j", `r${i}p${priority}`);
      await p.available(priority);
      juliet.push(p);
    }
    const romeo = await Peer.login(ts.port, "romeo", "r", "orchard");
    await barrier([...juliet, romeo]);
    for (const p of [...juliet, romeo]) p.clear();
    await body(ts, juliet, romeo);
    for (const p of [...juliet, romeo]) p.close();
  } finally {
    await ts.stop();
  }
}

async function send(romeo: Peer, everyone: readonly Peer[], stanza: string): Promise<void> {
  for (const p of everyone) p.clear();
  romeo.write(stanza);
  await barrier(everyone);
}

test("chat to the bare JID reaches only the highest-priority resource; the other gets nothing without carbons", () =>
  withJuliet([5, 1], async (_ts, [high, low], romeo) => {
    const all = [high!, low!, romeo];
    await send(romeo, all, "<message type='chat' to='juliet@localhost'><body>hi</body></message>");
    assert.equal(got(high!), ["original:hi"]);
    assert.equal(got(low!), []);
  }));

test("chat to the bare JID: the lower-priority resource that enabled carbons gets it as a received carbon only", () =>
  withJuliet([5, 1], async (_ts, [high, low], romeo) => {
    await low!.enableCarbons();
    await high!.enableCarbons();
    const all = [high!, low!, romeo];
    await send(romeo, all, "<message type='chat' to='juliet@localhost'><body>hi</body></message>");
    assert.equal(got(high!), ["original:hi"], "the most available resource gets no carbon besides the original");
    assert.equal(got(low!), ["carbon:hi"]);
  }));

test("a priority change moves the chat: the resource that raised its priority now gets the original", () =>
  withJuliet([5, 1], async (_ts, [first, second], romeo) => {
    const all = [first!, second!, romeo];
    await second!.available(10);
    await send(romeo, all, "<message type='chat' to='juliet@localhost'><body>now</body></message>");
    assert.equal(got(second!), ["original:now"]);
    assert.equal(got(first!), []);
  }));

test("a tie at the highest priority: every resource with it gets the chat (as Prosody does), a lower one does not, and no carbons go to them", () =>
  withJuliet([3, 3, 1], async (_ts, [a, b, low], romeo) => {
    for (const p of [a!, b!, low!]) await p.enableCarbons();
    const all = [a!, b!, low!, romeo];
    await send(romeo, all, "<message type='chat' to='juliet@localhost'><body>both</body></message>");
    assert.equal(got(a!), ["original:both"]);
    assert.equal(got(b!), ["original:both"]);
    assert.equal(got(low!), ["carbon:both"]);
  }));

test("normal messages go to the highest-priority resource(s), others only as a carbon", () =>
  withJuliet([2, 0], async (_ts, [high, low], romeo) => {
    await low!.enableCarbons();
    const all = [high!, low!, romeo];
    await send(romeo, all, "<message to='juliet@localhost'><body>normal</body></message>");
    assert.equal(got(high!), ["original:normal"]);
    assert.equal(got(low!), ["carbon:normal"]);
  }));

test("headline goes to every available resource with non-negative priority, never to a negative one, and is not copied", () =>
  withJuliet([5, 0, -1], async (_ts, [high, zero, negative], romeo) => {
    for (const p of [high!, zero!, negative!]) await p.enableCarbons();
    const all = [high!, zero!, negative!, romeo];
    await send(romeo, all, "<message type='headline' to='juliet@localhost'><body>news</body></message>");
    assert.equal(got(high!), ["original:news"]);
    assert.equal(got(zero!), ["original:news"]);
    assert.equal(got(negative!), []);
  }));

test("a resource with negative priority gets no chat to the bare JID, but one to its full JID", () =>
  withJuliet([0, -1], async (_ts, [zero, negative], romeo) => {
    const all = [zero!, negative!, romeo];
    await send(romeo, all, "<message type='chat' to='juliet@localhost'><body>bare</body></message>");
    assert.equal(got(zero!), ["original:bare"]);
    assert.equal(got(negative!), []);
    await send(romeo, all, `<message type='chat' to='${negative!.jid}'><body>full</body></message>`);
    assert.equal(got(negative!), ["original:full"]);
    assert.equal(got(zero!), []);
  }));

test.run();
