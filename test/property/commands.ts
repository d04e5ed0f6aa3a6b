// Random commands for the property tests: subscription stanzas, roster
// changes and blocks among `users` accounts (by index).
import fc from "fast-check";
import type { Command } from "./subscription-world.js";

export function commandArbitrary(users: number, blockWeight = 1): fc.Arbitrary<Command> {
  const user = fc.integer({ min: 0, max: users - 1 });
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant("presence" as const), from: user, to: user, type: fc.constantFrom("subscribe", "subscribed", "unsubscribe", "unsubscribed") }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("rosterSet" as const), owner: user, contact: user, name: fc.constantFrom("A", "B") }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("rosterRemove" as const), owner: user, contact: user }) },
    { weight: blockWeight, arbitrary: fc.record({ kind: fc.constant("block" as const), owner: user, contact: user }) },
    { weight: blockWeight, arbitrary: fc.record({ kind: fc.constant("unblock" as const), owner: user, contact: fc.oneof(user, fc.constant("all" as const)) }) },
  );
}
