// Federation over real sockets: two Parley servers (a.test and b.test, each
// with its own data directory, certificate and dialback secret) routed to
// each other through [s2s.routes], STARTTLS and Server Dialback between them
// (XEP-0220), users on each side exchanging messages and subscriptions, a
// block holding across servers, and domains that cannot be reached or do not answer.
import { test } from "uvu";
import * as assert from "uvu/assert";
import net from "node:net";
import tls from "node:tls";
import type { ServerConfig } from "../../src/config.js";
import { loadOrCreateSecret } from "../../src/server/server-secret.js";
import { DIALBACK_SECRET, dialbackKey } from "../../src/s2s/dialback.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { PASSWORD, User, aliceAndAvailableBob, twoServers } from "../helpers/s2s-pair.js";
import { testCa, xmppAddr, dnsId } from "../helpers/test-ca.js";
import { RawClient } from "../helpers/raw-client.js";
import type { XmlElement } from "../../src/xml/element.js";

const message = (s: XmlElement, body: string) => s.name === "message" && s.getChildText("body") === body;

test("a message crosses to the other server over an authenticated TLS stream, and the answer comes back", async () => {
  const { a, b, stop } = await twoServers();
  try {
    const { alice, bob } = await aliceAndAvailableBob(a, b);
    alice.write("<message to='Bob@B.TEST' type='chat' id='m1'><body>hello bob</body></message>");
    const got = await bob.waitFor((s) => message(s, "hello bob"));
    assert.is(got.attrs.from, "alice@a.test/home");
    assert.is(got.attrs.to, "bob@b.test");
    assert.is(got.ns, "jabber:client");
    bob.write("<message to='alice@a.test/home' type='chat' id='m2'><body>hello alice</body></message>");
    const back = await alice.waitFor((s) => message(s, "hello alice"));
    assert.is(back.attrs.from, "bob@b.test/work");
    // Each server authenticated the other by dialback on a stream of its own, and both used TLS.
    assert.equal(a.server.s2s?.outgoingStates(), { "a.test b.test": "ready" });
    assert.equal(b.server.s2s?.outgoingStates(), { "b.test a.test": "ready" });
    // Self-signed certificates (no trust store configured): dialback, not SASL EXTERNAL.
    assert.equal(a.server.s2s?.outgoingAuth(), { "a.test b.test": "dialback" });
    assert.ok(a.server.s2s?.incomingPairs().includes("b.test a.test"));
    assert.ok(b.server.s2s?.incomingPairs().includes("a.test b.test"));
    // Federated messages pass the same hooks as local ones: both archives have both (XEP-0313).
    for (const u of [alice, bob]) {
      u.write("<iq type='set' id='mam'><query xmlns='urn:xmpp:mam:2' queryid='q'/></iq>");
      await u.waitFor((s) => s.name === "iq" && s.attrs.id === "mam" && s.attrs.type === "result");
      const archived = u.stanzas().flatMap((s) => {
        const inner = s.getChild("result", "urn:xmpp:mam:2")?.getChild("forwarded", "urn:xmpp:forward:0")?.getChild("message", "jabber:client");
        return inner ? [inner.getChildText("body")] : [];
      });
      assert.equal(archived, ["hello bob", "hello alice"], `${u.jid}'s archive`);
    }
    alice.close();
    bob.close();
  } finally {
    await stop();
  }
});

