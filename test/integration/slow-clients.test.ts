// Slow and silent clients: a connection that does not authenticate in time
// is closed; a bound stream silent for longer than idle-seconds is closed
// with connection-timeout; a client sending a byte at a time delays nobody;
// a client that stops reading is closed once its unread output passes the cap.
import { test } from "uvu";
import * as assert from "uvu/assert";
import tls from "node:tls";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";

const ACCOUNTS = [
  { jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }, { jid: "benvolio@localhost", password: "b" },
];

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

const UNSENT_CAP = 1024 * 1024;

/** Logs in on `c` (its stream not yet open) and returns the stream id, which names the session in the registry. */
async function loginWithId(c: RawClient, user: string, password: string, resource: string): Promise<string> {
  c.write(HEADER());
  const features = await c.waitFor(/<\/stream:features>/);
  const id = (/ id='([^']+)'/.exec(features) as RegExpExecArray)[1] as string;
  await c.login(user, password, resource, { streamOpen: true });
  return id;
}

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * juliet stops reading (her socket paused) while romeo sends her and benvolio,
 * who reads, 16 MB each: juliet's session is closed once her unread output
 * passes the cap; benvolio gets everything; romeo is served throughout.
 */
async function notReadingScenario(ts: TestServer, connectJuliet: () => Promise<RawClient>): Promise<void> {
  const juliet = await connectJuliet();
  const julietSession = await loginWithId(juliet, "juliet", "j", "paused");
  const benvolio = await RawClient.connect(ts.port);
  await benvolio.login("benvolio", "b", "reads");
  const romeo = await RawClient.connect(ts.port);
  await romeo.login("romeo", "r");
  juliet.rawSocket.pause();
  let benvolioBytes = 0;
  benvolio.rawSocket.on("data", (d: string) => { benvolioBytes += d.length; });
  const body = "x".repeat(32 * 1024);
  const count = 500;
  for (let i = 0; i < count; i++) {
    romeo.write(`<message to='juliet@localhost/paused' type='chat' id='j${i}'><body>${body}</body></message>` +
      `<message to='benvolio@localhost/reads' type='chat' id='b${i}'><body>${body}</body></message>`);
    // Now and then a ping: romeo is answered while the flood goes on.
    if (i % 100 === 99) {
      romeo.write(`<iq type='get' id='ping${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await romeo.waitFor(new RegExp(`id='ping${i}'`), 10000);
    }
  }
  await until("juliet's session is closed", 20000, () => ts.server.sessionState(julietSession) === undefined);
  await benvolio.waitFor(new RegExp(`id='b${count - 1}'`), 20000);
  assert.ok(benvolioBytes > count * body.length, `benvolio, reading, got all ${count} messages`);
  assert.not.ok(benvolio.isClosed, "a client that reads is not closed");
  romeo.write("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  await romeo.waitFor(/id='after'/, 5000);
  // juliet, reading again, finds her stream closed: whatever the kernel held, then the end.
  juliet.rawSocket.resume();
  await juliet.waitClosed(10000);
  assert.ok(juliet.text.length < count * body.length / 2, `juliet got ${juliet.text.length} characters, far from all she was sent`);
  for (const c of [juliet, benvolio, romeo]) c.destroy();
}

test("a TCP client that stops reading is closed once its unread output passes max_unsent_output_bytes; others go on", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.maxUnsentOutputBytes = UNSENT_CAP; } });
  try {
    await notReadingScenario(ts, () => RawClient.connect(ts.port));
  } finally {
    await ts.stop();
  }
});

test("a Direct TLS client that stops reading is closed the same way", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.maxUnsentOutputBytes = UNSENT_CAP; } });
  try {
    await notReadingScenario(ts, () => new Promise<RawClient>((resolve, reject) => {
      const s = tls.connect({ port: ts.server.directTlsPort, host: "127.0.0.1", rejectUnauthorized: false }, () => resolve(RawClient.wrap(s)));
      s.once("error", reject);
    }));
  } finally {
    await ts.stop();
  }
});

test.run();
