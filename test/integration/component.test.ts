// XEP-0114 external components over real sockets: a bot connects to the
// component port, shakes hands with its secret (§3), receives what users send
// to its domain and answers them; a wrong secret, an unknown domain, a second
// connection for the same domain and a 'from' outside its domain are refused
// with the stream errors RFC 6120 §4.9.3 names; while it is away its domain
// answers service-unavailable.
import { test } from "uvu";
import * as assert from "uvu/assert";
import net from "node:net";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { RawClient } from "../helpers/raw-client.js";
import { handshakeDigest } from "../../src/modules/component/index.js";
import { freePort } from "../helpers/free-port.js";

const SECRET = "a-component-secret-of-some-length";
const ACCOUNTS = [{ jid: "romeo@localhost", password: "romeo-pass" }];

async function withServer(body: (ts: TestServer, componentPort: number) => Promise<void>): Promise<void> {
  const port = await freePort();
  const ts = await startTestServer({
    accounts: ACCOUNTS,
    configure: (c) => { c.components = { host: "127.0.0.1", port, components: [{ domain: "bot.localhost", secret: SECRET }] }; },
  });
  try {
    // The listener starts with the module; give it its first turn.
    for (let i = 0; i < 50; i++) {
      const ok = await new Promise<boolean>((r) => { const s = net.connect(port, "127.0.0.1", () => { s.destroy(); r(true); }); s.on("error", () => r(false)); });
      if (ok) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await body(ts, port);
  } finally {
    await ts.stop();
  }
}

/** Opens a component stream for `domain`; resolves with the raw client and the stream id the server gave. */
async function open(port: number, domain: string): Promise<{ c: RawClient; id: string }> {
  const c = await RawClient.connect(port);
  c.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`);
  const header = await c.waitFor(/<stream:stream[^>]*>/);
  const id = /id=['"]([^'"]+)['"]/.exec(header)?.[1] ?? "";
  return { c, id };
}

async function connected(port: number): Promise<RawClient> {
  const { c, id } = await open(port, "bot.localhost");
  c.write(`<handshake>${handshakeDigest(id, SECRET)}</handshake>`);
  await c.waitFor(/<handshake\/>/);
  c.clear();
  return c;
}

test("a component shakes hands, gets the stanzas to its domain and answers users; the host lists it", () => withServer(async (ts, port) => {
  const bot = await connected(port);
  const romeo = await RawClient.connect(ts.port);
  await romeo.login("romeo", "romeo-pass", "orchard");
  romeo.write("<message to='echo@bot.localhost' type='chat' id='hi'><body>hello bot</body></message>");
  const got = await bot.waitFor(/<message[\s\S]*?<\/message>/);
  assert.match(got, /from=['"]romeo@localhost\/orchard['"]/);
  assert.match(got, /<body>hello bot<\/body>/);
  // The component's stream is jabber:component:accept: no jabber:client declarations on its stanzas.
  assert.not.match(got, /jabber:client/);
  bot.write("<message from='echo@bot.localhost' to='romeo@localhost/orchard' type='chat'><body>hello romeo</body></message>");
  assert.match(await romeo.waitFor(/<body>hello romeo<\/body>/), /from=['"]echo@bot.localhost['"]/);
  // An IQ to the component and its answer, both ways.
  romeo.write("<iq type='get' id='v1' to='bot.localhost'><query xmlns='jabber:iq:version'/></iq>");
  const iq = await bot.waitFor(/<iq[\s\S]*?<\/iq>/);
  bot.write(`<iq type='result' id='v1' from='bot.localhost' to='romeo@localhost/orchard'><query xmlns='jabber:iq:version'><name>EchoBot</name></query></iq>`);
  assert.match(iq, /id=['"]v1['"]/);
  assert.match(await romeo.waitFor(/<name>EchoBot<\/name>/), /type=['"]result['"]/);
  romeo.write("<iq type='get' id='items' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
  assert.match(await romeo.waitFor(/id=['"]items['"][\s\S]*<\/iq>/), /<item jid=['"]bot.localhost['"]/);
  // A 'from' outside its domain: RFC 6120 §4.9.3.9.
  bot.write("<message from='romeo@localhost' to='romeo@localhost/orchard'><body>spoofed</body></message>");
  await bot.waitFor(/<stream:error><invalid-from/);
  await bot.waitClosed();
  // Away: its domain answers service-unavailable.
  await new Promise((r) => setTimeout(r, 50));
  romeo.write("<iq type='get' id='v2' to='bot.localhost'><query xmlns='jabber:iq:version'/></iq>");
  assert.match(await romeo.waitFor(/id=['"]v2['"][\s\S]*?<\/iq>/), /type=['"]error['"][\s\S]*<service-unavailable/);
  romeo.destroy();
}));

test("wrong secret, unknown domain, a second connection and stanzas before the handshake are refused", () => withServer(async (_ts, port) => {
  const wrong = await open(port, "bot.localhost");
  wrong.c.write(`<handshake>${handshakeDigest(wrong.id, "not the secret at all")}</handshake>`);
  await wrong.c.waitFor(/<stream:error><not-authorized/);
  await wrong.c.waitClosed();

  const unknown = await open(port, "nobody.localhost");
  await unknown.c.waitFor(/<stream:error><host-unknown/);
  await unknown.c.waitClosed();

  const early = await open(port, "bot.localhost");
  early.c.write("<message to='romeo@localhost' from='bot.localhost'><body>too soon</body></message>");
  await early.c.waitFor(/<stream:error><not-authorized/);

  const first = await connected(port);
  const second = await open(port, "bot.localhost");
  second.c.write(`<handshake>${handshakeDigest(second.id, SECRET)}</handshake>`);
  await second.c.waitFor(/<stream:error><conflict/);
  // The first connection keeps working.
  first.write("<iq type='get' id='p' from='bot.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  assert.match(await first.waitFor(/<iq[^>]*id=['"]p['"][^>]*>/), /type=['"]result['"]/);
  first.destroy();
}));

test.run();
