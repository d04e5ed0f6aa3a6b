// slixmpp (Debian's python3-slixmpp, installed by .ci/run) against a real
// server process (`parley start --require-encryption`): test/clients/slixmpp_scenario.py drives it; each step it passes is
// printed, and any failure fails this test with the script's output.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { spawnServer } from "../helpers/server-process.js";
import { addUsers } from "../helpers/process-accounts.js";
import { repoRoot } from "../helpers/paths.js";

// Debian's interpreter: the package installs for it, not for other pythons on PATH.
const PYTHON = "/usr/bin/python3";

test("slixmpp: subscriptions both ways, messages, block/unblock and the push to a second resource", async () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: .ci/run installs python3-slixmpp`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-slixmpp-"));
  addUsers(dataDir, [{ jid: "alice@localhost", password: "wonderland" }, { jid: "bob@localhost", password: "builder" }]);
  const ts = await spawnServer(dataDir, ["--require-encryption"]);
  try {
    const script = path.join(repoRoot(), "test", "clients", "slixmpp_scenario.py");
    const child = spawn(PYTHON, [script, "127.0.0.1", String(ts.port)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.is(code, 0, out);
    for (const step of ["three sessions online", "subscription handshake both ways", "message alice -> bob", "pushed to the phone", "bounce with service-unavailable", "messages flow again"]) {
      assert.match(out, step, `step missing: ${step}\n${out}`);
    }
  } finally {
    await ts.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
