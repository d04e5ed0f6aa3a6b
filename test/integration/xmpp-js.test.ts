// A real client library, @xmpp/client (xmpp.js), against a real server
// process (`parley start`): over TCP with STARTTLS and SASL, and over WebSocket. Login, roster get, a
// message round trip, and block/unblock (XEP-0191).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { client, xml, type Client, type Element, type FastToken } from "@xmpp/client";
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnServer, type ServerProcess } from "../helpers/server-process.js";
import { addUsers } from "../helpers/process-accounts.js";

const ACCOUNTS = [{ jid: "alice@localhost", password: "wonderland" }, { jid: "bob@localhost", password: "bob the builder" }];

// The server's certificate is self-signed: this test process trusts it.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
process.removeAllListeners("warning");
// Node 20 has no global WebSocket (Node 22 does); xmpp.js's WebSocket transport needs one.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

async function online(service: string, username: string, password: string): Promise<{ xmpp: Client; stanzas: Element[] }> {
  const xmpp = client({ service, domain: "localhost", resource: "xmppjs", username, password });
  const stanzas: Element[] = [];
  xmpp.on("stanza", (s: Element) => stanzas.push(s));
  xmpp.on("error", () => {});
  await xmpp.start();
  return { xmpp, stanzas };
}

async function waitFor(stanzas: Element[], match: (s: Element) => boolean, ms = 3000): Promise<Element> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = stanzas.find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`not received; got ${stanzas.map(String).join(" | ")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function withServer(args: string[], run: (server: ServerProcess) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-xmppjs-"));
  try {
    addUsers(dataDir, ACCOUNTS);
    const server = await spawnServer(dataDir, args);
    try {
      await run(server);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function conversation(ts: ServerProcess, service: (ts: ServerProcess) => string): Promise<void> {
  const alice = await online(service(ts), "alice", "wonderland");
  const bob = await online(service(ts), "bob", "bob the builder");
  try {
    // xmpp.js logs in with SASL2 and binds inline (Bind2): its resource is the tag and a suffix of the server's.
    const aliceJid = alice.xmpp.jid?.toString() ?? "";
    assert.match(aliceJid, /^alice@localhost\/xmppjs\.[0-9a-f]{8}$/);
    // …and enables stream management inside that bind (XEP-0386 §3 with XEP-0198).
    assert.ok(alice.xmpp.streamManagement.enabled, "stream management enabled inline");
    const roster = await alice.xmpp.iqCaller.request(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    assert.ok(roster.getChild("query", "jabber:iq:roster"), "roster result");
    await alice.xmpp.send(xml("presence"));
    await bob.xmpp.send(xml("presence"));

    await alice.xmpp.send(xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, "Hello Bob")));
    const got = await waitFor(bob.stanzas, (s) => s.is("message") && s.getChildText("body") === "Hello Bob");
    assert.is(got.attrs.from, aliceJid);
    await bob.xmpp.send(xml("message", { to: got.attrs.from ?? "", type: "chat" }, xml("body", {}, "Hello Alice")));
    await waitFor(alice.stanzas, (s) => s.is("message") && s.getChildText("body") === "Hello Alice");

    await alice.xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("block", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: "bob@localhost" }))));
    const list = await alice.xmpp.iqCaller.request(xml("iq", { type: "get" }, xml("blocklist", { xmlns: "urn:xmpp:blocking" })));
    assert.is(list.getChild("blocklist")?.getChildren("item")[0]?.attrs.jid, "bob@localhost");
    await bob.xmpp.send(xml("message", { to: "alice@localhost", type: "chat" }, xml("body", {}, "Still there?")));
    const bounced = await waitFor(bob.stanzas, (s) => s.is("message") && s.attrs.type === "error");
    assert.ok(bounced.getChild("error")?.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    assert.not.ok(alice.stanzas.some((s) => s.getChildText("body") === "Still there?"), "nothing crosses the block");

    await alice.xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("unblock", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: "bob@localhost" }))));
    await bob.xmpp.send(xml("message", { to: "alice@localhost", type: "chat" }, xml("body", {}, "And now?")));
    await waitFor(alice.stanzas, (s) => s.getChildText("body") === "And now?");
  } finally {
    await alice.xmpp.stop();
    await bob.xmpp.stop();
  }
}

test("@xmpp/client over TCP with STARTTLS: login, roster, messages, block and unblock", async () => {
  await withServer(["--require-encryption"], (server) => conversation(server, (s) => `xmpp://127.0.0.1:${s.port}`));
});

