// PEP across servers (XEP-0163 §4.3 over RFC 6120 server-to-server): a
// contact at another server announces tune+notify in its caps; the owner's
// server asks those caps from the owner's bare JID (XEP-0115 §6.3), and the
// owner's publication reaches the remote resource, as does the last item
// when the contact comes back.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import type { XmlElement } from "../../src/xml/element.js";
import { twoServers, User } from "../helpers/s2s-pair.js";
import { parseStanzas } from "../helpers/xmpp-peer.js";

const FEATURES = ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/tune+notify"];
const NODE = "https://parley.example/s2s-test";
const VER = createHash("sha1").update(`client/pc//test<${FEATURES.map((f) => `${f}<`).join("")}`).digest("base64");
const CAPS = `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${NODE}' ver='${VER}'/>`;

const tune = (s: XmlElement, title: string) => s.name === "message" &&
  s.getChild("event", "http://jabber.org/protocol/pubsub#event")?.getChild("items")?.getChild("item")?.getChild("tune", "http://jabber.org/protocol/tune")?.getChildText("title") === title;

test("a remote contact's caps are asked from the owner's bare JID; the owner's tune reaches it, and the last one when it comes back", async () => {
  const { a, b, stop } = await twoServers();
  try {
    const alice = await User.login(a.port, "alice", "a.test", "home");
    const bob = await User.login(b.port, "bob", "b.test", "work");
    alice.write("<presence/>");
    bob.write("<presence/>");
    // Mutual subscription: Alice sees Bob's presence (and so his caps), Bob may see her PEP.
    alice.write("<presence to='bob@b.test' type='subscribe'/>");
    await bob.waitFor((s) => s.name === "presence" && s.attrs.type === "subscribe");
    bob.write("<presence to='alice@a.test' type='subscribed'/><presence to='alice@a.test' type='subscribe'/>");
    await alice.waitFor((s) => s.name === "presence" && s.attrs.type === "subscribe");
    alice.write("<presence to='bob@b.test' type='subscribed'/>");
    await alice.waitFor((s) => s.name === "presence" && s.attrs.from === "bob@b.test/work" && s.attrs.type === undefined);

    // Bob's new caps: his own server asks him, and so does Alice's, from alice@a.test.
    bob.raw.clear();
    bob.write(`<presence>${CAPS}</presence>`);
    const answer = (q: XmlElement) => `<iq type='result' id='${q.attrs.id}' to='${q.attrs.from}'><query xmlns='http://jabber.org/protocol/disco#info' node='${NODE}#${VER}'>` +
      `<identity category='client' type='pc' name='test'/>${FEATURES.map((f) => `<feature var='${f}'/>`).join("")}</query></iq>`;
    const fromAlice = await bob.waitFor((s) => s.name === "iq" && s.attrs.type === "get" && s.attrs.from === "alice@a.test");
    assert.is(fromAlice.getChild("query", "http://jabber.org/protocol/disco#info")?.attrs.node, `${NODE}#${VER}`);
    const fromOwn = await bob.waitFor((s) => s.name === "iq" && s.attrs.type === "get" && s.attrs.from === "bob@b.test");
    bob.write(answer(fromOwn) + answer(fromAlice));

    // Give the answer time to cross, then Alice publishes.
    await new Promise((r) => setTimeout(r, 300));
    alice.write(`<iq type='set' id='pub1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/tune'><item id='current'><tune xmlns='http://jabber.org/protocol/tune'><title>Verona</title></tune></item></publish></pubsub></iq>`);
    const heard = await bob.waitFor((s) => tune(s, "Verona"));
    assert.is(heard.attrs.from, "alice@a.test");
    assert.is(heard.attrs.to, "bob@b.test/work");

    // Bob leaves and comes back with the same (now known) caps: no question, and the last tune follows.
    bob.raw.clear();
    bob.write("<presence type='unavailable'/>");
    await new Promise((r) => setTimeout(r, 200));
    bob.write(`<presence>${CAPS}</presence>`);
    await bob.waitFor((s) => tune(s, "Verona"));
    assert.not.ok(parseStanzas(bob.raw.text).some((s) => s.name === "iq" && s.attrs.from === "alice@a.test"), "the verified hash was not asked again");
    alice.close();
    bob.close();
  } finally {
    await stop();
  }
});

test.run();
