// Bounded work, memory and storage per peer (issue 13), over real sockets:
// the worst stanzas one client can send do not stall another; roster items,
// directed presence, stored subscription requests, subscription churn and
// offline storage are capped; client-written delays from this server are
// removed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { accountStreamId } from "../../src/events/types.js";

test("while one client sends the worst IQs it can, another's pings are answered within 500 ms", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "tybalt@localhost", password: "t" }, { jid: "benvolio@localhost", password: "b" }] });
  try {
    const attacker = await RawClient.connect(ts.port);
    await attacker.login("tybalt", "t");
    const victim = await RawClient.connect(ts.port);
    await victim.login("benvolio", "b");
    // 8,000 distinct items in one <unblock/> (about 256 KB), 10,000 groups on one roster item, password changes.
    const unblock = `<iq type='set' id='u'><unblock xmlns='urn:xmpp:blocking'>${Array.from({ length: 8000 }, (_, i) => `<item jid='u${i}@e.example'/>`).join("")}</unblock></iq>`;
    const groups = `<iq type='set' id='g'><query xmlns='jabber:iq:roster'><item jid='x@e.example'>${Array.from({ length: 10000 }, (_, i) => `<group>${i}</group>`).join("")}</item></query></iq>`;
    const password = (i: number) => `<iq type='set' id='p${i}'><query xmlns='jabber:iq:register'><username>tybalt</username><password>pw${i}</password></query></iq>`;
    let sending = true;
    const attack = (async () => {
      for (let round = 0; round < 3 && sending; round++) {
        attacker.write(unblock + unblock + groups + Array.from({ length: 20 }, (_, i) => password(round * 20 + i)).join(""));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const latencies: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await victim.sync(`v${i}`, 10_000);
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
    sending = false;
    await attack;
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1] as number;
    assert.ok(p99 < 500, `ping p99 ${p99.toFixed(0)} ms while under attack (all: ${latencies.map((l) => l.toFixed(0)).join(", ")})`);
    // The oversized requests were refused, not half-done.
    const answers = await attacker.waitFor(/id=['"]g['"][\s\S]*?<\/iq>/, 10_000);
    assert.match(answers, /id=['"]u['"][^>]*>[\s\S]*?<policy-violation/);
    assert.match(answers, /id=['"]g['"][^>]*>[\s\S]*?<not-acceptable/);
    attacker.destroy();
    victim.destroy();
  } finally {
    await ts.stop();
  }
});

test("a roster item's name and groups are bounded (RFC 6121 §2.3.3: not-acceptable), so a roster result is too", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }] });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write(`<iq type='set' id='n'><query xmlns='jabber:iq:roster'><item jid='a@e.example' name='${"x".repeat(257)}'/></query></iq>`);
    assert.match(await romeo.waitFor(/id=['"]n['"][\s\S]*?<\/iq>/), /<not-acceptable/);
    romeo.write(`<iq type='set' id='gl'><query xmlns='jabber:iq:roster'><item jid='a@e.example'><group>${"g".repeat(257)}</group></item></query></iq>`);
    assert.match(await romeo.waitFor(/id=['"]gl['"][\s\S]*?<\/iq>/), /<not-acceptable/);
    romeo.write(`<iq type='set' id='ok'><query xmlns='jabber:iq:roster'><item jid='a@e.example' name='${"x".repeat(256)}'>${Array.from({ length: 16 }, (_, i) => `<group>g${i}</group>`).join("")}</item></query></iq>`);
    assert.match(await romeo.waitFor(/id=['"]ok['"][^>]*>|id=['"]ok['"][^>]*\/>/), /type=['"]result['"]/);
    romeo.destroy();
  } finally {
    await ts.stop();
  }
});

test("directed presence to more addresses than a session may track is refused with resource-constraint", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }], configure: (c) => { c.limits.directedPresencePerSession = 5; } });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write("<presence/>");
    for (let i = 0; i < 6; i++) romeo.write(`<presence to='p${i}@elsewhere.example' id='d${i}'/>`);
    const text = await romeo.waitFor(/id=['"]d5['"][\s\S]*?<\/presence>/);
    assert.match(text, /<resource-constraint/);
    assert.not.match(text.replace(/<presence[^>]*id=['"]d5['"][\s\S]*?<\/presence>/, ""), /<resource-constraint/);
    romeo.destroy();
  } finally {
    await ts.stop();
  }
});

test("a stranger's subscription churn and huge requests cannot grow a user's stored history", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "tybalt@localhost", password: "t" }, { jid: "juliet@localhost", password: "j" }] });
  try {
    const stream = accountStreamId("juliet@localhost");
    const before = ts.server.store.streamVersion(stream);
    const tybalt = await RawClient.connect(ts.port);
    await tybalt.login("tybalt", "t");
    const bulk = `<x xmlns='urn:example:bulk'>${"z".repeat(100_000)}</x>`;
    for (let i = 0; i < 100; i++) {
      tybalt.write(`<presence type='subscribe' to='juliet@localhost'><status>hello</status>${bulk}</presence><presence type='unsubscribe' to='juliet@localhost'/>`);
    }
    await tybalt.sync("t1", 10_000);
    const appended = ts.server.store.readStream(stream, before);
    assert.ok(appended.length <= 20, `${appended.length} events appended to juliet's stream by one stranger's churn`);
    const largest = Math.max(...appended.map((e) => JSON.stringify(e.payload).length));
    assert.ok(largest < 4600, `a stored request of ${largest} bytes`);
    const request = appended.find((e) => e.type === "SubscriptionRequestReceived");
    assert.ok(request && JSON.stringify(request.payload).includes("hello"), "the request's status is kept for redelivery");
    tybalt.destroy();
  } finally {
    await ts.stop();
  }
});

test("offline storage: one sender cannot fill a recipient's storage, and a since-blocked sender's messages are not delivered", async () => {
  const ts = await startTestServer({
    accounts: [{ jid: "tybalt@localhost", password: "t" }, { jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }],
    configure: (c) => { c.limits.offlineMessagesPerSender = 3; },
  });
  try {
    const tybalt = await RawClient.connect(ts.port);
    await tybalt.login("tybalt", "t");
    for (let i = 1; i <= 4; i++) tybalt.write(`<message type='chat' to='juliet@localhost' id='t${i}'><body>tybalt ${i}</body></message>`);
    const bounced = await tybalt.waitFor(/id=['"]t4['"][\s\S]*?<\/message>/);
    assert.match(bounced, /<service-unavailable/);
    assert.not.match(bounced, /id=['"]t[123]['"]/);
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write("<message type='chat' to='juliet@localhost' id='r1'><body>romeo 1</body></message>");
    await romeo.sync("r-sync", 10_000);
    assert.not.match(romeo.text, /type=['"]error['"]/);
    // Juliet blocks tybalt before coming online: his stored messages stay undelivered.
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j");
    juliet.write("<iq type='set' id='b'><block xmlns='urn:xmpp:blocking'><item jid='tybalt@localhost'/></block></iq>");
    await juliet.waitFor(/id=['"]b['"]/);
    juliet.write("<presence/>");
    await juliet.waitFor(/romeo 1/);
    await juliet.sync("j-sync", 10_000);
    assert.not.match(juliet.text, /tybalt \d/);
    tybalt.destroy();
    romeo.destroy();
    juliet.destroy();
  } finally {
    await ts.stop();
  }
});

test("a client's <delay/> claiming to be from this server is removed (XEP-0203 §3); others are kept", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }] });
  try {
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j");
    juliet.write("<presence/>");
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write("<message type='chat' to='juliet@localhost'><body>forged</body><delay xmlns='urn:xmpp:delay' from='LOCALHOST' stamp='2001-01-01T00:00:00Z'/><delay xmlns='urn:xmpp:delay' from='relay.example' stamp='2002-02-02T00:00:00Z'/></message>");
    const got = await juliet.waitFor(/forged[\s\S]*?<\/message>/);
    assert.not.match(got, /2001-01-01/);
    assert.match(got, /2002-02-02/);
    romeo.destroy();
    juliet.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
