// Property-based tests against a real server over sockets: random sequences
// of subscription, roster, block and message commands among three users.
// Invariants: each account's live state equals its state replayed from the
// event log and equals the pure simulation of the same commands; projections
// equal a rebuild; a blocked JID never receives presence or messages from
// its blocker (other than the unavailable presence the block itself sends).
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { ScansionClient } from "../../src/scansion/client.js";
import { startTestServer } from "../helpers/test-server.js";
import { World, type Command } from "./subscription-world.js";
import { commandArbitrary } from "./commands.js";
import type { RosterState } from "../../src/roster/roster-types.js";
import { replayTo } from "../../src/replay/replay.js";
import { accountStreamId } from "../../src/events/types.js";

const USERS = ["alice@localhost", "bob@localhost", "carol@localhost"];
const runs = Number(process.env.PARLEY_PROPERTY_RUNS ?? 0);

type Step = Command | { kind: "message"; from: number; to: number } | { kind: "available"; from: number };

const user = fc.integer({ min: 0, max: USERS.length - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: commandArbitrary(USERS.length, 2) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("message" as const), from: user, to: user }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("available" as const), from: user }) },
);

const plain = (s: RosterState) => ({
  items: [...s.items.values()].map((i) => [i.jid, i.subscription, i.ask, i.approved]).sort(),
  pendingIn: [...s.pendingIn.keys()].sort(),
  blocked: [...s.blocked].sort(),
});

const bareOf = (jid: string | undefined) => (jid ?? "").split("/")[0] as string;

async function runConversation(steps: Step[]): Promise<void> {
  const ts = await startTestServer({ accounts: USERS.map((jid) => ({ jid, password: "pw" })) });
  const clients: ScansionClient[] = [];
  try {
    for (const [i, jid] of USERS.entries()) {
      const c = new ScansionClient(`u${i}`, jid, "pw", "prop");
      await c.connect("127.0.0.1", ts.port, 5000);
      c.send("<presence/>");
      clients.push(c);
    }
    const barrier = async () => {
      for (let round = 0; round < 2; round++) await Promise.all(clients.map((c) => c.ping("localhost", 5000)));
    };
    await barrier();
    for (const c of clients) c.queue.length = 0;
    const world = new World(USERS);
    const blocks = USERS.map(() => new Set<string>());
    let id = 0;
    for (const s of steps) {
      const justBlocked = new Set<string>();
      const u = (n: number) => USERS[n] as string;
      switch (s.kind) {
        case "presence":
          clients[s.from]?.send(`<presence type='${s.type}' to='${u(s.to)}'/>`);
          break;
        case "rosterSet":
          clients[s.owner]?.send(`<iq type='set' id='r${++id}'><query xmlns='jabber:iq:roster'><item jid='${u(s.contact)}' name='${s.name}'/></query></iq>`);
          break;
        case "rosterRemove":
          clients[s.owner]?.send(`<iq type='set' id='r${++id}'><query xmlns='jabber:iq:roster'><item jid='${u(s.contact)}' subscription='remove'/></query></iq>`);
          break;
        case "block":
          clients[s.owner]?.send(`<iq type='set' id='b${++id}'><block xmlns='urn:xmpp:blocking'><item jid='${u(s.contact)}'/></block></iq>`);
          if (u(s.owner) !== u(s.contact)) { blocks[s.owner]?.add(u(s.contact)); justBlocked.add(`${s.owner}>${s.contact}`); }
          break;
        case "unblock":
          clients[s.owner]?.send(`<iq type='set' id='b${++id}'><unblock xmlns='urn:xmpp:blocking'>${s.contact === "all" ? "" : `<item jid='${u(s.contact)}'/>`}</unblock></iq>`);
          if (s.contact === "all") blocks[s.owner]?.clear();
          else blocks[s.owner]?.delete(u(s.contact));
          break;
        case "message":
          clients[s.from]?.send(`<message type='chat' to='${u(s.to)}'><body>hi</body></message>`);
          break;
        case "available":
          clients[s.from]?.send("<presence><show>away</show></presence>");
          break;
      }
      if (s.kind !== "message" && s.kind !== "available") world.run(s);
      await barrier();
      // XEP-0191: nothing but the block's own unavailable crosses a block.
      for (const [to, c] of clients.entries()) {
        for (const stanza of c.queue.splice(0)) {
          const fromIndex = USERS.indexOf(bareOf(stanza.attrs.from));
          if (fromIndex < 0 || fromIndex === to || stanza.attrs.type === "error") continue;
          if (!blocks[fromIndex]?.has(u(to))) continue;
          const burst = justBlocked.has(`${fromIndex}>${to}`) && stanza.name === "presence" && stanza.attrs.type === "unavailable";
          assert.ok(burst || (stanza.name !== "presence" && stanza.name !== "message"),
            `${u(to)} received <${stanza.name} type=${stanza.attrs.type ?? "-"}> from ${stanza.attrs.from} who blocks them`);
        }
      }
    }
    for (const jid of USERS) {
      const live = ts.server.accountState(jid);
      assert.ok(live, `${jid}'s account actor is running`);
      const replayed = replayTo(ts.server.store.readStream(accountStreamId(jid))).state;
      assert.equal(plain(live as RosterState), plain(replayed), `${jid}: live state differs from its replayed events`);
      assert.equal(plain(live as RosterState), plain(world.state(jid)), `${jid}: server differs from the pure simulation`);
    }
    const checksums = ts.server.projectionChecksums();
    ts.server.store.rebuildProjections();
    assert.equal(ts.server.projectionChecksums(), checksums, "projections differ from a rebuild");
  } finally {
    for (const c of clients) c.destroy();
    await ts.stop();
  }
}

test("random conversations over real sockets keep every invariant", async () => {
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 10, maxLength: 40 }), runConversation),
    runs > 0 ? { numRuns: Math.max(1, Math.floor(runs / 10)) } : { numRuns: 15, seed: 191 });
});

test.run();
