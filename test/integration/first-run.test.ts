// A new operator's first hour (issue 20, part 7): what the README, Profanity,
// Poezio, Gajim and Converse.js ran into, each as a check that fails if it
// comes back.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import net from "node:net";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { pino } from "pino";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { PARLEY_BIN } from "../helpers/server-process.js";
import { defaultConfig, type ServerConfig } from "../../src/config.js";
import { Logger } from "../../src/util/logger.js";
import { ParleyServer } from "../../src/server/server.js";
import { loadOrCreateCertificate } from "../../src/net/certificates.js";
import { registerAccounts } from "../../src/accounts/account-service.js";
import { summarizeEvent } from "../../src/replay/describe.js";
import type { StoredEvent } from "../../src/events/types.js";

/** The CLI, run without blocking this process's event loop: the in-process server must answer its admin socket meanwhile. */
function parley(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PARLEY_BIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill(); reject(new Error(`parley ${args.join(" ")} took too long: ${stdout}${stderr}`)); }, 30_000);
    child.once("exit", (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    child.stdin.end(input ?? "");
  });
}

/** A Logger whose JSON lines are kept, as pino writes them. */
function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const impl = pino({ level: "info", base: undefined }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } });
  return { log: new Logger("info", impl), lines };
}

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "parley-first-run-"));
}

function testConfig(dataDir: string, configure?: (c: ServerConfig) => void): ServerConfig {
  const config = defaultConfig();
  config.dataDir = dataDir;
  config.c2s = { host: "127.0.0.1", port: 0, directTlsPort: 0 };
  config.http = { port: 0 };
  config.s2s.port = 0;
  configure?.(config);
  return config;
}

// DER encodings of the signature algorithm identifiers (RFC 5758 §3.2, RFC 3279 §2.2.3).
const ECDSA_WITH_SHA256 = Buffer.from("06082a8648ce3d040302", "hex");
const ECDSA_WITH_SHA1 = Buffer.from("06072a8648ce3d0401", "hex");

test("the self-signed certificate is signed with SHA-256, and the log gives its SHA-256 fingerprint", async () => {
  const dataDir = tempDir();
  try {
    const { log, lines } = capturingLogger();
    const made = await loadOrCreateCertificate(testConfig(dataDir), log);
    const x509 = new X509Certificate(made.cert);
    assert.ok(x509.raw.includes(ECDSA_WITH_SHA256), "signed with ecdsa-with-SHA256");
    assert.not.ok(x509.raw.includes(ECDSA_WITH_SHA1), "not with ecdsa-with-SHA1");
    const line = lines.find((l) => String(l.msg).startsWith("generated a self-signed TLS certificate"));
    assert.ok(line, JSON.stringify(lines));
    assert.is(line.sha256, x509.fingerprint256);
    assert.is(line.fingerprint, undefined, "no SHA-1 fingerprint");
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("by default every listener is on ::1 as well as 127.0.0.1, at the same ports", async () => {
  const ts = await startTestServer({ configure: (c) => { c.c2s.extraHosts = ["::1"]; } });
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(ts.port, "::1", () => socket.write(HEADER()));
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (d: string) => {
        text += d;
        if (text.includes("</stream:features>")) { socket.destroy(); resolve(text); }
      });
      socket.on("error", reject);
    });
    assert.match(reply, /<stream:features>/);
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: "::1", port: ts.server.httpPort, path: "/xmpp-websocket" }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on("error", reject);
    });
    assert.is(status, 426);
    assert.equal(defaultConfig().c2s.extraHosts, ["::1"], "the default configuration listens on ::1 too");
  } finally {
    await ts.stop();
  }
});

test("a plain GET of /xmpp-websocket is 426 Upgrade Required with a clear text; other paths 404", async () => {
  const ts = await startTestServer();
  try {
    const get = (p: string) => new Promise<{ status: number; body: string; upgrade?: string }>((resolve, reject) => {
      http.get({ host: "127.0.0.1", port: ts.server.httpPort, path: p }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => { body += d; });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, upgrade: res.headers.upgrade }));
      }).on("error", reject);
    });
    const ws = await get("/xmpp-websocket");
    assert.is(ws.status, 426);
    assert.is(ws.upgrade, "websocket");
    assert.match(ws.body, /XMPP over WebSocket \(RFC 7395\): connect with a WebSocket client and the 'xmpp' subprotocol/);
    const other = await get("/nothing-here");
    assert.is(other.status, 404);
  } finally {
    await ts.stop();
  }
});

