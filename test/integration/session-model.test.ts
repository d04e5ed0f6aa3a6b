// Model-based tests of the session machine: paths generated from the client
// model (test/model/c2s-model.ts) with xstate/graph — shortest paths, simple
// paths, and one path per remaining transition — each run against a real
// server over a socket, checking what the client observes and the state the
// server's session actor is in. Prints state and transition coverage.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createTestModel } from "xstate/graph";
import type { SnapshotFrom } from "xstate";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { c2sModel, type ModelEvent } from "../model/c2s-model.js";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { pathsCoveringEveryTransition, replayPath } from "../model/transition-paths.js";
import { digest, hmac, preparePassword } from "../../src/sasl/credentials.js";

type Snapshot = SnapshotFrom<typeof c2sModel>;

const ACCOUNT = { jid: "romeo@localhost", password: "wherefore" };
const plain = (password: string) => Buffer.from(`\0romeo\0${password}`).toString("base64");
const streamError = (condition: string) => new RegExp(`<stream:error><${condition} xmlns=`);
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";

/** One path's world: a fresh server (so failure delays do not accumulate) and a client. */
interface World {
  ts: TestServer;
  client?: RawClient;
  streamId?: string;
  /** A SCRAM-SHA-256 exchange between its first and final messages (RFC 5802 §3). */
  scram?: { clientFirstBare: string; serverFirst: string };
}

