// The per-connection token bucket for client stanzas.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TokenBucket } from "../../src/net/rate-limiter.js";

test("a burst is free, then reads are throttled for as long as the debt takes to repay, then a flood", () => {
  const b = new TokenBucket(10, 5, 0);
  for (let i = 0; i < 5; i++) assert.equal(b.charge(0), { kind: "ok" });
  assert.equal(b.charge(0), { kind: "throttle", waitMs: 100 });
  assert.equal(b.charge(0), { kind: "throttle", waitMs: 200 });
  // Time repays the debt at `rate` tokens a second.
  assert.equal(b.charge(1000), { kind: "ok" });
  for (let i = 0; i < 4; i++) b.charge(1000);
  for (let i = 0; i < 5; i++) assert.is(b.charge(1000).kind, "throttle");
  assert.is(b.charge(1000).kind, "flood", "a debt beyond another burst is a flood");
});

test.run();
