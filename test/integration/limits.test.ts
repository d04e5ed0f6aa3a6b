// Bad stanzas and configured limits over real sockets: IQs without an id or
// with a bad type, unknown presence types, sessions per account, connections
// per address, roster and block-list sizes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

const ACCOUNTS = [{ jid: "romeo@localhost", password: "r" }];

test("an IQ without an id, an IQ of an unknown type and an unknown presence type get bad-request", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const c = await RawClient.connect(ts.port);
    await c.login("romeo", "r");
    c.write("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.match(await c.waitFor(/<\/iq>/), /<iq type='error'[^>]*>.*<bad-request[^>]*\/><text[^>]*>An IQ needs an id/s);
    c.clear();
    c.write("<iq type='fetch' id='x'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.match(await c.waitFor(/<\/iq>/), /id='x'.*<bad-request/s);
    c.clear();
    c.write("<presence type='dance'/>");
    assert.match(await c.waitFor(/<\/presence>/), /<presence type='error'.*<bad-request/s);
    c.clear();
    // Still usable afterwards.
    c.write("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
    await c.waitFor(/<iq type='result' id='p'/);
    c.destroy();
  } finally {
    await ts.stop();
  }
});

test("an unknown IQ namespace gets service-unavailable, an IQ result nobody asked for is dropped, a bad 'to' gets jid-malformed", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const c = await RawClient.connect(ts.port);
    await c.login("romeo", "r");
    c.clear();
    c.write("<iq type='get' id='u1'><query xmlns='urn:example:nothing-here'/></iq>");
    assert.match(await c.waitFor(/<\/iq>/), /<iq type='error' id='u1'[^>]*>.*<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/s);
    c.clear();
    // RFC 6120 §8.2.3: never answer a result or an error; the ping that follows is the first reply.
    c.write("<iq type='result' id='nobody-asked' to='localhost'/><iq type='error' id='nor-this' to='localhost'><error type='cancel'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
    c.write("<iq type='get' id='after'><ping xmlns='urn:xmpp:ping'/></iq>");
    const reply = await c.waitFor(/id='after'/);
    assert.not.match(reply, /nobody-asked|nor-this/);
    c.clear();
    c.write("<message to='juliet@@localhost' id='bad-to'><body>x</body></message>");
    assert.match(await c.waitFor(/<\/message>/), /<message[^>]*type='error'[^>]*>.*<jid-malformed/s);
    c.destroy();
  } finally {
    await ts.stop();
  }
});

test("sessions per account: a bind beyond the limit gets resource-constraint", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.sessionsPerAccount = 2; } });
  try {
    const a = await RawClient.connect(ts.port);
    await a.login("romeo", "r", "one");
    const b = await RawClient.connect(ts.port);
    await b.login("romeo", "r", "two");
    const c = await RawClient.connect(ts.port);
    let error = "";
    try { await c.login("romeo", "r", "three"); } catch (err) { error = (err as Error).message; }
    assert.match(c.text + error, /resource-constraint/);
    // Replacing an existing resource is not a new session.
    const again = await RawClient.connect(ts.port);
    assert.is(await again.login("romeo", "r", "two"), "romeo@localhost/two");
    for (const x of [a, b, c, again]) x.destroy();
  } finally {
    await ts.stop();
  }
});

test("connections per address: one more than the limit is refused with policy-violation", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.connectionsPerAddress = 3; } });
  try {
    const open = await Promise.all([1, 2, 3].map(() => RawClient.connect(ts.port)));
    for (const c of open) c.write(HEADER());
    await Promise.all(open.map((c) => c.waitFor(/<\/stream:features>/)));
    const extra = await RawClient.connect(ts.port);
    await extra.waitFor(/<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await extra.waitClosed();
    // When one goes, there is room again.
    open[0]?.write("</stream:stream>");
    await open[0]?.waitClosed();
    await new Promise((r) => setTimeout(r, 100));
    const later = await RawClient.connect(ts.port);
    later.write(HEADER());
    await later.waitFor(/<\/stream:features>/);
    for (const c of [...open, later]) c.destroy();
  } finally {
    await ts.stop();
  }
});

test("roster and block-list sizes are limited with policy-violation", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.rosterItems = 2; c.limits.blockedItems = 2; } });
  try {
    const c = await RawClient.connect(ts.port);
    await c.login("romeo", "r");
    for (const [i, who] of ["a", "b", "c"].entries()) {
      c.clear();
      c.write(`<iq type='set' id='r${i}'><query xmlns='jabber:iq:roster'><item jid='${who}@localhost'/></query></iq>`);
      const reply = await c.waitFor(new RegExp(`id='r${i}'`));
      if (i < 2) assert.match(reply, new RegExp(`<iq type='result' id='r${i}'`));
      else assert.match(await c.waitFor(/<\/iq>/), /<policy-violation/);
    }
    c.clear();
    c.write("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='x@localhost'/><item jid='y@localhost'/><item jid='z@localhost'/></block></iq>");
    assert.match(await c.waitFor(/id='b1'[\s\S]*<\/iq>/), /<policy-violation/);
    c.destroy();
  } finally {
    await ts.stop();
  }
});

test("a client over its stanza rate is throttled, and one that keeps flooding gets policy-violation", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.stanzasPerSecond = 20; c.limits.stanzaBurst = 10; } });
  try {
    const c = await RawClient.connect(ts.port);
    await c.login("romeo", "r");
    // 15 pings: 10 free, 5 within the allowed debt: all answered, nothing closed.
    c.write(Array.from({ length: 15 }, (_, i) => `<iq type='get' id='t${i}'><ping xmlns='urn:xmpp:ping'/></iq>`).join(""));
    await c.waitFor(/id='t14'/, 5000);
    assert.not.match(c.text, /stream:error/);
    // Five over the burst at 20 a second: reading stops for a quarter of a second.
    const started = Date.now();
    c.write("<iq type='get' id='late'><ping xmlns='urn:xmpp:ping'/></iq>");
    await c.waitFor(/id='late'/, 5000);
    assert.ok(Date.now() - started >= 150, `the throttled ping took ${Date.now() - started} ms`);
    await new Promise((r) => setTimeout(r, 1200)); // the bucket refills
    c.clear();
    c.write(Array.from({ length: 60 }, (_, i) => `<iq type='get' id='f${i}'><ping xmlns='urn:xmpp:ping'/></iq>`).join(""));
    await c.waitFor(/<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await c.waitClosed();
  } finally {
    await ts.stop();
  }
});

test.run();