function actions(world: World): Record<ModelEvent["type"], () => Promise<void>> {
  const c = () => {
    if (!world.client) throw new Error("not connected");
    return world.client;
  };
  const openStream = async () => {
    c().clear();
    c().write(HEADER());
    const text = await c().waitFor(/<\/stream:features>/);
    world.streamId = (/<stream:stream [^>]*id='([^']+)'/.exec(text) as RegExpExecArray)[1];
    return text;
  };
  return {
    CONNECT: async () => { world.client = await RawClient.connect(world.ts.port); },
    SEND_HEADER: async () => { assert.match(await openStream(), /<mechanism>SCRAM-SHA-256<\/mechanism>/); },
    SEND_HEADER_UNKNOWN_HOST: async () => { c().write(HEADER("nowhere.example")); await c().waitFor(streamError("host-unknown")); await c().waitClosed(); },
    SEND_GARBAGE: async () => { c().write("<<<>>>"); await c().waitFor(streamError("not-well-formed")); await c().waitClosed(); },
    AUTH_PLAIN: async () => {
      c().clear();
      c().write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain(ACCOUNT.password)}</auth>`);
      await c().waitFor(/<success/);
    },
    SCRAM_FIRST: async () => {
      c().clear();
      const clientFirstBare = `n=romeo,r=${randomBytes(18).toString("base64")}`;
      c().write(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256'>${Buffer.from(`n,,${clientFirstBare}`).toString("base64")}</auth>`);
      const text = await c().waitFor(/<challenge[^>]*>[^<]+<\/challenge>/);
      const serverFirst = Buffer.from((/<challenge[^>]*>([^<]+)<\/challenge>/.exec(text) as RegExpExecArray)[1] as string, "base64").toString();
      world.scram = { clientFirstBare, serverFirst };
    },
    SCRAM_FINAL: async () => {
      if (!world.scram) throw new Error("no SCRAM exchange in progress");
      const { clientFirstBare, serverFirst } = world.scram;
      const fields = new Map(serverFirst.split(",").map((kv) => [kv[0] as string, kv.slice(2)]));
      const salted = pbkdf2Sync(preparePassword(ACCOUNT.password), Buffer.from(fields.get("s") ?? "", "base64"), Number(fields.get("i")), 32, "sha256");
      const clientKey = hmac("SHA-256", salted, "Client Key");
      const withoutProof = `c=${Buffer.from("n,,").toString("base64")},r=${fields.get("r")}`;
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const signature = hmac("SHA-256", digest("SHA-256", clientKey), authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number))).toString("base64");
      c().clear();
      c().write(`<response xmlns='${SASL}'>${Buffer.from(`${withoutProof},p=${proof}`).toString("base64")}</response>`);
      const done = await c().waitFor(/<success[^>]*>[^<]*<\/success>|<failure/);
      const verifier = Buffer.from((/<success[^>]*>([^<]*)<\/success>/.exec(done) ?? [])[1] ?? "", "base64").toString();
      const expected = hmac("SHA-256", hmac("SHA-256", salted, "Server Key"), authMessage).toString("base64");
      assert.is(verifier, `v=${expected}`, `SCRAM did not succeed with the server's signature: ${done}`);
      world.scram = undefined;
    },
    SASL_ABORT: async () => {
      c().clear();
      c().write(`<abort xmlns='${SASL}'/>`);
      await c().waitFor(/<failure xmlns=['"][^'"]+['"]><aborted\/><\/failure>/);
      world.scram = undefined;
    },
    AUTH_PLAIN_ABORTED: async () => {
      c().clear();
      c().write(`<auth xmlns='${SASL}' mechanism='PLAIN'>${plain(ACCOUNT.password)}</auth><abort xmlns='${SASL}'/>`);
      await c().waitFor(/<failure xmlns=['"][^'"]+['"]><aborted\/><\/failure>/);
      assert.not.match(c().text, /<success/);
    },
    AUTH_WRONG_PASSWORD: async () => {
      c().clear();
      c().write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain("nope")}</auth>`);
      await c().waitFor(/<not-authorized\/>/);
    },
    AUTH_UNKNOWN_MECHANISM: async () => {
      c().clear();
      c().write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-NONE'>=</auth>");
      await c().waitFor(/<invalid-mechanism\/>/);
    },
    STANZA_BEFORE_AUTH: async () => { c().write("<message to='juliet@localhost'/>"); await c().waitFor(streamError("not-authorized")); await c().waitClosed(); },
    RESTART: async () => { assert.match(await openStream(), /<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'\/>/); },
    STANZA_BEFORE_BIND: async () => { c().write("<presence/>"); await c().waitFor(streamError("not-authorized")); await c().waitClosed(); },
    BIND: async () => {
      c().clear();
      c().write("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>model</resource></bind></iq>");
      await c().waitFor(/<jid>romeo@localhost\/model<\/jid>/);
    },
    PING: async () => {
      c().clear();
      c().write("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      await c().waitFor(/<iq type='result' id='p'/);
    },
    BIND_AGAIN: async () => {
      c().clear();
      c().write("<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
      await c().waitFor(/id='b2'[\s\S]*<not-allowed/);
    },
    UNKNOWN_ELEMENT: async () => { c().write("<banana/>"); await c().waitFor(streamError("unsupported-stanza-type")); await c().waitClosed(); },
    CLOSE_STREAM: async () => { c().write("</stream:stream>"); await c().waitFor(/<\/stream:stream>/); await c().waitClosed(); },
  };
}

/** The session actor's state as the model says it must be. */
function checkServer(world: World, snapshot: Snapshot): void {
  const expected = (Object.values(snapshot.getMeta())[0] as { server?: string } | undefined)?.server;
  if (snapshot.value === "closedByServer" || snapshot.value === "closedByClient") {
    if (world.streamId) assert.is(world.ts.server.sessionState(world.streamId), undefined, "the session actor must be gone");
    return;
  }
  if (!expected || !world.streamId) return;
  assert.is(world.ts.server.sessionState(world.streamId), expected, `server session state in model state ${String(snapshot.value)}`);
}

const model = createTestModel(c2sModel);
const shortest = model.getShortestPaths();
const { paths, allTransitions, covered: coveredTransitions, reachedStates } =
  pathsCoveringEveryTransition(model, [...shortest, ...model.getSimplePaths()], shortest);

for (const [name, path] of paths) {
  test(`session path: ${name || "(initial)"}`, async () => {
    const world: World = { ts: await startTestServer({ accounts: [ACCOUNT] }) };
    try {
      await replayPath(path, c2sModel, (s: Snapshot) => checkServer(world, s), actions(world));
    } finally {
      world.client?.destroy();
      await world.ts.stop();
    }
  });
}

test("the generated paths cover every state and every transition of the model", () => {
  const stateNames = Object.keys(c2sModel.states);
  console.log(`  model coverage: ${reachedStates.size}/${stateNames.length} states, ${coveredTransitions.size}/${allTransitions.size} transitions, ${paths.size} paths`);
  for (const s of stateNames) assert.ok(reachedStates.has(s), `state ${s} not covered`);
  for (const t of allTransitions) assert.ok(coveredTransitions.has(t), `transition ${t} not covered`);
});

test.run();
