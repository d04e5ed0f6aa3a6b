// XMPP over WebSocket (RFC 7395) with a raw WebSocket client: the framing
// elements, stand-alone messages, login, and a message to a TCP user.
import { test } from "uvu";
import * as assert from "uvu/assert";
import WebSocket from "ws";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

const ACCOUNTS = [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }];

class WsClient {
  readonly received: string[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on("message", (d) => { this.received.push(String(d)); for (const w of this.waiters.splice(0)) w(); });
    ws.on("close", () => { for (const w of this.waiters.splice(0)) w(); });
  }
  static open(url: string, protocol = "xmpp"): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocol);
      ws.once("open", () => resolve(new WsClient(ws)));
      ws.once("error", reject);
    });
  }
  send(xml: string): void { this.ws.send(xml); }
  async next(pattern: RegExp, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.received.findIndex((m) => pattern.test(m));
      if (i >= 0) return this.received.splice(0, i + 1)[i] as string;
      if (Date.now() > deadline || this.ws.readyState === WebSocket.CLOSED) throw new Error(`no message matching ${pattern}; got ${this.received.join(" | ")}`);
      await new Promise<void>((r) => { const t = setTimeout(r, 50); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }
}

const OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";

test("RFC 7395: open/close framing, stand-alone messages, SASL, bind, and a message to a TCP client", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const url = `ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`;
    const c = await WsClient.open(url);
    assert.is(c.ws.protocol, "xmpp");
    c.send(OPEN);
    assert.match(await c.next(/^<open /), /^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost' id='[0-9a-f]+' version='1.0'/);
    const features = await c.next(/features/);
    assert.match(features, /^<stream:features xmlns:stream='http:\/\/etherx.jabber.org\/streams'>/);
    assert.match(features, /<mechanism>PLAIN<\/mechanism>/);
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0r").toString("base64")}</auth>`);
    await c.next(/^<success/);
    c.send(OPEN);
    await c.next(/^<open /);
    assert.match(await c.next(/features/), /<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'\/>/);
    c.send("<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>");
    assert.match(await c.next(/id='b'/), /^<iq xmlns='jabber:client' type='result' id='b'>.*romeo@localhost\/web/);

    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j", "tcp");
    c.send("<message xmlns='jabber:client' type='chat' to='juliet@localhost/tcp'><body>over the web</body></message>");
    await juliet.waitFor(/<message[^>]*from='romeo@localhost\/web'[^>]*><body>over the web<\/body>/);
    juliet.write("<message type='chat' to='romeo@localhost/web'><body>over the wire</body></message>");
    assert.match(await c.next(/over the wire/), /^<message xmlns='jabber:client'/);

    c.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    await c.next(/^<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'\/>/);
    juliet.destroy();
  } finally {
    await ts.stop();
  }
});

test("a WebSocket without the xmpp subprotocol is refused", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const url = `ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`;
    let refused = false;
    try {
      const c = await WsClient.open(url, "chat");
      await new Promise((r) => c.ws.once("close", r));
      refused = true;
    } catch {
      refused = true;
    }
    assert.ok(refused);
  } finally {
    await ts.stop();
  }
});

test("malformed XML in a WebSocket message gets a stream error", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const c = await WsClient.open(`ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`);
    c.send(OPEN);
    await c.next(/features/);
    c.send("<message><body>oops</message>");
    assert.match(await c.next(/stream:error/), /<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await c.next(/^<close /);
  } finally {
    await ts.stop();
  }
});

async function loginOverWebSocket(c: WsClient, user: string, password: string): Promise<void> {
  c.send(OPEN);
  await c.next(/features/);
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString("base64")}</auth>`);
  await c.next(/^<success/);
  c.send(OPEN);
  await c.next(/features/);
  c.send("<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
  await c.next(/id='bind'/);
}

test("the stanza rate limit applies to WebSockets: a burst is throttled, a flood gets policy-violation", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.stanzasPerSecond = 20; c.limits.stanzaBurst = 10; } });
  try {
    const c = await WsClient.open(`ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`);
    await loginOverWebSocket(c, "romeo", "r");
    await new Promise((r) => setTimeout(r, 1000)); // the login's stanzas are paid back
    for (let i = 0; i < 15; i++) c.send(`<iq xmlns='jabber:client' type='get' id='t${i}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await c.next(/id='t14'/, 5000);
    // 5 over the burst at 20 a second: reading stops for about a quarter of a second,
    // so a ping sent now is answered only after that.
    const started = Date.now();
    c.send("<iq xmlns='jabber:client' type='get' id='late'><ping xmlns='urn:xmpp:ping'/></iq>");
    await c.next(/id='late'/, 5000);
    assert.ok(Date.now() - started >= 150, `the throttled ping took ${Date.now() - started} ms`);
    assert.not.ok(c.received.some((m) => m.includes("stream:error")));
    await new Promise((r) => setTimeout(r, 1200));
    for (let i = 0; i < 60; i++) c.send(`<iq xmlns='jabber:client' type='get' id='f${i}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.match(await c.next(/stream:error/, 5000), /<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await c.next(/^<close /);
  } finally {
    await ts.stop();
  }
});

test.run();
