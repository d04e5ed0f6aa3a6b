// The per-connection token bucket for client stanzas, and the read pause it drives.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TokenBucket, ReadPause } from "../../src/net/rate-limiter.js";

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

test("ReadPause pauses once, stretches to the largest debt, and resumes once", async () => {
  const calls: string[] = [];
  const pause = new ReadPause(() => calls.push("pause"), () => calls.push("resume"));
  const started = Date.now();
  pause.for(30);
  pause.for(10); // owes less: the running pause already covers it
  pause.for(80); // owes more: the pause is stretched
  assert.equal(calls, ["pause"]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls, ["pause"], "not resumed at the first deadline");
  while (calls.length < 2 && Date.now() - started < 1000) await new Promise((r) => setTimeout(r, 5));
  assert.equal(calls, ["pause", "resume"]);
  assert.ok(Date.now() - started >= 75, `resumed after ${Date.now() - started} ms`);
});

test.run();