test("a subscription with a remote contact: subscribe, subscribed, roster pushes, presence, unavailable when the link is lost (RFC 6121 §3.1, §4.5.2)", async () => {
  const { a, b, stop } = await twoServers();
  try {
    const alice = await User.login(a.port, "alice", "a.test", "home");
    const bob = await User.login(b.port, "bob", "b.test", "work");
    alice.write("<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq><presence/>");
    bob.write("<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq><presence/>");
    await alice.waitFor((s) => s.name === "iq" && s.attrs.id === "r0");
    await bob.waitFor((s) => s.name === "iq" && s.attrs.id === "r0");
    alice.write("<presence to='bob@b.test' type='subscribe'/>");
    const request = await bob.waitFor((s) => s.name === "presence" && s.attrs.type === "subscribe");
    assert.is(request.attrs.from, "alice@a.test");
    bob.write("<presence to='alice@a.test' type='subscribed'/>");
    const push = await alice.waitFor((s) => s.name === "iq" && s.attrs.type === "set" &&
      s.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.subscription === "to");
    assert.is(push.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.jid, "bob@b.test");
    // Bob's server sends his current presence once he approved (RFC 6121 §3.1.5).
    const presence = await alice.waitFor((s) => s.name === "presence" && s.attrs.from === "bob@b.test/work" && s.attrs.type === undefined);
    assert.ok(presence);
    // And later changes follow.
    bob.write("<presence><show>away</show></presence>");
    await alice.waitFor((s) => s.name === "presence" && s.attrs.from === "bob@b.test/work" && s.getChildText("show") === "away");
    // The connection between the servers is lost (no </stream:stream>): Alice's server
    // tells her Bob is unavailable, since it can no longer know; the next stanza opens new streams.
    alice.raw.clear();
    b.server.s2s?.abort("a.test");
    const gone = await alice.waitFor((s) => s.name === "presence" && s.attrs.from === "bob@b.test/work" && s.attrs.type === "unavailable");
    assert.ok(gone);
    bob.write("<presence><show>chat</show></presence>");
    await alice.waitFor((s) => s.name === "presence" && s.attrs.from === "bob@b.test/work" && s.getChildText("show") === "chat");
    // Bob's roster shows alice as subscribed to him (from).
    bob.write("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
    const roster = await bob.waitFor((s) => s.name === "iq" && s.attrs.id === "r1");
    assert.is(roster.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.subscription, "from");
    // Alice leaves and comes back: her server probes Bob's across s2s (RFC 6121 §4.3).
    alice.close();
    const again = await User.login(a.port, "alice", "a.test", "laptop");
    again.write("<presence/>");
    const probed = await again.waitFor((s) => s.name === "presence" && s.attrs.from === "bob@b.test/work" && s.attrs.type === undefined);
    assert.is(probed.getChildText("show"), "chat");
    again.close();
    bob.close();
  } finally {
    await stop();
  }
});

test("a block on one server holds against a user of the other (XEP-0191 §3.5, §3.6)", async () => {
  const { a, b, stop } = await twoServers();
  try {
    const alice = await User.login(a.port, "alice", "a.test", "home");
    const bob = await User.login(b.port, "bob", "b.test", "work");
    bob.write("<presence/>");
    bob.write("<iq type='set' id='blk'><block xmlns='urn:xmpp:blocking'><item jid='a.test'/></block></iq>");
    await bob.waitFor((s) => s.name === "iq" && s.attrs.id === "blk" && s.attrs.type === "result");
    alice.write("<message to='bob@b.test' type='chat' id='m3'><body>are you there?</body></message>");
    const error = await alice.waitFor((s) => s.name === "message" && s.attrs.type === "error" && s.attrs.id === "m3");
    assert.ok(error.getChild("error")?.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    assert.is(bob.stanzas().filter((s) => message(s, "are you there?")).length, 0);
    alice.close();
    bob.close();
  } finally {
    await stop();
  }
});

test("a domain nobody listens for bounces remote-server-not-found; one that never answers, remote-server-timeout, within the connect timeout", async () => {
  const { a, stop } = await twoServers();
  // A port that was free a moment ago: connection refused.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  // A server that accepts and says nothing.
  const silent: net.Socket[] = [];
  const mute = net.createServer((s) => silent.push(s));
  await new Promise<void>((r) => mute.listen(0, "127.0.0.1", () => r()));
  a.server.config.s2s.routes["gone.test"] = `127.0.0.1:${closedPort}`;
  a.server.config.s2s.routes["mute.test"] = `127.0.0.1:${(mute.address() as net.AddressInfo).port}`;
  try {
    const alice = await User.login(a.port, "alice", "a.test", "home");
    const started = Date.now();
    alice.write("<message to='x@gone.test' id='g1'><body>1</body></message>");
    alice.write("<iq to='mute.test' type='get' id='t1'><ping xmlns='urn:xmpp:ping'/></iq>");
    const notFound = await alice.waitFor((s) => s.attrs.id === "g1" && s.attrs.type === "error");
    assert.ok(notFound.getChild("error")?.getChild("remote-server-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    assert.is(notFound.attrs.from, "x@gone.test");
    const timeout = await alice.waitFor((s) => s.attrs.id === "t1" && s.attrs.type === "error", 6000);
    assert.ok(timeout.getChild("error")?.getChild("remote-server-timeout", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    assert.ok(Date.now() - started < 5000, `bounced after ${Date.now() - started} ms`);
    // Backed off: the next stanza to the failed domain bounces at once.
    alice.write("<message to='x@gone.test' id='g2'><body>2</body></message>");
    const again = await alice.waitFor((s) => s.attrs.id === "g2" && s.attrs.type === "error", 1000);
    assert.ok(again.getChild("error")?.getChild("remote-server-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    alice.close();
  } finally {
    for (const s of silent) s.destroy();
    await new Promise<void>((r) => mute.close(() => r()));
    await stop();
  }
});

test("an s2s peer that sends stanzas without authenticating, or for a domain it did not authenticate, is refused", async () => {
  const { a, stop } = await twoServers();
  a.server.config.s2s.insecureDomains.push("evil.test");
  try {
    const raw = await RawClient.connect(a.server.s2s?.port as number);
    raw.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='evil.test' to='a.test' version='1.0'>");
    const features = await raw.waitFor(/<\/stream:features>/);
    // A domain allowed without TLS is offered dialback beside (optional) STARTTLS.
    assert.match(features, /urn:xmpp:features:dialback/);
    raw.write("<message from='bob@b.test' to='alice@a.test'><body>spoofed</body></message>");
    const text = await raw.waitFor(/<\/stream:stream>/);
    assert.match(text, /<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/);
    await raw.waitClosed();
    // Without TLS, a domain not listed as insecure is not offered dialback at all.
    const plain = await RawClient.connect(a.server.s2s?.port as number);
    plain.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='b.test' to='a.test' version='1.0'>");
    const offered = await plain.waitFor(/<\/stream:features>/);
    assert.match(offered, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
    assert.not.match(offered, /features:dialback/);
    plain.write("<db:result from='b.test' to='a.test'>0123</db:result>");
    assert.match(await plain.waitFor(/<\/stream:stream>/), /policy-violation/);
    plain.destroy();
  } finally {
    await stop();
  }
});

test("a peer that authenticated b.test: its stanzas are normalised; one from another domain, or to one not served here, ends the stream", async () => {
  const { a, b, stop } = await twoServers();
  try {
    const alice = await User.login(a.port, "alice", "a.test", "home");
    alice.write("<presence/>");
    await alice.waitFor((s) => s.name === "presence" && s.attrs.from === "alice@a.test/home");
    // A hand-made peer speaking for b.test, with the key b.test's own server will confirm (XEP-0220 §2.3).
    const secret = loadOrCreateSecret(b.server.store.db, DIALBACK_SECRET);
    const peer = async () => {
      const plain = await RawClient.connect(a.server.s2s?.port as number);
      const open = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='b.test' to='a.test' version='1.0'>";
      plain.write(open);
      await plain.waitFor(/<\/stream:features>/);
      plain.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      await plain.waitFor(/<proceed/);
      const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ socket: plain.rawSocket, servername: "a.test", rejectUnauthorized: false }, () => resolve(s));
        s.once("error", reject);
      });
      const raw = RawClient.wrap(socket);
      raw.write(open);
      const header = await raw.waitFor(/<\/stream:features>/);
      const id = (/<stream:stream[^>]* id='([^']+)'/.exec(header) as RegExpExecArray)[1] as string;
      raw.write(`<db:result from='b.test' to='a.test'>${dialbackKey(secret, "a.test", "b.test", id)}</db:result>`);
      await raw.waitFor(/<result xmlns='jabber:server:dialback' from='a.test' to='b.test' type='valid'\/>/, 8000);
      return raw;
    };
    const raw = await peer();
    raw.write("<message from='Bob@B.TEST/Phone' to='Alice@A.Test/home' type='chat'><body>normalised</body></message>");
    const got = await alice.waitFor((s) => message(s, "normalised"));
    assert.is(got.attrs.from, "bob@b.test/Phone");
    assert.is(got.attrs.to, "alice@a.test/home");
    raw.write("<message from='eve@evil.test' to='alice@a.test/home' type='chat'><body>spoofed</body></message>");
    assert.match(await raw.waitFor(/<\/stream:stream>/), /<invalid-from xmlns='urn:ietf:params:xml:ns:xmpp-streams'/);
    assert.is(alice.stanzas().filter((s) => message(s, "spoofed")).length, 0);
    raw.destroy();
    // Relaying through a.test to a third domain is refused too.
    const relay = await peer();
    relay.write("<message from='bob@b.test' to='carol@c.test' type='chat'><body>relay</body></message>");
    assert.match(await relay.waitFor(/<\/stream:stream>/), /<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/);
    relay.destroy();
    alice.close();
  } finally {
    await stop();
  }
});

test("a remote user joins a room on the other server's MUC service; the room's domain authenticates its own stream (XEP-0045 across s2s)", async () => {
  const { a, b, stop } = await twoServers();
  const muc = `${a.server.config.muc.subdomain}.a.test`;
  b.server.config.s2s.routes[muc] = `127.0.0.1:${a.server.s2s?.port as number}`;
  try {
    const bob = await User.login(b.port, "bob", "b.test", "work");
    bob.write(`<presence to='garden@${muc}/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    const self = await bob.waitFor((s) => s.name === "presence" && s.attrs.from === `garden@${muc}/bob` && s.attrs.type === undefined);
    assert.ok(self.getChild("x", "http://jabber.org/protocol/muc#user")?.getChildren("status").some((st) => st.attrs.code === "110"));
    assert.equal(a.server.s2s?.outgoingAuth(), { [`${muc} b.test`]: "dialback" });
    bob.close();
  } finally {
    await stop();
  }
});

test("a blocked domain: stanzas to it bounce without a connection, its streams are refused (s2s.blocked_domains)", async () => {
  const { a, b, stop } = await twoServers();
  a.server.config.s2s.blockedDomains.push("b.test");
  try {
    const alice = await User.login(a.port, "alice", "a.test", "home");
    alice.write("<message to='bob@b.test' id='x1'><body>no</body></message>");
    const bounce = await alice.waitFor((s) => s.attrs.id === "x1" && s.attrs.type === "error");
    assert.ok(bounce.getChild("error")?.getChild("remote-server-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    assert.equal(a.server.s2s?.outgoingStates(), {}, "no stream was opened");
    // Bob's server tries; a.test refuses its stream, so Bob's message bounces.
    const bob = await User.login(b.port, "bob", "b.test", "work");
    bob.write("<message to='alice@a.test' id='x2'><body>let me in</body></message>");
    const refused = await bob.waitFor((s) => s.attrs.id === "x2" && s.attrs.type === "error");
    assert.ok(refused.getChild("error")?.getChild("remote-server-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    assert.is(alice.stanzas().filter((s) => s.getChildText("body") === "let me in").length, 0);
    alice.close();
    bob.close();
  } finally {
    await stop();
  }
});

test("XEP-0368 Direct TLS for servers: TLS from the first byte, ALPN xmpp-server, then dialback without STARTTLS", async () => {
  const a = await startTestServer({ configure: (c) => { c.domains = ["a.test"]; c.s2s.directTlsPort = 0; } });
  try {
    const port = a.server.s2s?.directTlsPort as number;
    assert.ok(port > 0);
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: "a.test", ALPNProtocols: ["xmpp-server"], rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    assert.is(socket.alpnProtocol, "xmpp-server");
    const raw = RawClient.wrap(socket);
    raw.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='b.test' to='a.test' version='1.0'>");
    const features = await raw.waitFor(/<\/stream:features>/);
    assert.match(features, /urn:xmpp:features:dialback/);
    assert.not.match(features, /starttls/);
    raw.destroy();
  } finally {
    await a.stop();
  }
});

/** Two servers with certificates from one CA that each trusts, and each requiring the other's to verify (RFC 6125). */
async function certifiedServers(sans: (domain: string) => string[]): Promise<{ a: TestServer; b: TestServer; stop(): Promise<void> }> {
  const ca = testCa();
  const configure = (domain: string, other: string) => (c: ServerConfig) => {
    const issued = ca.issue(domain, "Parley test server", sans(domain));
    c.domains = [domain];
    c.tls.certFile = issued.cert;
    c.tls.keyFile = issued.key;
    c.s2s.caFile = ca.ca;
    c.s2s.secureDomains = [other];
  };
  const a = await startTestServer({ accounts: [{ jid: "alice@a.test", password: PASSWORD }], configure: configure("a.test", "b.test") });
  const b = await startTestServer({ accounts: [{ jid: "bob@b.test", password: PASSWORD }], configure: configure("b.test", "a.test") });
  a.server.config.s2s.routes["b.test"] = `127.0.0.1:${b.server.s2s?.port as number}`;
  b.server.config.s2s.routes["a.test"] = `127.0.0.1:${a.server.s2s?.port as number}`;
  return { a, b, async stop() { await a.stop(); await b.stop(); ca.remove(); } };
}

/** Alice and Bob exchange a message each way; both streams authenticated by SASL EXTERNAL. */
async function exchangeOverSaslExternal(a: TestServer, b: TestServer): Promise<void> {
  const { alice, bob } = await aliceAndAvailableBob(a, b);
  alice.write("<message to='bob@b.test' type='chat'><body>certified</body></message>");
  const got = await bob.waitFor((s) => message(s, "certified"));
  assert.is(got.attrs.from, "alice@a.test/home");
  bob.write("<message to='alice@a.test/home' type='chat'><body>likewise</body></message>");
  await alice.waitFor((s) => message(s, "likewise"));
  assert.equal(a.server.s2s?.outgoingAuth(), { "a.test b.test": "sasl-external" });
  assert.equal(b.server.s2s?.outgoingAuth(), { "b.test a.test": "sasl-external" });
  alice.close();
  bob.close();
}

test("with certificates from a trusted CA, servers authenticate each other with SASL EXTERNAL instead of dialback (XEP-0178)", async () => {
  const { a, b, stop } = await certifiedServers((d) => [dnsId(d)]);
  try {
    await exchangeOverSaslExternal(a, b);
  } finally {
    await stop();
  }
});

test("certificates naming their servers by xmppAddr only (no DNS name, a CN that is not the domain): SASL EXTERNAL still (RFC 6120 §13.7.1.4)", async () => {
  const { a, b, stop } = await certifiedServers((d) => [xmppAddr(d)]);
  try {
    await exchangeOverSaslExternal(a, b);
  } finally {
    await stop();
  }
});

test("a peer whose certificate does not verify is refused where secure_domains asks for one, and bounces", async () => {
  const { a, stop } = await twoServers();
  a.server.config.s2s.secureDomains.push("b.test");
  try {
    const alice = await User.login(a.port, "alice", "a.test", "home");
    alice.write("<message to='bob@b.test' id='v1'><body>only if verified</body></message>");
    const bounce = await alice.waitFor((s) => s.attrs.id === "v1" && s.attrs.type === "error");
    assert.ok(bounce.getChild("error")?.getChild("remote-server-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    alice.close();
  } finally {
    await stop();
  }
});

test.run();
