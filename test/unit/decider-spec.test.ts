// The given/when/then helper itself: it passes what holds, fails what does
// not, and its failures say what was given, commanded and decided.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spec, type SpecDecider } from "../helpers/decider-spec.js";

/** A counter that refuses to go below zero. */
type Cmd = { kind: "add"; n: number };
type Ev = { type: "Added"; payload: { n: number } };
class Negative extends Error {
  readonly condition = "not-acceptable";
}
const counter: SpecDecider<Cmd, number, Ev, { max: number }> = {
  initialState: 0,
  evolve: (s, e) => s + e.payload.n,
  decide: (c, s, ctx) => {
    if (s + c.n < 0) throw new Negative(`${s} + ${c.n} is below zero`);
    if (s + c.n > ctx.max) return { events: [], effects: ["capped"] };
    return { events: [{ type: "Added", payload: { n: c.n } }], effects: [] };
  },
};
const added = (n: number): Ev => ({ type: "Added", payload: { n } });
const s = spec(counter, { max: 10 });

function failure(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    return (err as Error).message;
  }
  assert.unreachable("the spec should have failed");
  return "";
}

test("what holds passes, chained", () => {
  s.given([added(2)]).when({ kind: "add", n: 3 }).then([added(3)]).thenEffects([]).thenState(5).thenState((n) => n === 5, "five");
  s.when({ kind: "add", n: 11 }).then([]).thenEffects(["capped"]);
  s.given([added(1)]).when({ kind: "add", n: -2 }).thenThrows(Negative).thenThrows("not-acceptable").thenThrows((e) => e instanceof Negative);
});

test("a test may return an outcome: awaiting it resolves, it is not compared", async () => {
  // uvu awaits what a test returns; `await` calls then(resolve, reject).
  const outcome: unknown = s.when({ kind: "add", n: 1 }).then([added(1)]);
  assert.is(await Promise.resolve(outcome), undefined);
});

test("wrong events fail, naming the history and the command", () => {
  const message = failure(() => s.given([added(2)]).when({ kind: "add", n: 3 }).then([added(4)]));
  assert.match(message, /given \[Added\] when \{"kind":"add","n":3\}: the events decided/);
});

test("an unexpected throw fails every then* with the error; an expected one that does not come fails too", () => {
  assert.match(failure(() => s.given([added(1)]).when({ kind: "add", n: -2 }).then([])), /decide threw Error: 1 \+ -2 is below zero/);
  assert.match(failure(() => s.when({ kind: "add", n: 1 }).thenThrows(Negative)), /expected an error \(Negative\), but decided events \[\{"type":"Added"/);
  assert.match(failure(() => s.given([added(1)]).when({ kind: "add", n: -2 }).thenThrows("bad-request")), /condition "not-acceptable", not bad-request/);
});

test("wrong state and effects fail, showing what there was", () => {
  assert.match(failure(() => s.when({ kind: "add", n: 1 }).thenState((n) => n === 2, "two")), /the state 1 is not two/);
  assert.match(failure(() => s.when({ kind: "add", n: 11 }).thenEffects((fx) => fx.length === 0, "empty")), /effects \["capped"\] are not empty/);
});

test.run();
