// `parley backup` on a running, busy server and `parley restore` into an
// empty directory (issue 20, part 2): the restored copy passes `parley
// verify`, its users log in with the same passwords and find their rosters,
// offline messages and uploaded files.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, openSync, writeSync, closeSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { PARLEY_BIN } from "../helpers/server-process.js";
import { readManifest } from "../../src/ops/backup.js";

const ACCOUNTS = [
  { jid: "romeo@localhost", password: "wherefore art thou" },
  { jid: "juliet@localhost", password: "a rose by any name" },
];

function parley(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PARLEY_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    child.once("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

test("backup of a running server while it writes; restore into an empty directory; verify, log in, same data", async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), "parley-backup-"));
  const ts = await startTestServer({ accounts: ACCOUNTS });
  const file = path.join(work, "parley.tar");
  const restored = path.join(work, "restored");
  try {
    mkdirSync(path.join(ts.dataDir, "uploads", "abc123"), { recursive: true });
    writeFileSync(path.join(ts.dataDir, "uploads", "abc123", "balcony.jpg"), Buffer.alloc(70_000, 7));
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "wherefore art thou", "orchard");
    romeo.write("<iq type='set' id='r0'><query xmlns='jabber:iq:roster'><item jid='juliet@localhost' name='Juliet'><group>Capulets</group></item></query></iq>");
    await romeo.waitFor(/id='r0'/);
    romeo.write("<message to='juliet@localhost' type='chat' id='m1'><body>meet me at the balcony</body></message>");
    // The server keeps committing while the backup runs: roster items, one after another.
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing && n < 400) {
        n++;
        romeo.write(`<iq type='set' id='w${n}'><query xmlns='jabber:iq:roster'><item jid='friend${n}@localhost'/></query></iq>`);
        await romeo.waitFor(new RegExp(`id='w${n}'`), 5000);
      }
    })();
    const made = await parley(["backup", file, "--data", ts.dataDir]);
    writing = false;
    await writer;
    assert.is(made.status, 0, made.stderr);
    assert.match(made.stderr, /wrote .*parley\.tar: \d+ events, 2 accounts, 1 uploaded files/);
    const listed = spawnSync("tar", ["tf", file], { encoding: "utf8" });
    assert.is(listed.status, 0, `tar reads it: ${listed.stderr}`);
    assert.equal(listed.stdout.trim().split("\n").sort(),
      ["parley-backup.json", "parley.sqlite", "tls/", "tls/localhost.crt", "tls/localhost.key", "uploads/", "uploads/abc123/balcony.jpg"].sort());
    const { manifest } = readManifest(file);
    assert.is(manifest.database.accounts, 2);
    assert.ok(manifest.database.events >= 3, "the registrations and the first roster item at least");
    assert.ok(n > 0, "the server was writing during the backup");

    const again = await parley(["backup", file, "--data", ts.dataDir]);
    assert.is(again.status, 1);
    assert.match(again.stderr, /exists already: a backup never overwrites a file/);
    romeo.destroy();
  } finally {
    await ts.stop();
  }
  try {
    const r = await parley(["restore", file, "--data", restored]);
    assert.is(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /verified: every projection matches a replay of the log/);
    const verify = await parley(["verify", "--data", restored]);
    assert.is(verify.status, 0, verify.stdout);
    assert.equal(readFileSync(path.join(restored, "uploads", "abc123", "balcony.jpg")), Buffer.alloc(70_000, 7));
    const busy = await parley(["restore", file, "--data", restored]);
    assert.is(busy.status, 1);
    assert.match(busy.stderr, /is not empty .*: restore only into an empty or new data directory/);

    const back = await startTestServer({ dataDir: restored });
    try {
      const juliet = await RawClient.connect(back.port);
      await juliet.login("juliet", "a rose by any name", "balcony");
      juliet.write("<presence/>");
      await juliet.waitFor(/meet me at the balcony/);
      juliet.destroy();
      const romeo = await RawClient.connect(back.port);
      await romeo.login("romeo", "wherefore art thou");
      romeo.write("<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>");
      const roster = await romeo.waitFor(/id='g'[\s\S]*<\/iq>/);
      assert.match(roster, /jid='juliet@localhost'/);
      assert.match(roster, /<group>Capulets<\/group>/);
      romeo.destroy();
    } finally {
      await back.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("a damaged backup is refused and leaves the target empty", async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), "parley-backup-"));
  const ts = await startTestServer({ accounts: ACCOUNTS });
  const file = path.join(work, "parley.tar");
  try {
    assert.is((await parley(["backup", file, "--data", ts.dataDir])).status, 0);
  } finally {
    await ts.stop();
  }
  try {
    // A byte of the database's content changed (past the manifest's header and text).
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.from([0x42]), 0, 1, 512 * 8 + 100);
    closeSync(fd);
    const target = path.join(work, "target");
    const r = await parley(["restore", file, "--data", target]);
    assert.is(r.status, 1);
    assert.match(r.stderr, /SHA-256 .* the backup is damaged/);
    assert.equal(existsSync(target) ? readdirSync(target) : [], []);
    const missing = await parley(["restore", path.join(work, "nothing.tar"), "--data", target]);
    assert.is(missing.status, 1);
    assert.match(missing.stderr, /does not exist/);
    const noDb = await parley(["backup", path.join(work, "x.tar"), "--data", path.join(work, "empty")]);
    assert.is(noDb.status, 1);
    assert.match(noDb.stderr, /there is no database at/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
