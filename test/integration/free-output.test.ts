// Output that depends on nothing waiting to be durable leaves at once
// (src/events/commit-gate.ts, "free output"): while one user's roster change
// waits for its fdatasync, a chat message between two other users is
// delivered without waiting for it; a message from the user whose change is
// pending, a message that is archived (XEP-0313), and anything behind held
// output on the recipient's own stream still wait. Over real sockets, with the
// server's fdatasync made slow.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import WebSocket from "ws";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { DEFAULT_MODULES } from "../../src/config.js";

const SLOW_MS = 600;
const ACCOUNTS = ["alice", "bob", "carol"].map((u) => ({ jid: `${u}@localhost`, password: `${u}-pw` }));

// The commit gate takes fs.fdatasync when it is made: every fdatasync of this
// process's servers answers SLOW_MS late while `slow` is set.
const realFdatasync = fs.fdatasync;
let slow = false;
(fs as { fdatasync: unknown }).fdatasync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) =>
  realFdatasync(fd, (err) => (slow ? setTimeout(() => done(err), SLOW_MS) : done(err)));
test.after(() => { (fs as { fdatasync: unknown }).fdatasync = realFdatasync; });

async function online(ts: TestServer): Promise<Record<string, RawClient>> {
  const out: Record<string, RawClient> = {};
  for (const { jid, password } of ACCOUNTS) {
    const user = jid.split("@")[0] as string;
    const c = await RawClient.connect(ts.port);
    await c.login(user, password, "phone");
    c.write("<presence/>");
    await c.sync(`ready-${user}`);
    c.clear();
    out[user] = c;
  }
  return out;
}

const blockIq = (id: string, who: string) => `<iq type='set' id='${id}'><block xmlns='urn:xmpp:blocking'><item jid='${who}@elsewhere.example'/></block></iq>`;
const chat = (to: string, body: string) => `<message to='${to}@localhost/phone' type='chat' id='${body}'><body>${body}</body></message>`;

/** Milliseconds from now until `pattern` shows up on `c`. */
async function after(c: RawClient, pattern: RegExp, since: number): Promise<number> {
  await c.waitFor(pattern, 5000);
  return performance.now() - since;
}

test("a message between users nobody is changing does not wait for another user's fdatasync; the changing user's own message does", async () => {
  const ts = await startTestServer({
    accounts: ACCOUNTS,
    // Without the archive: a routed message then writes nothing.
    configure: (c) => { c.modulesEnabled = DEFAULT_MODULES.filter((m) => m !== "mam"); },
  });
  const { alice, bob, carol } = await online(ts) as Record<"alice" | "bob" | "carol", RawClient>;
  try {
    slow = true;
    const t0 = performance.now();
    carol.write(blockIq("carol-block", "spammer") + chat("alice", "from-carol"));
    // Once carol's block waits for its fdatasync: alice's message is free by what it touches, not because nothing is pending.
    await new Promise((r) => setTimeout(r, 100));
    const tAlice = performance.now();
    alice.write(chat("bob", "from-alice"));
    const [alicesMessage, carolsResult, carolsMessage] = await Promise.all([
      after(bob, /<body>from-alice<\/body>/, tAlice),
      after(carol, /id='carol-block'/, t0),
      after(alice, /<body>from-carol<\/body>/, t0),
    ]);
    assert.ok(carolsResult >= SLOW_MS * 0.9, `carol's block result came after ${carolsResult.toFixed(0)} ms, before its fdatasync`);
    assert.ok(alicesMessage < SLOW_MS / 2, `alice's message took ${alicesMessage.toFixed(0)} ms: it waited for carol's fdatasync`);
    assert.ok(carolsMessage >= SLOW_MS * 0.9, `carol's message came after ${carolsMessage.toFixed(0)} ms: ahead of her block, which may yet be lost`);

    // Bob's own stream keeps its order: his block result is held, so alice's next message waits behind it.
    bob.clear();
    const t1 = performance.now();
    bob.write(blockIq("bob-block", "troll"));
    await new Promise((r) => setTimeout(r, 50));
    alice.write(chat("bob", "second-from-alice"));
    const second = await after(bob, /<body>second-from-alice<\/body>/, t1);
    assert.ok(second >= SLOW_MS * 0.9, `alice's second message overtook bob's held block result (${second.toFixed(0)} ms)`);
    assert.ok(bob.text.indexOf("id='bob-block'") < bob.text.indexOf("second-from-alice"), "bob's stream: the block result first, then the message");
  } finally {
    slow = false;
    for (const c of [alice, bob, carol]) c.destroy();
    await ts.stop();
  }
});

