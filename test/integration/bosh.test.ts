// BOSH (XEP-0124, XEP-0206) at /http-bind, over real HTTP with node's fetch:
// a whole login (SASL, restart, bind) feeding the same session machine as
// TCP, messages both ways with a TCP client (one of them arriving on a held
// long poll), and the session rules a client would run into: wait, hold and
// requests, rid order and replay, terminate, inactivity, polling, errors.
// (Neither @xmpp/client nor slixmpp has a BOSH transport, so the client is
// this file's own, speaking the XEPs' examples.)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { Peer, parseStanzas } from "../helpers/xmpp-peer.js";
import type { XmlElement } from "../../src/xml/element.js";
import type { ServerConfig } from "../../src/config.js";

const HTTPBIND = "http://jabber.org/protocol/httpbind";
const XBOSH = "urn:xmpp:xbosh";
const ROMEO = { jid: "romeo@localhost", password: "wherefore art thou" };
const JULIET = { jid: "juliet@localhost", password: "a rose by any name" };

interface Answer { status: number; body: XmlElement; ms: number }

class BoshClient {
  sid = "";
  rid = 4_000_000 + Math.floor(Math.random() * 1_000_000);
  constructor(readonly url: string) {}

  async raw(text: string): Promise<Answer> {
    const t0 = Date.now();
    const res = await fetch(this.url, { method: "POST", body: text, headers: { "content-type": "text/xml; charset=utf-8" } });
    const body = parseStanzas(await res.text())[0] as XmlElement;
    return { status: res.status, body, ms: Date.now() - t0 };
  }

  /** A request with the next rid (or the one given). */
  send(inner = "", attrs = "", rid = this.rid++): Promise<Answer> {
    return this.raw(`<body xmlns='${HTTPBIND}' xmlns:xmpp='${XBOSH}' rid='${rid}' sid='${this.sid}'${attrs}>${inner}</body>`);
  }

  async create(extra = " wait='5' hold='1'"): Promise<Answer> {
    const a = await this.raw(`<body xmlns='${HTTPBIND}' xmlns:xmpp='${XBOSH}' rid='${this.rid++}' to='localhost' xml:lang='en' ver='1.6' xmpp:version='1.0'${extra}/>`);
    this.sid = a.body.attrs.sid ?? "";
    return a;
  }

  /** Requests until one carries an element matching `want` (the server may answer an earlier one empty). */
  async until(want: (e: XmlElement) => boolean, first: Promise<Answer>): Promise<XmlElement> {
    let a = await first;
    for (let i = 0; i < 10; i++) {
      const found = a.body.getChildren().find(want);
      if (found) return found;
      a = await this.send();
    }
    throw new Error(`never received it; last answer: ${JSON.stringify(a.body)}`);
  }

