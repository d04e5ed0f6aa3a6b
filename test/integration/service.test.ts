// Running as a service (issue 20, part 5): the systemd unit in contrib/ is
// one systemd accepts, with the settings the README promises; SIGTERM tells
// every client (`system-shutdown`, RFC 6120 §4.9.3.17) and loses nothing a
// client was told is done.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient } from "../helpers/raw-client.js";
import { spawnServer, PARLEY_BIN } from "../helpers/server-process.js";
import { addUsers } from "../helpers/process-accounts.js";
import { repoRoot } from "../helpers/paths.js";

const UNIT = path.join(repoRoot(), "contrib", "parley.service");

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1] as string, [...(out.get(m[1] as string) ?? []), m[2] as string]);
  }
  return out;
}

test("contrib/parley.service: a dedicated user, StateDirectory, hardening, Restart=on-failure, SIGHUP reload, foreground", () => {
  const unit = directives(readFileSync(UNIT, "utf8"));
  const one = (k: string) => unit.get(k)?.[0];
  assert.is(one("User"), "parley");
  assert.is(one("StateDirectory"), "parley");
  assert.is(one("Restart"), "on-failure");
  assert.is(one("Type"), "simple", "the server stays in the foreground");
  assert.is(one("ExecReload"), "/bin/kill -HUP $MAINPID");
  assert.match(one("ExecStart") ?? "", / start$/);
  for (const k of ["NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictSUIDSGID", "LockPersonality"]) assert.is(one(k), "yes", k);
  assert.is(one("ProtectSystem"), "strict");
  assert.is(one("CapabilityBoundingSet"), "");
  assert.ok(!unit.has("MemoryDenyWriteExecute"), "V8's JIT needs W+X memory");
  assert.match(one("RestrictAddressFamilies") ?? "", /AF_UNIX/, "the admin socket is a Unix socket");
  // The state directory systemd makes is where the server keeps its data.
  assert.is(one("WorkingDirectory"), "/var/lib/parley");
  assert.ok(unit.get("Environment")?.includes("PARLEY_DATA_DIR=/var/lib/parley"));
});

test("systemd-analyze verify accepts the unit, and would name a mistake", () => {
  const analyze = spawnSync("sh", ["-c", "command -v systemd-analyze"], { encoding: "utf8" }).stdout.trim();
  if (analyze === "") {
    console.log("  (systemd-analyze is not installed here: the unit's text was checked above only)");
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-unit-"));
  try {
    // Its ExecStart must name an executable here: this machine's node and this checkout.
    const text = readFileSync(UNIT, "utf8").replace("/usr/bin/node /opt/parley/bin/parley.js", `${process.execPath} ${PARLEY_BIN}`);
    const good = path.join(dir, "parley.service");
    writeFileSync(good, text);
    const ok = spawnSync(analyze, ["verify", good], { encoding: "utf8" });
    assert.is(ok.status, 0, ok.stderr);
    assert.is(ok.stderr.trim(), "", "systemd says nothing of the unit");
    // verify exits 0 on an unknown key: the check above is on what it prints.
    const bad = path.join(dir, "bad.service");
    writeFileSync(bad, text.replace("Restart=on-failure", "Restrat=on-failure"));
    assert.match(spawnSync(analyze, ["verify", bad], { encoding: "utf8" }).stderr, /Unknown key 'Restrat'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIGTERM while a client writes: system-shutdown, exit 0, and every change it was answered for is there after a restart", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-service-"));
  try {
    addUsers(dataDir, [{ jid: "romeo@localhost", password: "wherefore art thou" }]);
    const server = await spawnServer(dataDir);
    const c = await RawClient.connect(server.port);
    await c.login("romeo", "wherefore art thou", "orchard");
    let sent = "";
    for (let i = 0; i < 300; i++) sent += `<iq type='set' id='w${i}'><query xmlns='jabber:iq:roster'><item jid='friend${i}@localhost'/></query></iq>`;
    c.write(sent);
    await c.waitFor(/id='w0'/);
    const exited = server.stop();
    await c.waitFor(/<system-shutdown/, 10_000);
    assert.is(await exited, 0, server.log());
    assert.match(server.log(), /Parley stopped/);
    const answered = [...c.text.matchAll(/<iq[^>]*id='w(\d+)'[^>]*type='result'|<iq[^>]*type='result'[^>]*id='w(\d+)'/g)].map((m) => Number(m[1] ?? m[2]));
    assert.ok(answered.length > 0);
    c.destroy();
    const replay = spawnSync(process.execPath, [PARLEY_BIN, "replay", "--account", "romeo@localhost", "--data", dataDir], { encoding: "utf8" });
    assert.is(replay.status, 0, replay.stderr);
    for (const i of answered) assert.match(replay.stdout, new RegExp(`friend${i}@localhost `), `friend${i} was answered, so it must be stored`);
    const verify = spawnSync(process.execPath, [PARLEY_BIN, "verify", "--data", dataDir], { encoding: "utf8" });
    assert.is(verify.status, 0, verify.stdout);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
