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
import { runSlixmppLogin } from "../helpers/slixmpp-venv.js";
import { startTestServer } from "../helpers/test-server.js";
import { saslFailureDelayMs } from "../../src/actors/session-machine.js";

// Debian's interpreter: the package installs for it, not for other pythons on PATH.
const PYTHON = "/usr/bin/python3";

/** Runs one of test/clients' slixmpp scripts against a server process over STARTTLS; every step must be printed. */
async function slixmppScript(file: string, steps: readonly string[]): Promise<void> {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: .ci/run installs python3-slixmpp`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-slixmpp-"));
  addUsers(dataDir, [{ jid: "alice@localhost", password: "wonderland" }, { jid: "bob@localhost", password: "bob the builder" }]);
  const ts = await spawnServer(dataDir, ["--require-encryption"]);
  try {
    const script = path.join(repoRoot(), "test", "clients", file);
    const child = spawn(PYTHON, [script, "127.0.0.1", String(ts.port)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.is(code, 0, out);
    for (const step of steps) assert.match(out, step, `step missing: ${step}\n${out}`);
  } finally {
    await ts.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test("slixmpp: subscriptions both ways, messages, block/unblock and the push to a second resource", () => slixmppScript("slixmpp_scenario.py",
  ["three sessions online", "subscription handshake both ways", "message alice -> bob", "pushed to the phone", "bounce with service-unavailable", "messages flow again"]));

test("slixmpp's XEP-0045 plugin: create and configure a room, join with history and subject, chat, change nickname, leave", () => slixmppScript("slixmpp_muc.py",
  ["alice created and configured the room", "bob joined with history and subject", "groupchat bob -> alice", "bob changed his nickname", "both left"]));

// slixmpp 1.8 left to choose: it binds only with tls-unique, undefined under TLS 1.3
// (RFC 9266), so both -PLUS attempts are refused (malformed-request), then it sends
// plain SCRAM with "y" for each hash, refused as a downgrade (RFC 5802 §6), and logs
// in with PLAIN. Those two refusals check no password and must not count: counted,
// they made the fourth login of the same user wait ten seconds (5 s + 5 s).
test("slixmpp 1.8's own choice: -PLUS refused, 'y' refused as a downgrade, PLAIN; repeated logins stay fast", async () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: .ci/run installs python3-slixmpp`);
  const ts = await startTestServer({
    accounts: [{ jid: "alice@localhost", password: "wonderland" }, { jid: "bob@localhost", password: "bob the builder" }],
    configure: (c) => { c.tls.requireEncryption = true; },
  });
  try {
    const run = await runSlixmppLogin(PYTHON, path.join(repoRoot(), "test", "clients", "slixmpp_login.py"), ts.port, "starttls", 5);
    assert.match(run.slixmppVersion, /^1\.8\./, "this case is Debian's slixmpp 1.8");
    assert.is(run.logins.length, 6, run.output);
    for (const login of run.logins) {
      assert.is(login.tls, "TLSv1.3", run.output);
      assert.is(login.mechanism, "PLAIN", run.output);
      assert.equal(login.failures.map(([mechanism, condition]) => `${mechanism} ${condition}`), [
        "SCRAM-SHA-256-PLUS malformed-request", "SCRAM-SHA-1-PLUS malformed-request",
        "SCRAM-SHA-256 not-authorized", "SCRAM-SHA-1 not-authorized",
      ], run.output);
      assert.match(login.failures[2]?.[2] ?? "", /downgrade refused/, "the refusal says why");
      // Counted, the refusals of the earlier logins would add saslFailureDelayMs(7) + saslFailureDelayMs(8) here.
      assert.ok(login.ms < saslFailureDelayMs(7) + saslFailureDelayMs(8) - 6000, `a login took ${login.ms} ms:\n${run.output}`);
    }
    assert.ok(run.messageExchanged, run.output);
  } finally {
    await ts.stop();
  }
});

test.run();