test("an archived message (XEP-0313) is delivered only once its archive row is durable; a roster read by someone else does not wait for it", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  const { alice, bob, carol } = await online(ts) as Record<"alice" | "bob" | "carol", RawClient>;
  try {
    slow = true;
    const t0 = performance.now();
    alice.write(chat("bob", "archived"));
    // Once the archive rows' fdatasync is under way: they are alice's and bob's (joinTurn(owner)),
    // and carol's roster is not about them.
    await new Promise((r) => setTimeout(r, 100));
    const t1 = performance.now();
    carol.write("<iq type='get' id='carol-roster'><query xmlns='jabber:iq:roster'/></iq>");
    const [took, roster] = await Promise.all([after(bob, /<body>archived<\/body>/, t0), after(carol, /id='carol-roster'/, t1)]);
    assert.ok(took >= SLOW_MS * 0.9, `the archived message arrived after ${took.toFixed(0)} ms, before its archive row was durable`);
    assert.ok(roster < SLOW_MS / 2, `carol's roster took ${roster.toFixed(0)} ms: it waited for the archive's fdatasync`);
  } finally {
    slow = false;
    for (const c of [alice, bob, carol]) c.destroy();
    await ts.stop();
  }
});

/** Bob over WebSocket (RFC 7395): logged in and bound as bob@localhost/web; `arrived` has every frame with its time. */
async function bobOverWebSocket(ts: TestServer): Promise<{ ws: WebSocket; arrived: { at: number; text: string }[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`, "xmpp");
  const arrived: { at: number; text: string }[] = [];
  ws.on("message", (d) => arrived.push({ at: performance.now(), text: String(d) }));
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  const until = async (pattern: RegExp) => {
    for (let i = 0; i < 100 && !arrived.some((m) => pattern.test(m.text)); i++) await new Promise((r) => setTimeout(r, 20));
    if (!arrived.some((m) => pattern.test(m.text))) throw new Error(`bob over WebSocket: nothing matched ${pattern}`);
  };
  const open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";
  ws.send(open);
  await until(/<stream:features/);
  ws.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0bob\0bob-pw").toString("base64")}</auth>`);
  await until(/<success/);
  arrived.length = 0;
  ws.send(open);
  await until(/<stream:features/);
  ws.send("<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>");
  await until(/id='bind'/);
  ws.send("<iq xmlns='jabber:client' type='get' id='ready'><ping xmlns='urn:xmpp:ping'/></iq>");
  await until(/id='ready'/);
  arrived.length = 0;
  return { ws, arrived };
}

test("over WebSocket too: a message between users nobody is changing does not wait for another user's fdatasync", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.modulesEnabled = DEFAULT_MODULES.filter((m) => m !== "mam"); } });
  const { alice, carol } = await online(ts) as Record<"alice" | "carol", RawClient>;
  const bob = await bobOverWebSocket(ts);
  try {
    slow = true;
    const t0 = performance.now();
    carol.write(blockIq("carol-block", "spammer"));
    await new Promise((r) => setTimeout(r, 100));
    const tAlice = performance.now();
    alice.write("<message to='bob@localhost/web' type='chat'><body>to-the-browser</body></message>");
    const carolsResult = await after(carol, /id='carol-block'/, t0);
    const message = bob.arrived.find((m) => m.text.includes("to-the-browser"));
    assert.ok(message, "the message reached bob's WebSocket");
    assert.ok(message.at - tAlice < SLOW_MS / 2, `it took ${(message.at - tAlice).toFixed(0)} ms: it waited for carol's fdatasync`);
    assert.ok(carolsResult >= SLOW_MS * 0.9, `carol's result came after ${carolsResult.toFixed(0)} ms, before its fdatasync`);
  } finally {
    slow = false;
    bob.ws.close();
    for (const c of [alice, carol]) c.destroy();
    await ts.stop();
  }
});

test.run();
