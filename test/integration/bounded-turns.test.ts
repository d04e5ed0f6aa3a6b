// Bounded turns (src/net/stanza-pacer.ts): 300 block IQs (XEP-0191 §3.3)
// pipelined in one write are decided a few per event-loop turn, so their
// results come back in order and incrementally, each batch once its commit is
// durable, and another connection's ping is answered while the burst is still
// being worked through. Over TCP, Direct TLS (XEP-0368) and WebSocket (RFC 7395).
import { test } from "uvu";
import * as assert from "uvu/assert";
import tls from "node:tls";
import WebSocket from "ws";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";

const ACCOUNTS = [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }];
const BURST = 300;

const blockIq = (i: number): string =>
  `<iq type='set' id='b${i}'><block xmlns='urn:xmpp:blocking'><item jid='enemy${i}@localhost'/></block></iq>`;

/** The ids of romeo's block results received so far, in arrival order. */
const resultIds = (text: string): number[] =>
  [...text.matchAll(/<iq[^>]*type='result'[^>]*id='b(\d+)'|<iq[^>]*id='b(\d+)'[^>]*type='result'/g)].map((m) => Number(m[1] ?? m[2]));

/** One side of the burst: how to send it and what has arrived. */
interface Burster {
  sendAll(stanzas: string[]): void;
  text(): string;
  waitFor(pattern: RegExp, ms: number): Promise<unknown>;
}

async function burstWhileJulietPings(ts: TestServer, romeo: Burster): Promise<void> {
  const juliet = await RawClient.connect(ts.port);
  await juliet.login("juliet", "j", "ping");
  romeo.sendAll(Array.from({ length: BURST }, (_, i) => blockIq(i)));
  await romeo.waitFor(/id='b0'/, 10_000);
  const withFirst = resultIds(romeo.text()).length;
  // The first result is here; another user's ping now, while romeo's burst is still worked through.
  juliet.write("<iq type='get' id='ping' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  await juliet.waitFor(/<iq[^>]*id='ping'/, 10_000);
  const atPing = resultIds(romeo.text()).length;
  await romeo.waitFor(new RegExp(`id='b${BURST - 1}'`), 30_000);
  const ids = resultIds(romeo.text());
  if (process.env.PARLEY_TEST_VERBOSE) console.log(`  results with the first: ${withFirst}; when juliet's ping was answered: ${atPing} of ${BURST}`);

  assert.equal(ids, Array.from({ length: BURST }, (_, i) => i), "every block IQ answered once, in order (RFC 6120 §10.1)");
  assert.ok(withFirst < BURST / 2, `the first result came with ${withFirst} others: the burst was not split into turns`);
  assert.ok(atPing < BURST, `juliet's ping was answered only after all ${BURST} of romeo's results`);
  juliet.destroy();
}

async function assertBlocked(ts: TestServer): Promise<void> {
  const check = await RawClient.connect(ts.port);
  await check.login("romeo", "r", "check");
  check.write("<iq type='get' id='list'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
  const list = await check.waitFor(/<\/blocklist>|<blocklist[^>]*\/>/);
  assert.is([...list.matchAll(/<item jid='enemy\d+@localhost'\/>/g)].length, BURST);
  check.destroy();
}

const rawBurster = (c: RawClient): Burster => ({
  sendAll: (stanzas) => c.write(stanzas.join("")),
  text: () => c.text,
  waitFor: (pattern, ms) => c.waitFor(pattern, ms),
});

test("TCP: 300 pipelined block IQs are answered incrementally, and another user's ping meanwhile", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r", "burst");
    await burstWhileJulietPings(ts, rawBurster(romeo));
    romeo.destroy();
    await assertBlocked(ts);
  } finally {
    await ts.stop();
  }
});

test("Direct TLS: the same burst is split into turns", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port: ts.server.directTlsPort, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    const romeo = RawClient.wrap(socket);
    romeo.write(HEADER());
    await romeo.waitFor(/<\/stream:features>/);
    await romeo.login("romeo", "r", "burst", { streamOpen: true });
    await burstWhileJulietPings(ts, rawBurster(romeo));
    romeo.destroy();
    await assertBlocked(ts);
  } finally {
    await ts.stop();
  }
});

test("WebSocket: 300 block IQs in one read of the socket are split into turns", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const ws = await new Promise<WebSocket>((resolve, reject) => {
      const w = new WebSocket(`ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`, "xmpp");
      w.once("open", () => resolve(w));
      w.once("error", reject);
    });
    let text = "";
    const waiters: (() => void)[] = [];
    ws.on("message", (d) => { text += String(d); for (const w of waiters.splice(0)) w(); });
    const waitFor = async (pattern: RegExp, ms: number): Promise<void> => {
      const deadline = Date.now() + ms;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} after ${ms} ms; got ${text.slice(-500)}`);
        await new Promise<void>((r) => { const t = setTimeout(r, 50); waiters.push(() => { clearTimeout(t); r(); }); });
      }
    };
    const open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";
    ws.send(open);
    await waitFor(/<\/stream:features>/, 3000);
    ws.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0r").toString("base64")}</auth>`);
    await waitFor(/<success/, 3000);
    text = "";
    ws.send(open);
    await waitFor(/<\/stream:features>/, 3000);
    ws.send("<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>");
    await waitFor(/<\/jid>/, 3000);
    text = "";
    // One frame per stanza (RFC 7395 §3.3.3), all written before the server reads any.
    const ns = (xml: string) => xml.replace("<iq ", "<iq xmlns='jabber:client' ");
    await burstWhileJulietPings(ts, {
      sendAll: (stanzas) => { for (const s of stanzas) ws.send(ns(s)); },
      text: () => text,
      waitFor,
    });
    ws.terminate();
    await assertBlocked(ts);
  } finally {
    await ts.stop();
  }
});

test.run();
