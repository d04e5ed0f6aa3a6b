// XEP-0199 §4.3 pings on idle server-to-server streams: a peer that
// authenticates by dialback and then goes silent (a raw socket, or a Parley
// process stopped with SIGSTOP) is found dead within
// s2s.ping_timeout_seconds and what was sent to it bounces remote-server-timeout
// (RFC 6120 §8.3.3.15); between two Parleys the pings are answered (over the
// other server's own stream, RFC 6120 §8.2), keep the stream up, reach no
// user, and do not keep an unused stream from its idle close.
import { test } from "uvu";
import * as assert from "uvu/assert";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { ServerConfig } from "../../src/config.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { PASSWORD, User, aliceAndAvailableBob, twoServers } from "../helpers/s2s-pair.js";
import { spawnServer } from "../helpers/server-process.js";

const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/**
 * A server for `domain` on a raw socket: it answers the stream header with
 * its own (dialback offered, no TLS), accepts the dialback key unchecked, and
 * from then on reads everything and says nothing.
 */
async function silentPeer(domain: string): Promise<{ port: number; text(): string; closed(): boolean; stop(): Promise<void> }> {
  let received = "";
  let socket: net.Socket | undefined;
  const server = net.createServer((s) => {
    socket = s;
    s.setEncoding("utf8");
    s.on("error", () => {});
    s.on("data", (chunk: string) => {
      received += chunk;
      if (/<stream:stream[^>]*>/.test(chunk)) {
        s.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${domain}' to='a.test' id='silent1' version='1.0'>` +
          "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>");
      }
      if (/<(db:)?result /.test(chunk)) s.write(`<db:result from='${domain}' to='a.test' type='valid'/>`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    text: () => received,
    closed: () => socket?.destroyed === true || socket?.readableEnded === true,
    async stop() {
      socket?.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function serverWithSilentPeer(configure: (c: ServerConfig) => void): Promise<{ a: TestServer; peer: Awaited<ReturnType<typeof silentPeer>>; alice: User; stop(): Promise<void> }> {
  const peer = await silentPeer("quiet.test");
  const a = await startTestServer({
    accounts: [{ jid: "alice@a.test", password: PASSWORD }],
    configure: (c) => {
      c.domains = ["a.test"];
      c.s2s.insecureDomains = ["quiet.test"];
      c.s2s.routes = { "quiet.test": `127.0.0.1:${peer.port}` };
      configure(c);
    },
  });
  const alice = await User.login(a.port, "alice", "a.test", "home");
  return { a, peer, alice, async stop() { alice.close(); await a.stop(); await peer.stop(); } };
}

const bounced = (id: string) => (s: { attrs: Record<string, string>; name: string }) => s.attrs.id === id && s.attrs.type === "error";
const PING = /<iq [^>]*id='(s2s-ping-[0-9a-f]+)'[^>]*><ping xmlns='urn:xmpp:ping'\/><\/iq>/;

test("a peer that stops answering: the ping goes out after the idle interval, and what was sent since bounces remote-server-timeout within the ping timeout", async () => {
  const { a, peer, alice, stop } = await serverWithSilentPeer((c) => {
    c.s2s.pingIntervalSeconds = 1;
    c.s2s.pingTimeoutSeconds = 2;
  });
  try {
    alice.write("<message to='carol@quiet.test' id='m0' type='chat'><body>before the ping</body></message>");
    await until("m0 reaches the peer", () => peer.text().includes("before the ping"), 5000);
    assert.equal(a.server.s2s?.outgoingStates(), { "a.test quiet.test": "ready" });
    const written = Date.now();
    await until("a ping reaches the peer", () => PING.test(peer.text()), 3000);
    const pinged = Date.now();
    assert.ok(pinged - written >= 800, `the ping came ${pinged - written} ms after the last stanza, before the 1 s interval`);
    const ping = /<iq [^>]*>/.exec(peer.text().slice(peer.text().indexOf("<iq ")))?.[0] ?? "";
    assert.match(ping, /type='get'/);
    assert.match(ping, /from='a.test'/);
    assert.match(ping, /to='quiet.test'/);
    // Written on the stream while the ping waits: in flight, nothing says the peer read it.
    alice.write("<message to='carol@quiet.test' id='m1' type='chat'><body>while it waits</body></message>");
    await until("m1 reaches the peer", () => peer.text().includes("while it waits"), 2000);
    const late = await alice.waitFor(bounced("m1"), 4000);
    const after = Date.now() - pinged;
    assert.ok(after >= 1500 && after < 3500, `bounced ${after} ms after the ping (timeout 2 s)`);
    assert.ok(late.getChild("error")?.getChild("remote-server-timeout", STANZAS), late.toString());
    assert.is(late.attrs.from, "carol@quiet.test");
    const early = await alice.waitFor(bounced("m0"), 100);
    assert.ok(early.getChild("error")?.getChild("remote-server-timeout", STANZAS), "the stanza sent before the unanswered ping bounces too");
    // The stream is gone, the connection closed; the domain is backed off with the same condition.
    assert.equal(a.server.s2s?.outgoingStates(), {});
    await until("the peer's connection closes", () => peer.closed(), 2000);
    alice.write("<message to='carol@quiet.test' id='m2' type='chat'><body>after</body></message>");
    const again = await alice.waitFor(bounced("m2"), 1000);
    assert.ok(again.getChild("error")?.getChild("remote-server-timeout", STANZAS));
  } finally {
    await stop();
  }
});

test("queue_limit stanzas unconfirmed: a ping goes out at once, later ones are still written, and when no answer comes the recorded ones bounce remote-server-timeout", async () => {
  const { peer, alice, stop } = await serverWithSilentPeer((c) => {
    c.s2s.pingIntervalSeconds = 60;
    c.s2s.pingTimeoutSeconds = 1;
    c.s2s.queueLimit = 2;
  });
  try {
    alice.write("<message to='carol@quiet.test' id='q1'><body>one</body></message>");
    await until("q1 reaches the peer", () => peer.text().includes(">one<"), 5000);
    const started = Date.now();
    alice.write("<message to='carol@quiet.test' id='q2'><body>two</body></message><message to='carol@quiet.test' id='q3'><body>three</body></message>");
    await until("a ping reaches the peer", () => PING.test(peer.text()), 2000);
    assert.ok(Date.now() - started < 2000, "the ping did not wait for the 60 s interval");
    // A burst is never held back behind the ping: the third is written too, past the record.
    await until("q3 reaches the peer", () => peer.text().includes(">three<"), 2000);
    for (const id of ["q1", "q2"]) {
      const b = await alice.waitFor(bounced(id), 3000);
      assert.ok(b.getChild("error")?.getChild("remote-server-timeout", STANZAS), `${id}: ${b.toString()}`);
    }
    // Memory per stream stays at queue_limit stanzas: the one past the record is only counted (in the failure's log line).
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(alice.stanzas().filter(bounced("q3")), []);
  } finally {
    await stop();
  }
});

test("a Parley that stops answering (its process SIGSTOPped): the next ping goes unanswered and a message sent meanwhile bounces remote-server-timeout", async () => {
  const a = await startTestServer({
    accounts: [{ jid: "alice@a.test", password: PASSWORD }],
    configure: (c) => {
      c.domains = ["a.test"];
      c.s2s.pingIntervalSeconds = 1;
      c.s2s.pingTimeoutSeconds = 3;
    },
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-s2s-stop-"));
  writeFileSync(path.join(dir, "b.toml"), `domains = ["b.test"]\nlog_level = "info"\n[s2s.routes]\n"a.test" = "127.0.0.1:${a.server.s2s?.port as number}"\n`);
  const b = await spawnServer(path.join(dir, "data"), ["--config", path.join(dir, "b.toml")]);
  let stopped = false;
  try {
    const bPort = Number(/"s2s":"127\.0\.0\.1:(\d+)"/.exec(b.log())?.[1]);
    a.server.config.s2s.routes["b.test"] = `127.0.0.1:${bPort}`;
    const alice = await User.login(a.port, "alice", "a.test", "home");
    alice.write("<message to='nobody@b.test' id='w0'><body>warm up</body></message>");
    const pings = () => a.server.s2s?.outgoingPings()["a.test b.test"] ?? { sent: 0, answered: 0 };
    await until("b.test answers a ping", () => pings().answered >= 1, 8000);
    b.child.kill("SIGSTOP");
    stopped = true;
    await until("a ping waits for its answer", () => pings().sent > pings().answered, 4000);
    const pinged = Date.now();
    alice.write("<message to='bob@b.test' id='s1' type='chat'><body>to a frozen server</body></message>");
    const bounce = await alice.waitFor(bounced("s1"), 6000);
    assert.ok(bounce.getChild("error")?.getChild("remote-server-timeout", STANZAS), bounce.toString());
    assert.ok(Date.now() - pinged < 4500, `bounced ${Date.now() - pinged} ms after the ping (timeout 3 s)`);
    assert.equal(a.server.s2s?.outgoingStates(), {});
    alice.close();
  } finally {
    if (stopped) b.child.kill("SIGCONT");
    await b.stop();
    await a.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("between two Parleys pings are answered over the other server's stream: the streams stay up, no user sees a ping or its answer, and messages still cross", async () => {
  const { a, b, stop } = await twoServers((c) => {
    c.s2s.pingIntervalSeconds = 1;
    c.s2s.pingTimeoutSeconds = 2;
  });
  try {
    const { alice, bob } = await aliceAndAvailableBob(a, b);
    alice.write("<message to='bob@b.test' type='chat'><body>first</body></message>");
    await bob.waitFor((s) => s.name === "message" && s.getChildText("body") === "first");
    // b.test's stream to a.test opened to deliver the presence probe answers, or opens now for this one.
    bob.write("<message to='alice@a.test/home' type='chat'><body>back</body></message>");
    await alice.waitFor((s) => s.name === "message" && s.getChildText("body") === "back");
    await until("two pings each way answered on the same streams", () =>
      (a.server.s2s?.outgoingPings()["a.test b.test"]?.answered ?? 0) >= 2 && (b.server.s2s?.outgoingPings()["b.test a.test"]?.answered ?? 0) >= 2, 6000);
    assert.equal(a.server.s2s?.outgoingStates(), { "a.test b.test": "ready" });
    assert.equal(b.server.s2s?.outgoingStates(), { "b.test a.test": "ready" });
    const pings = a.server.s2s?.outgoingPings()["a.test b.test"];
    assert.ok(pings !== undefined && pings.sent - pings.answered <= 1, `sent ${pings?.sent}, answered ${pings?.answered}`);
    alice.write("<message to='bob@b.test' type='chat'><body>still up</body></message>");
    await bob.waitFor((s) => s.name === "message" && s.getChildText("body") === "still up");
    for (const u of [alice, bob]) {
      assert.equal(u.stanzas().filter((s) => s.name === "iq" && (s.attrs.id ?? "").startsWith("s2s-ping-")), [], `${u.jid} saw a ping`);
    }
    alice.close();
    bob.close();
  } finally {
    await stop();
  }
});

test("pings do not keep an unused stream open: it closes after idle_seconds, and the next message opens a new one", async () => {
  const { a, b, stop } = await twoServers((c) => {
    c.s2s.pingIntervalSeconds = 1;
    c.s2s.pingTimeoutSeconds = 2;
    c.s2s.idleSeconds = 3;
  });
  try {
    const { alice, bob } = await aliceAndAvailableBob(a, b);
    alice.write("<message to='bob@b.test' type='chat'><body>once</body></message>");
    await bob.waitFor((s) => s.name === "message" && s.getChildText("body") === "once");
    await until("a ping answered", () => (a.server.s2s?.outgoingPings()["a.test b.test"]?.answered ?? 0) >= 1, 4000);
    await until("a.test's stream to b.test closed as idle", () => a.server.s2s?.outgoingStates()["a.test b.test"] === undefined, 6000);
    // Closed in order, not failed: nothing backed off, the next message goes through at once.
    alice.write("<message to='bob@b.test' type='chat' id='n1'><body>again</body></message>");
    await bob.waitFor((s) => s.name === "message" && s.getChildText("body") === "again", 4000);
    assert.equal(alice.stanzas().filter(bounced("n1")), []);
    alice.close();
    bob.close();
  } finally {
    await stop();
  }
});

test.run();
