// Property-based tests (fast-check) of the roster, subscription and blocking
// decisions: random conversations among several users. Bounded and seeded in
// `npm test`; PARLEY_PROPERTY_RUNS=N runs longer with a random seed (printed
// by fast-check on failure, with the shrunk counterexample).
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { World, type Command } from "./subscription-world.js";
import { commandArbitrary } from "./commands.js";
import { emptyRosterState, type RosterState } from "../../src/roster/roster-types.js";
import { foldRoster } from "../../src/roster/roster-evolve.js";

const USERS = ["alice@localhost", "bob@localhost", "carol@localhost"];
const runs = Number(process.env.PARLEY_PROPERTY_RUNS ?? 0);
const settings: fc.Parameters<[Command[]]> = runs > 0 ? { numRuns: runs } : { numRuns: 300, seed: 6121 };

const command = commandArbitrary(USERS.length);

function plain(s: RosterState) {
  return {
    items: [...s.items.entries()].sort(),
    pendingIn: [...s.pendingIn.entries()].sort(),
    blocked: [...s.blocked].sort(),
    version: s.version,
  };
}

test("live state always equals the state replayed from the account's events", () => {
  fc.assert(fc.property(fc.array(command, { minLength: 20, maxLength: 80 }), (commands) => {
    const world = new World(USERS);
    for (const c of commands) world.run(c);
    for (const u of USERS) {
      const replayed = foldRoster(world.logs.get(u) ?? [], emptyRosterState);
      assert.equal(plain(replayed), plain(world.state(u)));
    }
  }), settings);
});

test("every roster item is always in one of the RFC 6121 Appendix A states", () => {
  fc.assert(fc.property(fc.array(command, { minLength: 20, maxLength: 80 }), (commands) => {
    const world = new World(USERS);
    for (const c of commands) {
      world.run(c);
      for (const u of USERS) {
        const s = world.state(u);
        for (const item of s.items.values()) {
          assert.ok(["none", "to", "from", "both"].includes(item.subscription));
          // Pending out exists only in None and From (A.1: "None + Pending Out", "From + Pending Out").
          if (item.ask) assert.ok(item.subscription === "none" || item.subscription === "from", `${u}: ${item.jid} ${item.subscription} + pending out`);
          assert.not.equal(item.jid, u, "nobody is their own contact");
        }
        for (const jid of s.pendingIn.keys()) {
          // Pending in exists only in None and To.
          const sub = s.items.get(jid)?.subscription ?? "none";
          assert.ok(sub === "none" || sub === "to", `${u}: ${jid} ${sub} + pending in`);
        }
      }
    }
  }), settings);
});

test("a completed handshake in both directions ends as both/both unless someone blocked or cancelled", () => {
  fc.assert(fc.property(fc.constantFrom(0, 1, 2), fc.constantFrom(0, 1, 2), (a, b) => {
    fc.pre(a !== b);
    const world = new World(USERS);
    world.run({ kind: "presence", from: a, to: b, type: "subscribe" });
    world.run({ kind: "presence", from: b, to: a, type: "subscribed" });
    world.run({ kind: "presence", from: b, to: a, type: "subscribe" });
    world.run({ kind: "presence", from: a, to: b, type: "subscribed" });
    assert.is(world.state(USERS[a] as string).items.get(USERS[b] as string)?.subscription, "both");
    assert.is(world.state(USERS[b] as string).items.get(USERS[a] as string)?.subscription, "both");
  }), { numRuns: 20, seed: 1 });
});

test.run();