  /** XEP-0206 §5: SASL PLAIN, the restart, resource binding. */
  async login(user: string, password: string, resource: string): Promise<string> {
    const created = await this.create();
    assert.ok(created.body.getChildren().some((e) => e.name === "features"), "the creation response carries the stream features");
    const plain = Buffer.from(`\0${user}\0${password}`).toString("base64");
    const success = await this.until((e) => e.name === "success" || e.name === "failure",
      this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`));
    assert.is(success.name, "success");
    const features = await this.until((e) => e.name === "features", this.send("", " xmpp:restart='true' to='localhost' xml:lang='en'"));
    assert.ok(features.getChild("bind", "urn:ietf:params:xml:ns:xmpp-bind"), "bind is offered after the restart");
    const bound = await this.until((e) => e.name === "iq" && e.attrs.id === "bind1",
      this.send(`<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`));
    return bound.getChild("bind")?.getChildText("jid") ?? "";
  }
}

async function withServer(configure: ((c: ServerConfig) => void) | undefined, body: (ts: TestServer, url: string) => Promise<void>): Promise<void> {
  const ts = await startTestServer({ accounts: [ROMEO, JULIET], configure });
  try {
    await body(ts, `http://127.0.0.1:${ts.server.httpPort}/http-bind`);
  } finally {
    await ts.stop();
  }
}

test("log in over BOSH and exchange messages with a TCP client; a held request carries what arrives", async () => {
  await withServer(undefined, async (ts, url) => {
    const romeo = new BoshClient(url);
    const created = await romeo.create();
    assert.is(created.status, 200);
    const b = created.body;
    assert.ok(b.attrs.sid, "§7.2: the session id");
    assert.is(b.attrs.wait, "5");
    assert.is(b.attrs.hold, "1");
    assert.is(b.attrs.requests, "2", "hold + 1");
    assert.ok(Number(b.attrs.inactivity) > 0 && Number(b.attrs.polling) > 0);
    assert.is(b.attrs["xmpp:version"], "1.0", "XEP-0206 §5");
    const terminated = await romeo.send("", " type='terminate'");
    assert.is(terminated.body.attrs.type, "terminate");

    const client = new BoshClient(url);
    const jid = await client.login("romeo", ROMEO.password, "browser");
    assert.is(jid, "romeo@localhost/browser");
    assert.is(ts.server.connections.summary().byTransport.bosh, 1, "counted as a BOSH connection");

    const juliet = await Peer.login(ts.port, "juliet", JULIET.password, "balcony");
    try {
      // Romeo (BOSH) to Juliet (TCP).
      await client.send("<message xmlns='jabber:client' to='juliet@localhost/balcony' type='chat' id='m1'><body>But soft!</body></message>");
      await juliet.raw.waitFor(/But soft!/);
      // An empty request is held (hold=1) until Juliet's message comes.
      const poll = client.send();
      await new Promise((r) => setTimeout(r, 300));
      juliet.write("<message to='romeo@localhost/browser' type='chat' id='m2'><body>Wherefore art thou</body></message>");
      const got = await poll;
      assert.ok(got.ms < 4000, `answered when the message came (${got.ms} ms), not after wait`);
      const message = got.body.getChildren().find((e) => e.name === "message");
      assert.is(message?.getChildText("body"), "Wherefore art thou");
      assert.is(message?.ns, "jabber:client");
    } finally {
      juliet.close();
    }
    const bye = await client.send("<presence xmlns='jabber:client' type='unavailable'/>", " type='terminate'");
    assert.is(bye.body.attrs.type, "terminate");
    const after = await client.send();
    assert.is(after.body.attrs.condition, "item-not-found", "§17: the session is gone");
  });
});

test("a stream error ends the session as remote-stream-error, the error inside (XEP-0206 §6)", async () => {
  await withServer(undefined, async (_ts, url) => {
    const c = new BoshClient(url);
    await c.create();
    const a = await c.send("<iq xmlns='jabber:client' type='get' id='early'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.is(a.body.attrs.type, "terminate");
    assert.is(a.body.attrs.condition, "remote-stream-error");
    const error = a.body.getChild("error", "http://etherx.jabber.org/streams");
    assert.ok(error?.getChild("not-authorized", "urn:ietf:params:xml:ns:xmpp-streams"), "a stanza before authentication (RFC 6120 §6.4)");
  });
});

test("wait: a held request with nothing to carry is answered empty after `wait` seconds (bounded by max_wait)", async () => {
  await withServer((c) => { c.bosh.maxWaitSeconds = 1; }, async (_ts, url) => {
    const c = new BoshClient(url);
    const created = await c.create(" wait='60' hold='1'");
    assert.is(created.body.attrs.wait, "1", "the client's 60 is cut to max_wait_seconds");
    const empty = await c.send();
    assert.is(empty.body.getChildren().length, 0);
    assert.ok(empty.ms >= 800 && empty.ms < 5000, `answered after about a second (${empty.ms} ms)`);
  });
});

test("rid: a repeated request gets the same answer; one beyond the window ends the session", async () => {
  await withServer(undefined, async (_ts, url) => {
    const c = new BoshClient(url);
    await c.create();
    const rid = c.rid;
    const wrong = Buffer.from("\0romeo\0not his password").toString("base64");
    const auth = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${wrong}</auth>`;
    const first = await c.until((e) => e.name === "failure", c.send(auth));
    assert.ok(first.getChild("not-authorized"), "a wrong password");
    const again = await c.send(auth, "", rid);
    assert.ok(again.body.getChildren().some((e) => e.name === "failure"), "§14.3: the same response, replayed, not a second attempt");
    const far = await c.send("", "", c.rid + 10);
    assert.is(far.body.attrs.type, "terminate");
    assert.is(far.body.attrs.condition, "item-not-found");
  });
});

test("hold and requests: a second request releases the first; a third at once is overactivity; rids are taken in order", async () => {
  await withServer(undefined, async (_ts, url) => {
    const c = new BoshClient(url);
    await c.create(" wait='5' hold='1'");
    const a = c.send();
    await new Promise((r) => setTimeout(r, 200));
    const b = c.send();
    const first = await a;
    assert.ok(first.ms < 2000, `the held request was answered when the next came (${first.ms} ms)`);
    // b is held; two more at once (rid order reversed) make three outstanding, past requests='2' (§11).
    const rid = c.rid;
    c.rid += 2;
    const later = c.send("", "", rid + 1);
    await new Promise((r) => setTimeout(r, 100));
    const answers = await Promise.all([b, later, c.send("", "", rid)]);
    assert.ok(answers.some((x) => x.body.attrs.condition === "policy-violation"), JSON.stringify(answers.map((x) => x.body.attrs)));

    // A fresh session, nothing held: the later rid waits for the earlier, then both are taken.
    const d = new BoshClient(url);
    await d.create(" wait='1' hold='1'");
    const r = d.rid;
    const second = d.send("", "", r + 1);
    await new Promise((res) => setTimeout(res, 100));
    const firstOfTwo = d.send("", "", r);
    const [x, y] = await Promise.all([firstOfTwo, second]);
    assert.is(x.body.attrs.type, undefined, JSON.stringify(x.body.attrs));
    assert.is(y.body.attrs.type, undefined, JSON.stringify(y.body.attrs));
  });
});

test("polling: a session with hold=0 may not send empty requests faster than `polling`", async () => {
  await withServer((c) => { c.bosh.pollingSeconds = 5; }, async (_ts, url) => {
    const c = new BoshClient(url);
    const created = await c.create(" wait='5' hold='0'");
    assert.is(created.body.attrs.polling, "5");
    assert.is(created.body.attrs.requests, "1");
    const first = await c.send();
    assert.is(first.body.attrs.type, undefined, "one empty poll is fine");
    const second = await c.send();
    assert.is(second.body.attrs.condition, "policy-violation");
  });
});

test("inactivity: a session that sends no request for `inactivity` seconds is gone", async () => {
  await withServer((c) => { c.bosh.inactivitySeconds = 1; }, async (ts, url) => {
    const c = new BoshClient(url);
    const jid = await c.login("romeo", ROMEO.password, "tab");
    assert.is(jid, "romeo@localhost/tab");
    await new Promise((r) => setTimeout(r, 1600));
    const late = await c.send();
    assert.is(late.body.attrs.condition, "item-not-found");
    for (let i = 0; i < 20 && ts.server.connections.summary().byTransport.bosh > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.is(ts.server.connections.summary().byTransport.bosh, 0, "its XMPP session ended too");
  });
});

test("errors: bad XML, an unknown host, an unknown sid, a body too large; CORS; host-meta names /http-bind", async () => {
  await withServer((c) => { c.bosh.maxRequestBytes = 2000; }, async (ts, url) => {
    const c = new BoshClient(url);
    const bad = await fetch(url, { method: "POST", body: "<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><unclosed></body>" });
    assert.is(bad.status, 400);
    assert.match(await bad.text(), /condition='bad-request'/);
    const unknownHost = await c.raw(`<body xmlns='${HTTPBIND}' rid='5' to='elsewhere.example' wait='5' hold='1'/>`);
    assert.is(unknownHost.body.attrs.condition, "host-unknown");
    c.sid = "no-such-session";
    assert.is((await c.send()).body.attrs.condition, "item-not-found");
    const big = await fetch(url, { method: "POST", body: `<body xmlns='${HTTPBIND}' rid='1' to='localhost'>${"x".repeat(3000)}</body>` });
    assert.is(big.status, 413);
    const preflight = await fetch(url, { method: "OPTIONS", headers: { origin: "https://web.example", "access-control-request-method": "POST" } });
    assert.is(preflight.status, 204);
    assert.is(preflight.headers.get("access-control-allow-origin"), "*");
    assert.is((await fetch(url)).status, 405);
    const meta = await (await fetch(`http://127.0.0.1:${ts.server.httpPort}/.well-known/host-meta.json`)).json() as { links: { rel: string; href: string }[] };
    assert.is(meta.links.find((l) => l.rel === "urn:xmpp:alt-connections:xbosh")?.href, url);
  });
});

test("bosh.enabled = false: no /http-bind, and host-meta does not name it", async () => {
  await withServer((c) => { c.bosh.enabled = false; }, async (ts, url) => {
    assert.is((await fetch(url, { method: "POST", body: "<body/>" })).status, 404);
    const meta = await (await fetch(`http://127.0.0.1:${ts.server.httpPort}/.well-known/host-meta`)).text();
    assert.not.match(meta, /xbosh/);
  });
});

test.run();
