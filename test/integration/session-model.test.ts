// Model-based tests of the session machine: paths generated from the client
// model (test/model/c2s-model.ts) with xstate/graph — shortest paths, simple
// paths, and one path per remaining transition — each run against a real
// server over a socket, checking what the client observes and the state the
// server's session actor is in. Prints state and transition coverage.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createTestModel } from "xstate/graph";
import type { SnapshotFrom } from "xstate";
import { c2sModel, type ModelEvent } from "../model/c2s-model.js";
import { RawClient, HEADER, scramSha256 } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { pathsCoveringEveryTransition } from "../model/transition-paths.js";

type Snapshot = SnapshotFrom<typeof c2sModel>;

const ACCOUNT = { jid: "romeo@localhost", password: "wherefore" };
const plain = (password: string) => Buffer.from(`\0romeo\0${password}`).toString("base64");
const streamError = (condition: string) => new RegExp(`<stream:error><${condition} xmlns=`);

/** One path's world: a fresh server (so failure delays do not accumulate) and a client. */
interface World {
  ts: TestServer;
  client?: RawClient;
  streamId?: string;
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
    AUTH_SCRAM: async () => { await scramSha256(c(), "romeo", ACCOUNT.password); },
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
      const exec = actions(world);
      const states = Object.fromEntries(
        Object.keys(c2sModel.states).map((k) => [`c2s-client.${k}`, (s: Snapshot) => checkServer(world, s)]));
      await path.test({
        states,
        events: Object.fromEntries(Object.entries(exec).map(([type, run]) => [type, () => run()])),
      });
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
