// Regression (issue 11, third bug): a SASL outcome that arrives after its
// exchange was aborted must not decide the next exchange on the same stream.
// PLAIN's password check runs on the thread pool and, with a high iteration
// count, takes a while; the client aborts it (RFC 6120 §6.4.4) and starts
// SCRAM-SHA-256 with the right password. The late PLAIN failure used to fail
// the SCRAM exchange; now it dies with the `authenticating` state that started it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pbkdf2, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { registerAccounts } from "../../src/accounts/account-service.js";
import { digest, hmac, preparePassword } from "../../src/sasl/credentials.js";

const ITERATIONS = 200_000;
const ACCOUNT = { jid: "romeo@localhost", password: "wherefore" };
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const derive = promisify(pbkdf2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("an aborted PLAIN check does not fail the SCRAM-SHA-256 exchange that follows it", async () => {
  const ts = await startTestServer();
  const c = await RawClient.connect(ts.port);
  try {
    await registerAccounts(ts.server.store, [ACCOUNT], { kind: "admin", tool: "test" }, ITERATIONS);
    // How long one derivation takes here: the server's PLAIN check costs the same.
    const started = Date.now();
    await derive("x", "salt", ITERATIONS, 32, "sha256");
    const derivationMs = Date.now() - started;

    c.write(HEADER());
    await c.waitFor(/<\/stream:features>/);
    c.clear();
    // Wrong password, and the abort in the same write: it arrives while the check runs.
    const plain = Buffer.from(`\0romeo\0not-the-password`).toString("base64");
    c.write(`<auth xmlns='${SASL}' mechanism='PLAIN'>${plain}</auth><abort xmlns='${SASL}'/>`);
    await c.waitFor(/<failure xmlns=['"][^'"]+['"]><aborted\/><\/failure>/);

    c.clear();
    const cnonce = randomBytes(18).toString("base64");
    const clientFirstBare = `n=romeo,r=${cnonce}`;
    c.write(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256'>${Buffer.from(`n,,${clientFirstBare}`).toString("base64")}</auth>`);
    const challenge = /<challenge[^>]*>([^<]+)<\/challenge>/.exec(await c.waitFor(/<challenge[^>]*>[^<]+<\/challenge>/));
    const serverFirst = Buffer.from((challenge as RegExpExecArray)[1] as string, "base64").toString();

    // Leave the old PLAIN check ample time to finish while the SCRAM exchange is open.
    await sleep(5 * derivationMs + 250);
    assert.not.match(c.text, /<failure/, `the SCRAM exchange was failed before its final message: ${c.text}`);

    const fields = new Map(serverFirst.split(",").map((kv) => [kv[0] as string, kv.slice(2)]));
    assert.is(Number(fields.get("i")), ITERATIONS);
    const salted = await derive(preparePassword(ACCOUNT.password), Buffer.from(fields.get("s") ?? "", "base64"), ITERATIONS, 32, "sha256");
    const clientKey = hmac("SHA-256", salted, "Client Key");
    const withoutProof = `c=${Buffer.from("n,,").toString("base64")},r=${fields.get("r")}`;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac("SHA-256", digest("SHA-256", clientKey), authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number))).toString("base64");
    c.clear();
    c.write(`<response xmlns='${SASL}'>${Buffer.from(`${withoutProof},p=${proof}`).toString("base64")}</response>`);
    const outcome = await c.waitFor(/<success[^>]*>[^<]*<\/success>|<failure[\s\S]*<\/failure>/, 5000);
    assert.match(outcome, /<success/, `the SCRAM exchange failed: ${outcome}`);
  } finally {
    c.destroy();
    await ts.stop();
  }
});

test.run();