test("@xmpp/client over WebSocket: login, roster, messages, block and unblock", async () => {
  await withServer([], (server) => conversation(server, (s) => `ws://127.0.0.1:${s.httpPort}/xmpp-websocket`));
});

test("@xmpp/client's FAST (XEP-0484): the token of the first login logs the second in without the password", async () => {
  await withServer([], async (server) => {
    const service = `ws://127.0.0.1:${server.httpPort}/xmpp-websocket`;
    const userAgent = xml("user-agent", { id: randomUUID() });
    let saved: FastToken | undefined;
    const first = client({ service, domain: "localhost", resource: "fast", username: "alice", password: "wonderland", userAgent });
    first.on("error", () => {});
    first.fast.saveToken = async (t) => { saved = t; };
    await first.start();
    const firstJid = first.jid?.toString();
    await first.stop();
    assert.is(saved?.mechanism, "HT-SHA-256-NONE");

    const second = client({ service, domain: "localhost", resource: "fast", username: "alice", password: "not the password", userAgent });
    second.on("error", () => {});
    second.fast.fetchToken = async () => saved;
    await second.start();
    try {
      assert.is(second.jid?.toString(), firstJid, "the same user agent gets the same resource");
    } finally {
      await second.stop();
    }
  });
});

/** What @xmpp/stream-management exposes of its state (XEP-0198). */
interface SmState { enabled: boolean; id: string; outbound: number; on(event: string, f: (s: Element) => void): void }

// xmpp.js 0.14 logs in with SASL2 and Bind2 here, enabling stream management inline, and after a
// lost connection it resumes inline too (<resume/> in <authenticate/>, XEP-0388 with XEP-0198).
test("@xmpp/client's stream management: enabled with resumption, its stanzas acknowledged, and resumed after its TCP connection is killed, with what was sent meanwhile delivered", async () => {
  await withServer([], async (server) => {
    const service = `xmpp://127.0.0.1:${server.port}`;
    const alice = await online(service, "alice", "wonderland");
    const bob = await online(service, "bob", "bob the builder");
    try {
      // With Bind2 (XEP-0386) the resources are the tag "xmppjs" and a suffix: address the JIDs bound.
      const aliceJid = alice.xmpp.jid?.toString() ?? "";
      const bobJid = bob.xmpp.jid?.toString() ?? "";
      const sm = (alice.xmpp as unknown as { streamManagement: SmState }).streamManagement;
      assert.ok(sm.enabled, "stream management enabled");
      assert.ok(sm.id.length > 0, "a resumable stream id");
      const acked: string[] = [];
      sm.on("ack", (s) => { const b = s.getChildText("body"); if (b) acked.push(b); });
      await alice.xmpp.send(xml("message", { to: bobJid, type: "chat" }, xml("body", {}, "acked?")));
      await waitFor(bob.stanzas, (s) => s.getChildText("body") === "acked?");
      // xmpp.js asks for an ack 250 ms after a burst; the server's <a/> acknowledges the message.
      const deadline = Date.now() + 3000;
      while (!acked.includes("acked?") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(acked.includes("acked?"), "the server acknowledged the message");

      const resumed = new Promise<void>((resolve) => sm.on("resumed", () => resolve()));
      const id = sm.id;
      // Kill the TCP connection under the client (after STARTTLS, xmpp.js's socket wraps the TLS one).
      const socket = (alice.xmpp as unknown as { socket: { destroy?: () => void; socket?: { destroy(): void } } }).socket;
      if (socket.socket) socket.socket.destroy();
      else socket.destroy?.();
      await bob.xmpp.send(xml("message", { to: aliceJid, type: "chat" }, xml("body", {}, "while you were away")));
      await resumed;
      assert.is(sm.id, id, "the same stream");
      await waitFor(alice.stanzas, (s) => s.getChildText("body") === "while you were away", 5000);
      await alice.xmpp.send(xml("message", { to: bobJid, type: "chat" }, xml("body", {}, "back")));
      await waitFor(bob.stanzas, (s) => s.getChildText("body") === "back");
      assert.is(alice.stanzas.filter((s) => s.getChildText("body") === "while you were away").length, 1, "delivered once");
    } finally {
      await alice.xmpp.stop();
      await bob.xmpp.stop();
    }
  });
});

test.after(() => {
  delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
});

test.run();
