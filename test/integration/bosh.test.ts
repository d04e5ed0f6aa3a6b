// BOSH (XEP-0124, XEP-0206) at /http-bind, over real HTTP with node's fetch:
// a whole login (SASL, restart, bind) feeding the same session machine as
// TCP, messages both ways with a TCP client (one of them arriving on a held
// long poll), and the session rules a client would run into: wait, hold and
// requests, rid order and replay, terminate, inactivity, polling, pause,
// acknowledgements, errors.
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

interface Answer { status: number; body: XmlElement; text: string; ms: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class BoshClient {
  sid = "";
  rid = 4_000_000 + Math.floor(Math.random() * 1_000_000);
  constructor(readonly url: string) {}

  async raw(text: string): Promise<Answer> {
    const t0 = Date.now();
    const res = await fetch(this.url, { method: "POST", body: text, headers: { "content-type": "text/xml; charset=utf-8" } });
    const answer = await res.text();
    const body = parseStanzas(answer)[0] as XmlElement;
    return { status: res.status, body, text: answer, ms: Date.now() - t0 };
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
  async login(user: string, password: string, resource: string, extra?: string): Promise<string> {
    const created = await this.create(extra);
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
    assert.is(b.attrs.maxpause, "120", "§7.2: pauses offered, up to max_pause_seconds");
    assert.is(b.attrs.ack, undefined, "§7.2: no acknowledgements unless the client asked (ack='1')");
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
    // A held request sent again (its connection broke, say): the first copy gets a recoverable
    // error (§14.3, §17.3), the second the answer.
    const heldRid = c.rid;
    const firstCopy = c.send();
    await sleep(200);
    const secondCopy = c.send("", "", heldRid);
    assert.is((await firstCopy).body.attrs.type, "error");
    const pong = c.send("<iq xmlns='jabber:client' type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.is((await secondCopy).body.attrs.type, undefined, "the second copy is answered normally");
    await pong;
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

test("pause (§10): held requests answered at once, the session outlives inactivity, the next request ends the pause", async () => {
  await withServer((c) => { c.bosh.inactivitySeconds = 1; c.bosh.maxPauseSeconds = 4; }, async (_ts, url) => {
    const romeo = new BoshClient(url);
    assert.is(await romeo.login("romeo", ROMEO.password, "tab"), "romeo@localhost/tab");
    const juliet = await Peer.login(_ts.port, "juliet", JULIET.password, "balcony");
    try {
      const held = romeo.send();
      await sleep(200);
      const paused = await romeo.send("", " pause='3'");
      const answered = await held;
      assert.ok(answered.ms < 2000, `the held request came back with the pause (${answered.ms} ms), not after wait (5 s)`);
      assert.is(paused.body.attrs.type, undefined, JSON.stringify(paused.body.attrs));
      assert.is(paused.body.getChildren().length, 0, "the pause's answer carries no payloads");
      // While the page changes, Juliet writes; it waits for Romeo's next request.
      juliet.write("<message to='romeo@localhost/tab' type='chat' id='away'><body>Art thou there?</body></message>");
      await sleep(2000); // twice inactivity, within the pause
      const back = await romeo.send();
      assert.is(back.body.attrs.type, undefined, "the session survived the pause");
      assert.ok(back.ms < 1000, `what came during the pause goes on the first request (${back.ms} ms)`);
      assert.is(back.body.getChildren().find((e) => e.name === "message")?.getChildText("body"), "Art thou there?");
      // That request ended the pause: inactivity is one second again.
      await sleep(1600);
      assert.is((await romeo.send()).body.attrs.condition, "item-not-found", "normal inactivity is back");
    } finally {
      juliet.close();
    }
  });
});

test("pause: above maxpause is policy-violation; not a number is bad-request; max_pause_seconds = 0 offers none", async () => {
  await withServer((c) => { c.bosh.maxPauseSeconds = 10; }, async (_ts, url) => {
    const c = new BoshClient(url);
    assert.is((await c.create()).body.attrs.maxpause, "10");
    const refused = await c.send("", " pause='11'");
    assert.is(refused.body.attrs.type, "terminate");
    assert.is(refused.body.attrs.condition, "policy-violation");
    assert.is((await c.send()).body.attrs.condition, "item-not-found", "the session is over");
    const d = new BoshClient(url);
    await d.create();
    assert.is((await d.send("", " pause='soon'")).body.attrs.condition, "bad-request");
  });
  await withServer((c) => { c.bosh.maxPauseSeconds = 0; }, async (_ts, url) => {
    const c = new BoshClient(url);
    assert.is((await c.create()).body.attrs.maxpause, undefined, "no maxpause announced");
    assert.is((await c.send("", " pause='5'")).body.attrs.condition, "policy-violation", "§10: a client MUST NOT pause then");
  });
});

test("acknowledgements (§9): ack on responses, report and time for a lost one, a resent rid gets the same response until acknowledged", async () => {
  await withServer(undefined, async (_ts, url) => {
    const c = new BoshClient(url);
    const creationRid = c.rid;
    const created = await c.create(" wait='2' hold='1' ack='1'");
    assert.is(created.body.attrs.ack, String(creationRid), "§7.2: the creation response acknowledges the creation request");
    // r1 is held; r2 (the client has not had r1's answer, so it acknowledges only the creation) releases it.
    const r1 = c.rid;
    const first = c.send();
    await sleep(200);
    const r2 = c.rid;
    const second = c.send("", ` ack='${creationRid}'`);
    const one = await first;
    assert.is(one.body.attrs.ack, String(r2), "§9.1: r1's answer says r2 has arrived");
    const two = await second;
    assert.ok(two.ms >= 1500, `r2 was held for wait (${two.ms} ms)`);
    assert.is(two.body.attrs.ack, undefined, "§9.1: no ack when it would be the rid answered");
    // The client says it has r1's answer only: the server reports r2's, at once (wait is 2 s).
    await sleep(300);
    const three = await c.send("", ` ack='${r1}'`);
    assert.ok(three.ms < 1000, `answered at once (${three.ms} ms)`);
    assert.is(three.body.attrs.report, String(r2), "§9.2: the first response not acknowledged");
    assert.ok(Number(three.body.attrs.time) >= 300 && Number(three.body.attrs.time) < 5000, `§9.2: ms since it was sent: ${three.body.attrs.time}`);
    // §14.3: resending r2 (exactly as it was) gets the same response.
    const again = await c.send("", ` ack='${creationRid}'`, r2);
    assert.is(again.text, two.text, "the buffered copy, byte for byte");
    // A bad ack is bad-request (on a fresh session); here, r4 without ack acknowledges
    // everything, so r2's answer is forgotten and resending it is item-not-found.
    const four = c.send();
    await sleep(200);
    const gone = await c.send("", ` ack='${creationRid}'`, r2);
    assert.is(gone.body.attrs.condition, "item-not-found", "acknowledged responses are not kept");
    assert.is((await four).body.attrs.type, "terminate");
    const d = new BoshClient(url);
    await d.create(" wait='2' hold='1' ack='1'");
    assert.is((await d.send("", " ack='later'")).body.attrs.condition, "bad-request");
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
