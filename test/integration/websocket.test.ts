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

/** `streamOpen`: the first <open/> was already sent (its features not yet read). */
async function loginOverWebSocket(c: WsClient, user: string, password: string, options: { streamOpen?: boolean } = {}): Promise<void> {
  if (!options.streamOpen) c.send(OPEN);
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

test("a WebSocket client that stops reading is closed once its unread output passes max_unsent_output_bytes; the sender goes on", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.maxUnsentOutputBytes = 1024 * 1024; } });
  try {
    const juliet = await WsClient.open(`ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`);
    juliet.send(OPEN);
    const opened = await juliet.next(/^<open /);
    const session = (/ id='([^']+)'/.exec(opened) as RegExpExecArray)[1] as string;
    await loginOverWebSocket(juliet, "juliet", "j", { streamOpen: true });
    // Available, so chat to her bare JID is delivered to this resource (RFC 6121 §8.5.2.1.1).
    juliet.send("<presence xmlns='jabber:client'/>");
    await juliet.next(/^<presence/);
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    juliet.ws.pause();
    const body = "x".repeat(32 * 1024);
    for (let i = 0; i < 500; i++) {
      romeo.write(`<message to='juliet@localhost' type='chat' id='j${i}'><body>${body}</body></message>`);
      if (i % 100 === 99) {
        romeo.write(`<iq type='get' id='ping${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
        await romeo.waitFor(new RegExp(`id='ping${i}'`), 10000);
      }
    }
    const deadline = Date.now() + 20000;
    while (ts.server.sessionState(session) !== undefined) {
      if (Date.now() > deadline) throw new Error("juliet's WebSocket session is still open after 20 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    romeo.write("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await romeo.waitFor(/id='after'/, 5000);
    juliet.ws.resume();
    await new Promise<void>((resolve, reject) => {
      if (juliet.ws.readyState === WebSocket.CLOSED) return resolve();
      const t = setTimeout(() => reject(new Error("juliet's WebSocket did not close")), 10000);
      juliet.ws.once("close", () => { clearTimeout(t); resolve(); });
    });
    assert.ok(juliet.received.length < 250, `juliet got ${juliet.received.length} of 500 messages`);
    romeo.destroy();
  } finally {
    await ts.stop();
  }
});

test("an HTTP connection that does not become a WebSocket within handshake_timeout_seconds is closed; a WebSocket stays", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.handshakeTimeoutSeconds = 1; } });
  try {
    const ws = await WsClient.open(`ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`);
    await loginOverWebSocket(ws, "romeo", "r");
    const half = await RawClient.connect(ts.server.httpPort);
    half.write("GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"); // and never the blank line
    const silent = await RawClient.connect(ts.server.httpPort);
    const started = Date.now();
    await Promise.all([half.waitClosed(4000), silent.waitClosed(4000)]);
    assert.ok(Date.now() - started >= 800, `closed after ${Date.now() - started} ms, not before the timeout`);
    await new Promise((r) => setTimeout(r, 500));
    ws.send("<iq xmlns='jabber:client' type='get' id='still'><ping xmlns='urn:xmpp:ping'/></iq>");
    await ws.next(/id='still'/);
  } finally {
    await ts.stop();
  }
});

test("HTTP connections count against connections_per_address: past it, 503 and closed", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.connectionsPerAddress = 2; } });
  try {
    const halfSent = await Promise.all([1, 2].map(async () => {
      const c = await RawClient.connect(ts.server.httpPort);
      c.write("GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\n");
      return c;
    }));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await RawClient.connect(ts.server.httpPort);
    await extra.waitFor(/^HTTP\/1.1 503 /);
    await extra.waitClosed();
    const plain = await RawClient.connect(ts.port);
    await plain.waitFor(/<stream:error><policy-violation /);
    for (const c of halfSent) c.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const ws = await WsClient.open(`ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`);
    await loginOverWebSocket(ws, "romeo", "r");
    ws.ws.close();
  } finally {
    await ts.stop();
  }
});

test.run();
