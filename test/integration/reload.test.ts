// SIGHUP (issue 20, part 4): `parley start --config FILE` reads the file
// again and applies the log level, limits, new domains and the TLS
// certificate without dropping a session; what needs a restart is named.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { spawnServer } from "../helpers/server-process.js";
import { addUsers } from "../helpers/process-accounts.js";

function makeCert(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2", "-subj", `/CN=localhost`,
    "-addext", "subjectAltName=DNS:localhost,DNS:example.net", "-keyout", key, "-out", cert], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false, ALPNProtocols: ["xmpp-client"] }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? "";
      s.destroy();
      resolve(fp);
    });
    s.once("error", reject);
  });
}

async function waitForLog(log: () => string, pattern: RegExp, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(log())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the log: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("SIGHUP applies a new log level, limit, domain and certificate; the connected client stays; a change of modules is named", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-reload-"));
  const data = path.join(dir, "data");
  const a = makeCert(dir, "a");
  const b = makeCert(dir, "b");
  const file = path.join(dir, "parley.toml");
  const write = (o: { domains: string[]; level: string; perAddress: number; cert: { cert: string; key: string }; modules: string }) => writeFileSync(file, `
domains = ${JSON.stringify(o.domains)}
log_level = "${o.level}"
${o.modules}
[limits]
connections_per_address = ${o.perAddress}
[tls]
cert = ${JSON.stringify(o.cert.cert)}
key = ${JSON.stringify(o.cert.key)}
`);
  write({ domains: ["localhost"], level: "info", perAddress: 100, cert: a, modules: "" });
  addUsers(data, [{ jid: "romeo@localhost", password: "wherefore art thou" }]);
  const server = await spawnServer(data, ["--config", file]);
  try {
    const romeo = await RawClient.connect(server.port);
    await romeo.login("romeo", "wherefore art thou", "orchard");
    assert.is(await peerFingerprint(server.directTlsPort), new X509Certificate(readFileSync(a.cert)).fingerprint256);

    assert.not.match(server.log(), /"level":"debug"/, "no debug lines at info");
    write({ domains: ["localhost", "example.net"], level: "debug", perAddress: 2, cert: b, modules: `modules_enabled = ["roster", "presence", "ping"]` });
    server.child.kill("SIGHUP");
    await waitForLog(server.log, /reloaded the configuration/);
    assert.match(server.log(), /log level info → debug/);
    assert.match(server.log(), /connectionsPerAddress=2/);
    assert.match(server.log(), /domains added: example\.net/);
    assert.match(server.log(), /"restartNeeded":"the muc and pubsub services of example\.net, modulesEnabled","msg":"reload: these changes need a restart and were not applied"/, server.log().slice(-3000));

    // The client connected before stays, and is served.
    await romeo.sync("after-reload");
    // The new limit: with romeo's connection and a second one open, a third is refused.
    const second = await RawClient.connect(server.port);
    second.write(HEADER("example.net"));
    // The new domain is served (no host-unknown), and debug lines are logged now.
    await second.waitFor(/<\/stream:features>/);
    const third = await RawClient.connect(server.port);
    await third.waitFor(/policy-violation/);
    await third.waitClosed();
    second.destroy();
    await waitForLog(server.log, /"level":"debug","session":"[^"]+","jid":[^}]*"msg":"session closed"|"level":"debug"[^}]*"msg":"session closed"/);
    // The new certificate on new handshakes (the closed connection's place may take a moment to free).
    const fingerprint = async (): Promise<string> => {
      for (let i = 0; ; i++) {
        try {
          return await peerFingerprint(server.directTlsPort);
        } catch (err) {
          if (i >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    assert.is(await fingerprint(), new X509Certificate(readFileSync(b.cert)).fingerprint256);
    romeo.destroy();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIGHUP with a broken configuration changes nothing and says why", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-reload-"));
  const data = path.join(dir, "data");
  const file = path.join(dir, "parley.toml");
  writeFileSync(file, `log_level = "info"\n`);
  const server = await spawnServer(data, ["--config", file]);
  try {
    const c = await RawClient.connect(server.port);
    c.write(HEADER());
    await c.waitFor(/<\/stream:features>/);
    writeFileSync(file, `log_level = "loud"\n`);
    server.child.kill("SIGHUP");
    await waitForLog(server.log, /reload: the configuration is not valid; nothing changed/);
    assert.match(server.log(), /log_level/);
    c.write("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.not.ok(c.isClosed);
    c.destroy();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
