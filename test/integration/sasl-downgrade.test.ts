// The gs2 flag "y" while SCRAM-*-PLUS is offered (RFC 5802 §6, XEP-0440 §4):
// refused as a possible downgrade, but, checking no password, it must not grow
// the brute-force delay (slixmpp 1.8 sends it twice on every login under TLS 1.3,
// and each counted refusal used to slow that user's next login and every other
// login to the account). The refusal is logged at info with the client's address.
import { test } from "uvu";
import * as assert from "uvu/assert";
import tls from "node:tls";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { RawClient, HEADER, scramSha256 } from "../helpers/raw-client.js";
import { defaultConfig } from "../../src/config.js";
import { ParleyServer } from "../../src/server/server.js";
import { Logger } from "../../src/util/logger.js";
import { registerAccounts } from "../../src/accounts/account-service.js";
import { saslFailureDelayMs } from "../../src/actors/session-machine.js";

/** A server whose info log is kept in memory, one JSON object per line. */
async function serverWithLog(): Promise<{ server: ParleyServer; lines: () => Record<string, unknown>[]; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-downgrade-"));
  const config = defaultConfig();
  config.dataDir = dataDir;
  config.c2s = { host: "127.0.0.1", port: 0, directTlsPort: 0 };
  config.http = { port: 0 };
  config.s2s.port = 0;
  let text = "";
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { text += chunk.toString(); done(); } });
  const server = await ParleyServer.start(config, new Logger("info", pino({ level: "info", base: undefined }, sink)));
  await registerAccounts(server.store, [{ jid: "romeo@localhost", password: "s3cret" }], { kind: "admin", tool: "test" }, 4096);
  return {
    server,
    lines: () => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function directTls(port: number): Promise<RawClient> {
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false, ALPNProtocols: ["xmpp-client"] }, () => resolve(s));
    s.once("error", reject);
  });
  const c = RawClient.wrap(socket);
  c.write(HEADER());
  const features = await c.waitFor(/<\/stream:features>/);
  assert.match(features, /<mechanism>SCRAM-SHA-256-PLUS<\/mechanism>/, "the test needs -PLUS on offer");
  return c;
}

/** Sends an <auth/> and returns the <failure/> and how long it took to come. */
async function refused(c: RawClient, mechanism: string, initial: string): Promise<{ failure: string; ms: number }> {
  c.clear();
  const t0 = Date.now();
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mechanism}'>${Buffer.from(initial).toString("base64")}</auth>`);
  const failure = await c.waitFor(/<failure[\s\S]*<\/failure>/, 8000);
  return { failure, ms: Date.now() - t0 };
}

test("gs2 'y' refusals come at once and leave the delay of the next wrong password where it was", async () => {
  const s = await serverWithLog();
  try {
    const c = await directTls(s.server.directTlsPort);
    // Four refusals in a row: counted, they would wait 100 + 200 + 400 + 800 ms.
    const counted = [1, 2, 3, 4].reduce((sum, n) => sum + saslFailureDelayMs(n), 0);
    let total = 0;
    for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1"]) {
      const r = await refused(c, mechanism, "y,,n=romeo,r=abcdefghijkl");
      assert.match(r.failure, /<not-authorized\/>/);
      assert.match(r.failure, /downgrade refused.*gs2 flag 'y'/, "the text says why, for the user");
      total += r.ms;
    }
    assert.ok(total < counted - 500, `four downgrade refusals took ${total} ms; counted they take at least ${counted} ms`);

    // The next wrong password is this connection's, this address's and this account's first failure.
    const wrong = await refused(c, "PLAIN", "\0romeo\0not the password");
    assert.match(wrong.failure, /<not-authorized\/>/);
    assert.ok(wrong.ms >= saslFailureDelayMs(1) - 5, `a wrong password is still delayed (${wrong.ms} ms)`);
    assert.ok(wrong.ms < saslFailureDelayMs(5) - 600, `the wrong password waited ${wrong.ms} ms: the refusals were counted`);

    // And the right password still logs in on the same connection.
    await scramSha256(c, "romeo", "s3cret");
    c.destroy();

    const downgrades = s.lines().filter((l) => typeof l.msg === "string" && l.msg.includes("channel-binding downgrade"));
    assert.is(downgrades.length, 4, JSON.stringify(s.lines()));
    assert.is(downgrades[0]?.level, 30, "logged at info");
    assert.is(downgrades[0]?.address, "127.0.0.1");
    assert.is(downgrades[0]?.mechanism, "SCRAM-SHA-256");
    assert.match(String(downgrades[0]?.bindings), /tls-exporter/);
    const counts = s.lines().filter((l) => l.msg === "authentication failed").map((l) => l.counted);
    assert.equal(counts, [true], "only the wrong password was counted");
  } finally {
    await s.stop();
  }
});

test.run();
