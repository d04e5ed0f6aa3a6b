// A current slixmpp from PyPI (a venv under the cache directory, made on first
// use and by .ci/run; test/helpers/slixmpp-venv.ts) against a server that
// requires TLS: its own choice of SASL mechanism, over Direct TLS (XEP-0368)
// and STARTTLS, both TLS 1.3, then a message each way.
//
// Channel binding: slixmpp binds with tls-exporter under TLS 1.3 when Python's
// ssl module offers it (ssl.CHANNEL_BINDING_TYPES); CPython offers only
// tls-unique, which RFC 9266 leaves undefined under TLS 1.3. slixmpp then sends
// SCRAM with "n" — allowed, since we advertise tls-server-end-point (XEP-0440 §4).
// This test expects SCRAM-SHA-256-PLUS with tls-exporter the day the interpreter
// has it, and plain SCRAM-SHA-256 with "n" until then.
import { test } from "uvu";
import * as assert from "uvu/assert";
import path from "node:path";
import { startTestServer } from "../helpers/test-server.js";
import { repoRoot } from "../helpers/paths.js";
import { pypiSlixmppPython, runSlixmppLogin, type SlixmppRun } from "../helpers/slixmpp-venv.js";

const ACCOUNTS = [{ jid: "alice@localhost", password: "wonderland" }, { jid: "bob@localhost", password: "bob the builder" }];
const SCRIPT = path.join(repoRoot(), "test", "clients", "slixmpp_login.py");

function checkScramLogins(run: SlixmppRun, transport: string): void {
  assert.is(run.logins.length, 2, run.output);
  const canBind = run.pythonChannelBindings.includes("tls-exporter");
  for (const login of run.logins) {
    assert.is(login.tls, "TLSv1.3", `${transport}: ${run.output}`);
    assert.equal(login.failures, [], `${transport}: no refused attempt before the login\n${run.output}`);
    if (canBind) {
      assert.is(login.mechanism, "SCRAM-SHA-256-PLUS", run.output);
      assert.is(login.gs2, "p=tls-exporter,,", run.output);
    } else {
      assert.is(login.mechanism, "SCRAM-SHA-256", `${transport}: ${run.output}`);
      assert.is(login.gs2, "n,,", `${transport}: a client that cannot bind says so with 'n', never 'y'\n${run.output}`);
    }
  }
  assert.ok(run.messageExchanged, run.output);
}

test("slixmpp from PyPI: SCRAM-SHA-256 over Direct TLS and STARTTLS (TLS 1.3), a message each way", async () => {
  const { python, version } = pypiSlixmppPython();
  const [major, minor] = version.split(".").map(Number);
  assert.ok((major ?? 0) > 1 || (minor ?? 0) > 8, `the venv's slixmpp is ${version}, no newer than Debian's 1.8`);
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.tls.requireEncryption = true; } });
  try {
    const direct = await runSlixmppLogin(python, SCRIPT, ts.server.directTlsPort, "direct-tls", 1);
    assert.is(direct.slixmppVersion, version);
    checkScramLogins(direct, "direct-tls");
    checkScramLogins(await runSlixmppLogin(python, SCRIPT, ts.port, "starttls", 1), "starttls");
  } finally {
    await ts.stop();
  }
});

test("slixmpp from PyPI with xep_0198: resumption after its TCP connection is killed, the message sent meanwhile delivered once", async () => {
  const { python } = pypiSlixmppPython();
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const { spawn } = await import("node:child_process");
    const child = spawn(python, [path.join(repoRoot(), "test", "clients", "slixmpp_resume.py"), "127.0.0.1", String(ts.port)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.is(code, 0, out);
    for (const step of ["stream management enabled", "resumed on a new connection", "delivered once after resumption", "the resumed stream sends"]) {
      assert.match(out, step, `step missing: ${step}\n${out}`);
    }
  } finally {
    await ts.stop();
  }
});

test.run();
