// The `parley` command as an operator uses it: account commands against the
// data directory of a running server, which sees the changes at once.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnServer, PARLEY_BIN } from "../helpers/server-process.js";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

const BIN = PARLEY_BIN;

function parley(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { input, encoding: "utf8", timeout: 30_000 });
}

test("adduser on a running server's data directory: the account can log in at once", async () => {
  const ts = await startTestServer();
  try {
    const add = parley(["adduser", "mercutio@localhost", "--data", ts.dataDir], "queen mab\n");
    assert.is(add.status, 0, add.stderr);
    assert.match(add.stderr, /added mercutio@localhost/);
    const c = await RawClient.connect(ts.port);
    const jid = await c.login("mercutio", "queen mab");
    assert.match(jid, /^mercutio@localhost\//);
    c.destroy();
  } finally {
    await ts.stop();
  }
});

test("adduser --batch adds every line in one go, with the iterations asked for, and names a bad line", async () => {
  const ts = await startTestServer();
  try {
    const lines = Array.from({ length: 50 }, (_, i) => `user${i}@localhost secret ${i}`).join("\n");
    const add = parley(["adduser", "--batch", "--iterations", "5000", "--data", ts.dataDir], `${lines}\n`);
    assert.is(add.status, 0, add.stderr);
    assert.match(add.stderr, /added 50 accounts/);
    const c = await RawClient.connect(ts.port);
    assert.match(await c.login("user49", "secret 49"), /^user49@localhost\//);
    c.destroy();
    const events = parley(["events", "--account", "user7@localhost", "--json", "--data", ts.dataDir]);
    assert.match(events.stdout, /"iterations":5000/);
    // A bad line refuses the whole batch: nothing half-added.
    const bad = parley(["adduser", "--batch", "--data", ts.dataDir], "late@localhost late password\nnot-a-line\n");
    assert.is(bad.status, 2);
    assert.match(bad.stderr, /line 2: expected 'jid password'/);
    const c2 = await RawClient.connect(ts.port);
    let error = "";
    try { await c2.login("late", "late password"); } catch (err) { error = (err as Error).message; }
    assert.match(c2.text + error, /not-authorized/);
    c2.destroy();
    const weak = parley(["adduser", "--batch", "--iterations", "100", "--data", ts.dataDir], "");
    assert.is(weak.status, 2);
    assert.match(weak.stderr, /--iterations must be a whole number of at least 4096, not '100'/);
  } finally {
    await ts.stop();
  }
});

test("passwd changes the password; the old one stops working", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "tybalt@localhost", password: "old" }] });
  try {
    const change = parley(["passwd", "tybalt@localhost", "--data", ts.dataDir], "new password\n");
    assert.is(change.status, 0, change.stderr);
    const ok = await RawClient.connect(ts.port);
    await ok.login("tybalt", "new password");
    ok.destroy();
    const bad = await RawClient.connect(ts.port);
    let refused = false;
    try {
      await bad.login("tybalt", "old");
    } catch {
      refused = true;
    }
    assert.ok(refused, "the old password must no longer log in");
    bad.destroy();
  } finally {
    await ts.stop();
  }
});

test("deluser disconnects the account's sessions and makes it unknown", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "paris@localhost", password: "p" }, { jid: "romeo@localhost", password: "r" }] });
  try {
    const paris = await RawClient.connect(ts.port);
    await paris.login("paris", "p");
    const del = parley(["deluser", "paris@localhost", "--data", ts.dataDir]);
    assert.is(del.status, 0, del.stderr);
    await paris.waitFor(/<stream:error>/, 5000);
    await paris.waitClosed();
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write("<message type='chat' to='paris@localhost' id='x'><body>hello?</body></message>");
    await romeo.waitFor(/<service-unavailable/);
    romeo.destroy();
  } finally {
    await ts.stop();
  }
});

test("bad input names the problem: invalid JID, existing account, missing account, empty password", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "nurse@localhost", password: "n" }] });
  try {
    const invalid = parley(["adduser", "not a jid@localhost", "--data", ts.dataDir], "long enough\n");
    assert.is(invalid.status, 2);
    assert.match(invalid.stderr, /not a valid JID/);
    const exists = parley(["adduser", "nurse@localhost", "--data", ts.dataDir], "long enough\n");
    assert.is(exists.status, 1);
    assert.match(exists.stderr, /nurse@localhost/);
    assert.match(exists.stderr, /exist/);
    const missing = parley(["deluser", "ghost@localhost", "--data", ts.dataDir]);
    assert.is(missing.status, 1);
    assert.match(missing.stderr, /ghost@localhost/);
    const empty = parley(["adduser", "friar@localhost", "--data", ts.dataDir], "\n");
    assert.is(empty.status, 1);
    assert.match(empty.stderr, /empty/);
    const unknown = parley(["frobnicate"]);
    assert.is(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  } finally {
    await ts.stop();
  }
});

test("start runs in the foreground and exits 0 on SIGTERM after closing streams", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-cli-"));
  try {
    const server = await spawnServer(dataDir);
    const add = parley(["adduser", "balthasar@localhost", "--data", dataDir], "balthasar\n");
    assert.is(add.status, 0, add.stderr);
    const c = await RawClient.connect(server.port);
    await c.login("balthasar", "balthasar");
    const exited = server.stop();
    await c.waitFor(/<system-shutdown/);
    assert.is(await exited, 0);
    c.destroy();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
