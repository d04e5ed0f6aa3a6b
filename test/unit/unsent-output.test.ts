// The unsent-output cap (src/net/unsent-output.ts): held output and the
// socket's buffer count together; the overflow is reported once.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { UnsentOutput } from "../../src/net/unsent-output.js";

test("held bytes and the socket's buffer count together; past the cap the overflow is reported once", () => {
  let buffered = 0;
  const overflows: number[] = [];
  const out = new UnsentOutput(100, () => buffered, (n) => overflows.push(n));
  assert.ok(out.hold(60));
  out.released(60);
  buffered = 60; // handed to the socket, which could not write it yet
  assert.is(out.unsent, 60);
  assert.ok(out.hold(40), "exactly at the cap is still within it");
  assert.not.ok(out.hold(1));
  assert.equal(overflows, [101]);
  assert.not.ok(out.hold(1), "once over, everything more is refused");
  assert.equal(overflows, [101], "and the overflow is not reported again");
  assert.ok(out.exceeded);
});

test("a socket that drains makes room again", () => {
  let buffered = 90;
  const out = new UnsentOutput(100, () => buffered, () => { throw new Error("no overflow expected"); });
  buffered = 0;
  assert.ok(out.hold(100));
});

test("the cap must be a positive whole number", () => {
  assert.throws(() => new UnsentOutput(0, () => 0, () => {}), /positive whole number/);
});

test.run();
