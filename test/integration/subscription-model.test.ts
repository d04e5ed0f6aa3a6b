// Model-based tests of subscriptions (RFC 6121 Appendix A): paths through
// test/model/subscription-model.ts generated with xstate/graph (shortest
// paths, plus one path per transition so every transition is exercised), each
// replayed as real presence stanzas between two users on a real server; after
// every step both users' roster states must be what the model says.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createTestModel } from "xstate/graph";
import type { SnapshotFrom } from "xstate";
import { subscriptionPairModel, PAIR_STATES, MIRROR, type PairEvent, type PairState } from "../model/subscription-model.js";
import { ScansionClient } from "../../src/scansion/client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { pathsCoveringEveryTransition } from "../model/transition-paths.js";
import type { RosterState } from "../../src/roster/roster-types.js";

type Snapshot = SnapshotFrom<typeof subscriptionPairModel>;
const ROMEO = "romeo@localhost";
const JULIET = "juliet@localhost";

function stateName(roster: RosterState | undefined, contact: string): string {
  const item = roster?.items.get(contact);
  const base = { none: "None", to: "To", from: "From", both: "Both" }[item?.subscription ?? "none"];
  const out = item?.ask === true;
  const inn = roster?.pendingIn.has(contact) === true;
  if (out && inn) return `${base} + Pending Out/In`;
  if (out) return `${base} + Pending Out`;
  if (inn) return `${base} + Pending In`;
  return base;
}

const model = createTestModel(subscriptionPairModel);
const shortest = model.getShortestPaths();
// Simple paths through nine densely connected states run to the millions: shortest
// paths plus one path per transition cover every state and transition instead.
const { paths, allTransitions, covered, reachedStates } = pathsCoveringEveryTransition(model, shortest, shortest);

interface World { ts: TestServer; romeo: ScansionClient; juliet: ScansionClient }

async function barrier(w: World): Promise<void> {
  for (let round = 0; round < 2; round++) await Promise.all([w.romeo.ping("localhost", 5000), w.juliet.ping("localhost", 5000)]);
}

const STANZA: Record<PairEvent["type"], [sender: "romeo" | "juliet", type: string]> = {
  ROMEO_SUBSCRIBE: ["romeo", "subscribe"], ROMEO_SUBSCRIBED: ["romeo", "subscribed"],
  ROMEO_UNSUBSCRIBE: ["romeo", "unsubscribe"], ROMEO_UNSUBSCRIBED: ["romeo", "unsubscribed"],
  JULIET_SUBSCRIBE: ["juliet", "subscribe"], JULIET_SUBSCRIBED: ["juliet", "subscribed"],
  JULIET_UNSUBSCRIBE: ["juliet", "unsubscribe"], JULIET_UNSUBSCRIBED: ["juliet", "unsubscribed"],
};

for (const [name, path] of paths) {
  test(`subscription path: ${name || "(initial)"}`, async () => {
    const ts = await startTestServer({ accounts: [{ jid: ROMEO, password: "r" }, { jid: JULIET, password: "j" }] });
    const romeo = new ScansionClient("romeo", ROMEO, "r", "model");
    const juliet = new ScansionClient("juliet", JULIET, "j", "model");
    const w: World = { ts, romeo, juliet };
    try {
      await romeo.connect("127.0.0.1", ts.port, 5000);
      await juliet.connect("127.0.0.1", ts.port, 5000);
      const check = (s: Snapshot) => {
        const expected = String(s.value) as PairState;
        assert.is(stateName(ts.server.accountState(ROMEO), JULIET), PAIR_STATES[expected], `romeo's view after ${name}`);
        assert.is(stateName(ts.server.accountState(JULIET), ROMEO), PAIR_STATES[MIRROR[expected]], `juliet's view after ${name}`);
      };
      const states = Object.fromEntries(Object.keys(PAIR_STATES).map((k) => [`pair.${k}`, check]));
      const events = Object.fromEntries(Object.entries(STANZA).map(([type, [sender, ptype]]) => [type, async () => {
        const from = sender === "romeo" ? romeo : juliet;
        from.send(`<presence type='${ptype}' to='${sender === "romeo" ? JULIET : ROMEO}'/>`);
        await barrier(w);
      }]));
      await path.test({ states, events });
    } finally {
      romeo.destroy();
      juliet.destroy();
      await ts.stop();
    }
  });
}

test("the generated subscription paths cover every state and every transition of the model", () => {
  const reached = reachedStates;
  console.log(`  subscription model coverage: ${reached.size}/${Object.keys(PAIR_STATES).length} states, ${covered.size}/${allTransitions.size} transitions, ${paths.size} paths`);
  for (const s of Object.keys(PAIR_STATES)) assert.ok(reached.has(s), `state ${s} not covered`);
  for (const t of allTransitions) assert.ok(covered.has(t), `transition ${t} not covered`);
});

test.run();