test("adduser refuses a domain that is not served, naming the served ones (configuration or running server)", async () => {
  const dataDir = tempDir();
  try {
    const refused = await parley(["adduser", "romeo@example.org", "--data", dataDir], "a long password\n");
    assert.is(refused.status, 2);
    assert.match(refused.stderr, /example\.org is not a served domain, so romeo@example\.org could never log in; served \(per the default configuration \(pass --config FILE\)\): localhost/);
    const file = path.join(dataDir, "parley.toml");
    writeFileSync(file, `domains = ["example.org"]\ndata_dir = "${dataDir}"\n`);
    assert.is((await parley(["adduser", "romeo@example.org", "--config", file], "a long password\n")).status, 0);
    const batch = await parley(["adduser", "--batch", "--data", dataDir], "juliet@localhost a long password\nnurse@elsewhere.example another password\n");
    assert.is(batch.status, 2);
    assert.match(batch.stderr, /elsewhere\.example is not a served domain/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  // A running server answers for its own domains, with no configuration file.
  const ts = await startTestServer({ configure: (c) => { c.domains = ["shakespeare.example"]; } });
  try {
    assert.is((await parley(["adduser", "hamlet@shakespeare.example", "--data", ts.dataDir], "to be or not\n")).status, 0);
    const wrong = await parley(["adduser", "hamlet@localhost", "--data", ts.dataDir], "to be or not\n");
    assert.is(wrong.status, 2);
    assert.match(wrong.stderr, new RegExp(`served \\(per the server running on ${ts.dataDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\): shakespeare\\.example`));
  } finally {
    await ts.stop();
  }
});

test("a too short password is refused by adduser, passwd and in-band registration; the minimum is configurable", async () => {
  const ts = await startTestServer({
    accounts: [{ jid: "tybalt@localhost", password: "prince of cats" }],
    configure: (c) => { c.registration.allowed = true; },
  });
  try {
    const add = await parley(["adduser", "mercutio@localhost", "--data", ts.dataDir], "x\n");
    assert.is(add.status, 2);
    assert.match(add.stderr, /the password must have at least 8 characters \(it has 1\); password_min_length sets the minimum/);
    const passwd = await parley(["passwd", "tybalt@localhost", "--data", ts.dataDir], "short\n");
    assert.is(passwd.status, 2);
    assert.match(passwd.stderr, /at least 8 characters \(it has 5\)/);
    // Characters, not bytes: eight code points of Cyrillic pass.
    assert.is((await parley(["adduser", "ivan@localhost", "--data", ts.dataDir], "пароль12\n")).status, 0);
    const file = path.join(ts.dataDir, "short.toml");
    writeFileSync(file, `password_min_length = 3\ndata_dir = "${ts.dataDir}"\n`);
    assert.is((await parley(["adduser", "mercutio@localhost", "--config", file], "mab\n")).status, 0);

    const c = await RawClient.connect(ts.port);
    c.write(HEADER());
    await c.waitFor(/<\/stream:features>/);
    c.write("<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>benvolio</username><password>peace</password></query></iq>");
    const reply = await c.waitFor(/id='r1'[\s\S]*<\/iq>/);
    assert.match(reply, /<not-acceptable/);
    assert.match(reply, /Choose a longer password: the password must have at least 8 characters/);
    c.destroy();
    const login = await RawClient.connect(ts.port);
    await login.login("tybalt", "prince of cats");
    login.write("<iq type='set' id='p1'><query xmlns='jabber:iq:register'><username>tybalt</username><password>cat</password></query></iq>");
    const change = await login.waitFor(/id='p1'[\s\S]*<\/iq>/);
    assert.match(change, /type='error'/);
    assert.match(change, /<not-acceptable/);
    login.destroy();
  } finally {
    await ts.stop();
  }
});

test("at the default level the log says when connections open and close, and why; an authentication failure names the mechanism and the reason", async () => {
  const dataDir = tempDir();
  const { log, lines } = capturingLogger();
  const server = await ParleyServer.start(testConfig(dataDir), log);
  try {
    await registerAccounts(server.store, [{ jid: "romeo@localhost", password: "wherefore art thou" }], { kind: "admin", tool: "test" }, 4096);
    const good = await RawClient.connect(server.c2sPort);
    await good.login("romeo", "wherefore art thou", "orchard");
    good.write("</stream:stream>");
    await good.waitClosed();
    const bad = await RawClient.connect(server.c2sPort);
    await bad.login("romeo", "wrong password").catch(() => undefined);
    bad.destroy();
    const deadline = Date.now() + 5000;
    while (lines.filter((l) => l.msg === "connection closed").length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const opened = lines.filter((l) => l.msg === "connection opened");
    const closed = lines.filter((l) => l.msg === "connection closed");
    assert.is(opened.length, 2, JSON.stringify(lines));
    assert.is(opened[0]?.transport, "tcp");
    assert.is(opened[0]?.address, "127.0.0.1");
    assert.is(closed.length, 2, JSON.stringify(lines));
    const clean = closed.find((l) => l.session === opened[0]?.session);
    assert.is(clean?.reason, "the client closed its stream");
    assert.match(String(clean?.jid), /^romeo@localhost\/orchard$/);
    assert.is(typeof clean?.seconds, "number");
    const lost = closed.find((l) => l.session === opened[1]?.session);
    assert.match(String(lost?.reason), /the connection was lost/);
    const failure = lines.find((l) => l.msg === "authentication failed");
    assert.ok(failure, JSON.stringify(lines));
    assert.is(failure.mechanism, "PLAIN");
    assert.is(failure.user, "romeo@localhost");
    assert.is(failure.condition, "not-authorized");
    assert.is(failure.reason, "authentication failed");
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("parley check on a running server: its ports are the server's, not problems; a certificate about to be replaced is named", async () => {
  const ts = await startTestServer();
  const configDir = tempDir();
  try {
    const file = path.join(configDir, "parley.toml");
    const toml = (domains: string) => `domains = [${domains}]\ndata_dir = "${ts.dataDir}"\n[c2s]\nbind = "127.0.0.1"\nport = ${ts.port}\ndirect_tls_port = ${ts.server.directTlsPort}\n[http]\nport = ${ts.server.httpPort}\n`;
    writeFileSync(file, toml(`"localhost"`));
    const same = await parley(["check", "--config", file]);
    assert.is(same.status, 0, same.stdout + same.stderr);
    assert.match(same.stdout, /OK {7}server: Parley \S+ is running on this data directory \(pid \d+/);
    assert.match(same.stdout, new RegExp(`OK {7}c2s port 127\\.0\\.0\\.1:${ts.port}: in use by the running server`));
    assert.match(same.stdout, /OK {7}certificate .*localhost\.crt: self-signed, valid for localhost \(SHA-256 [0-9A-F:]+\)/);
    writeFileSync(file, toml(`"localhost", "example.org"`));
    const added = await parley(["check", "--config", file]);
    assert.is(added.status, 0, added.stdout);
    assert.match(added.stdout, /NOTE {5}certificate .*localhost\.crt: self-signed, and it does not cover the domain example\.org: parley start will replace it with a new one, and clients that trusted the old one will ask again/);
    assert.match(added.stdout, /NOTE {5}server: it serves localhost; the configuration adds example\.org: send it SIGHUP \(or restart it\) to apply/);
  } finally {
    await ts.stop();
    rmSync(configDir, { recursive: true, force: true });
  }
  // The same ports with no server of ours behind them are a problem still.
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
  const dataDir = tempDir();
  const otherConfigDir = tempDir();
  try {
    const port = (blocker.address() as net.AddressInfo).port;
    const file = path.join(otherConfigDir, "blocked.toml");
    writeFileSync(file, `data_dir = "${dataDir}"\n[c2s]\nport = ${port}\ndirect_tls_port = 0\n[http]\nport = 0\n`);
    const r = await parley(["check", "--config", file]);
    assert.is(r.status, 1);
    assert.match(r.stdout, new RegExp(`PROBLEM  c2s port 127\\.0\\.0\\.1:${port} is in use`));
  } finally {
    blocker.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(otherConfigDir, { recursive: true, force: true });
  }
});

test("event descriptions say each thing once", () => {
  const event = (type: string, payload: unknown, by: StoredEvent["meta"]["by"]): StoredEvent =>
    ({ seq: 1, streamId: "account:juliet@localhost", streamVersion: 1, type, payload, recordedAt: "2026-12-02T00:00:00.000Z", meta: { by } }) as unknown as StoredEvent;
  assert.is(summarizeEvent(event("AccountDeleted", { jid: "juliet@localhost", reason: "deleted by an administrator" }, { kind: "admin", tool: "cli" })),
    "account deleted by an administrator (cli)");
  assert.is(summarizeEvent(event("AccountDeleted", { jid: "juliet@localhost", reason: "cancelled by the user (XEP-0077)" }, { kind: "user", resource: "balcony" })),
    "account deleted (cancelled by the user (XEP-0077)) by the user's resource 'balcony'");
  assert.is(summarizeEvent(event("SubscriptionRequestReceived", { jid: "romeo@localhost" }, { kind: "contact", jid: "romeo@localhost" })),
    "romeo@localhost asked to see our presence (pending in)");
  assert.is(summarizeEvent(event("SubscriptionRequestReceived", { jid: "romeo@localhost" }, { kind: "admin", tool: "import" })),
    "romeo@localhost asked to see our presence (pending in) by an administrator (import)");
});

test("the README pipes stderr into pino-pretty", () => {
  const readme = readFileSync(path.join(path.dirname(PARLEY_BIN), "..", "README.md"), "utf8");
  assert.not.match(readme, /parley start \| npx pino-pretty/);
  assert.match(readme, /npx parley start 2>&1 \| npx pino-pretty/);
});

test.run();
