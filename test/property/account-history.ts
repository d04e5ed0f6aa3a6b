// Random account histories for the snapshot and history tests: the
// subscription world's conversations (the server's own decisions) with
// account deletions and re-registrations mixed in, as the account streams the
// server would store, with password changes. Each step's events are one
// append to one stream.
import fc from "fast-check";
import { World, type Command } from "./subscription-world.js";
import { commandArbitrary } from "./commands.js";
import { emptyRosterState } from "../../src/roster/roster-types.js";
import type { NewEvent } from "../../src/events/types.js";

export type Step = { kind: "command"; command: Command } | { kind: "delete"; user: number } | { kind: "password"; user: number };

export function stepArbitrary(users: number): fc.Arbitrary<Step> {
  const user = fc.integer({ min: 0, max: users - 1 });
  return fc.oneof(
    { weight: 12, arbitrary: commandArbitrary(users).map((command): Step => ({ kind: "command", command })) },
    { weight: 1, arbitrary: user.map((u): Step => ({ kind: "delete", user: u })) },
    { weight: 1, arbitrary: user.map((u): Step => ({ kind: "password", user: u })) },
  );
}

/** A distinct (fake) SCRAM credential per event, so the account part of the state changes visibly. */
const credentials = (n: number) => [{ hash: "SHA-256", salt: `salt${n}`, iterations: 4096, storedKey: `stored${n}`, serverKey: `server${n}` }];

export interface Append {
  user: string;
  events: NewEvent[];
}

const by = { kind: "admin" as const, tool: "test" };

function registered(jid: string, n: number): NewEvent {
  return { type: "AccountRegistered", payload: { jid, credentials: credentials(n) }, meta: { by, at: at(n) } };
}

/** Times one millisecond apart, so time points are meaningful too. */
export function at(n: number): string {
  return new Date(Date.parse("2026-11-24T12:00:00.000Z") + n).toISOString();
}

/**
 * The appends the steps make, in order: each account registered first; a
 * deletion is AccountDeleted then AccountRegistered (the account begins
 * again, empty, in the same stream).
 */
export function historyOf(users: readonly string[], steps: readonly Step[]): Append[] {
  const world = new World([...users]);
  const appends: Append[] = [];
  let n = 0;
  for (const u of users) appends.push({ user: u, events: [registered(u, n++)] });
  for (const step of steps) {
    if (step.kind === "password") {
      const u = users[step.user] as string;
      appends.push({ user: u, events: [{ type: "PasswordChanged", payload: { jid: u, credentials: credentials(n) }, meta: { by, at: at(n++) } }] });
      continue;
    }
    if (step.kind === "delete") {
      const u = users[step.user] as string;
      world.states.set(u, emptyRosterState);
      appends.push({ user: u, events: [
        { type: "AccountDeleted", payload: { jid: u, reason: "test" }, meta: { by, at: at(n++) } },
        registered(u, n++),
      ] });
      continue;
    }
    const before = new Map(users.map((u) => [u, world.logs.get(u)?.length ?? 0]));
    world.run(step.command);
    // The world commits per account in the order it decides; one append per account touched.
    for (const u of users) {
      const log = world.logs.get(u) ?? [];
      const fresh = log.slice(before.get(u));
      if (fresh.length === 0) continue;
      const time = at(n++);
      appends.push({ user: u, events: fresh.map((e) => ({ type: e.type, payload: e.payload, meta: { by: { kind: "user" as const, resource: "r" }, at: time } })) });
    }
  }
  return appends;
}
