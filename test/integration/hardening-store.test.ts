// Hardening of what is stored (issue 13 items 7, 8, 9): the data directory
// is the server's alone; a failure inside an account's actor answers the
// sender and leaves the account usable; a database that cannot be used stops
// the start with a message naming it; unknown accounts look like real ones
// in SCRAM, across restarts too.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { dataDirModeProblems } from "../../src/util/file-modes.js";

const mode = (file: string) => statSync(file).mode & 0o777;

test("the data directory is made 0700 and the database 0600; wider modes found at start are narrowed", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-modes-"));
  try {
    chmodSync(dataDir, 0o755);
    writeFileSync(path.join(dataDir, "notes.txt"), "left here by an operator", { mode: 0o644 });
    assert.ok(dataDirModeProblems(dataDir).length >= 2, "parley check's test sees the wide modes");
    const ts = await startTestServer({ dataDir });
    try {
      assert.is(mode(dataDir), 0o700);
      assert.is(mode(path.join(dataDir, "parley.sqlite")), 0o600);
      assert.is(mode(path.join(dataDir, "parley.sqlite-wal")), 0o600);
      assert.is(mode(path.join(dataDir, "notes.txt")), 0o600);
      assert.equal(dataDirModeProblems(dataDir), []);
    } finally {
      await ts.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a database that is not one stops the start with a message naming the file and the cause", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-corrupt-"));
  try {
    writeFileSync(path.join(dataDir, "parley.sqlite"), "this is not an SQLite database, just text that is long enough ".repeat(100));
    try {
      const ts = await startTestServer({ dataDir });
      await ts.stop();
      assert.unreachable("the server started on a corrupt database");
    } catch (err) {
      const message = (err as Error).message;
      assert.match(message, /parley\.sqlite/);
      assert.match(message, /not a database/);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a write that fails inside an account's actor answers internal-server-error, and the account goes on", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }] });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    ts.server.store.db.pragma("query_only = ON"); // as a full disk would refuse the write
    // Juliet is offline: storing the message fails inside her account's actor.
    romeo.write("<message type='chat' to='juliet@localhost' id='m1'><body>one</body></message>");
    const bounce = await romeo.waitFor(/id=['"]m1['"][\s\S]*?<\/message>/);
    assert.match(bounce, /type=['"]error['"]/);
    assert.match(bounce, /<internal-server-error/);
    ts.server.store.db.pragma("query_only = OFF");
    romeo.write("<message type='chat' to='juliet@localhost' id='m2'><body>two</body></message>");
    romeo.write("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
    await romeo.waitFor(/id=['"]p['"]/);
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j");
    juliet.write("<presence/>");
    assert.match(await juliet.waitFor(/<body>two<\/body>/), /two/);
    romeo.destroy();
    juliet.destroy();
  } finally {
    await ts.stop();
  }
});

async function serverFirst(port: number, user: string): Promise<Map<string, string>> {
  const c = await RawClient.connect(port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.clear();
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${Buffer.from(`n,,n=${user},r=abcdefghijklmnop`).toString("base64")}</auth>`);
  const text = await c.waitFor(/<challenge[^>]*>([^<]+)<\/challenge>/);
  c.destroy();
  const first = Buffer.from((/<challenge[^>]*>([^<]+)<\/challenge>/.exec(text) as RegExpExecArray)[1] as string, "base64").toString();
  return new Map(first.split(",").map((kv) => [kv[0] as string, kv.slice(2)]));
}

test("SCRAM tells an unknown account from a real one neither by iteration count nor by a salt that changes at restart", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-fake-"));
  try {
    const configure = (c: { scramIterations: number }) => { c.scramIterations = 5000; };
    const first = await startTestServer({ dataDir, accounts: [{ jid: "romeo@localhost", password: "r" }], configure });
    const real = await serverFirst(first.port, "romeo");
    const ghost = await serverFirst(first.port, "ghost");
    await first.stop();
    assert.is(real.get("i"), "5000");
    assert.is(ghost.get("i"), "5000");
    const second = await startTestServer({ dataDir, configure });
    const again = await serverFirst(second.port, "Ghost");
    await second.stop();
    assert.is(again.get("s"), ghost.get("s"), "an unknown account's salt is the same after a restart, and for a case variant");
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("after too many failed logins an account is locked for a while: even the right password is refused, with a clear error", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "carol@localhost", password: "right" }], configure: (c) => { c.limits.accountLockoutFailures = 3; } });
  try {
    const attempt = async (user: string, password: string): Promise<string> => {
      const c = await RawClient.connect(ts.port);
      c.write(HEADER());
      await c.waitFor(/<\/stream:features>/);
      c.clear();
      c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString("base64")}</auth>`);
      const outcome = await c.waitFor(/<success|<failure[\s\S]*<\/failure>/, 8000);
      c.destroy();
      return outcome;
    };
    // Three wrong guesses, one spelled in fullwidth letters: all count for carol.
    for (const user of ["carol", "Carol", "\uFF43arol"]) assert.match(await attempt(user, "wrong"), /<not-authorized/);
    const locked = await attempt("carol", "right");
    assert.match(locked, /<temporary-auth-failure/);
    assert.match(locked, /Too many failed logins for this account; try again in \d+ minute/);
  } finally {
    await ts.stop();
  }
});

test.run();
