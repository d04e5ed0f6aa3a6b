// Slow and silent clients: a connection that does not authenticate in time
// is closed; a bound stream silent for longer than idle-seconds is closed
// with connection-timeout; a client sending a byte at a time delays nobody.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

const ACCOUNTS = [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }];

test("a connection that has not authenticated within the timeout is closed", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.unauthenticatedTimeoutSeconds = 1; } });
  try {
    const c = await RawClient.connect(ts.port);
    c.write(HEADER());
    await c.waitFor(/<\/stream:features>/);
    await c.waitFor(/<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/, 3000);
    await c.waitClosed();
    // A connection that never even sends a header is closed too.
    const silent = await RawClient.connect(ts.port);
    await silent.waitClosed(3000);
  } finally {
    await ts.stop();
  }
});

test("a bound stream silent for longer than idle-seconds gets connection-timeout; keepalives keep it open", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.idleSeconds = 1; } });
  try {
    const quiet = await RawClient.connect(ts.port);
    await quiet.login("romeo", "r");
    const alive = await RawClient.connect(ts.port);
    await alive.login("juliet", "j");
    const keepalive = setInterval(() => alive.write(" "), 300);
    await quiet.waitFor(/<connection-timeout/, 3000);
    await quiet.waitClosed();
    clearInterval(keepalive);
    assert.not.ok(alive.isClosed, "whitespace keepalives count as activity (RFC 6120 §4.6.1)");
    alive.destroy();
  } finally {
    await ts.stop();
  }
});

test("a client dribbling one byte at a time does not delay another client", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const slow = await RawClient.connect(ts.port);
    const header = HEADER();
    let i = 0;
    const dribble = setInterval(() => { if (i < header.length) slow.write(header[i++] as string); }, 20);
    const fast = await RawClient.connect(ts.port);
    const started = Date.now();
    await fast.login("juliet", "j");
    fast.write("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
    await fast.waitFor(/id='p'/);
    clearInterval(dribble);
    assert.ok(slow.text === "" && Date.now() - started < 2500, `the fast client finished while the slow one was still sending its header; it waited ${Date.now() - started} ms`);
    slow.destroy();
    fast.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
