// Bounded turns (src/net/stanza-pacer.ts) and the read switch both read pauses
// share (src/net/rate-limiter.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StanzaPacer, TurnClock } from "../../src/net/stanza-pacer.js";
import { ReadSwitch } from "../../src/net/rate-limiter.js";
import type { StreamListener } from "../../src/xml/stream-parser.js";
import { el } from "../../src/xml/element.js";
import { NS } from "../../src/xmpp/namespaces.js";

const nextTurn = () => new Promise((r) => setImmediate(r));

function recorder() {
  const seen: string[] = [];
  const reads: string[] = [];
  const listener: StreamListener = {
    streamStart: () => seen.push("start"),
    stanza: (e) => seen.push(e.attrs.id ?? "?"),
    streamEnd: () => seen.push("end"),
    error: (err) => seen.push(`error:${err.condition}`),
  };
  return { seen, reads, listener, backlog: { hold: () => reads.push("hold"), release: () => reads.push("release") } };
}

test("at most perTurn stanzas a turn; the rest follow on later turns, in order, with reads held meanwhile", async () => {
  const r = recorder();
  const pacer = new StanzaPacer(r.listener, 10, r.backlog);
  pacer.streamStart({}, { ns: NS.stream, prefix: "stream", localName: "stream", defaultNs: NS.client });
  for (let i = 0; i < 25; i++) pacer.stanza(el("iq", NS.client, { id: `s${i}` }), 10);
  pacer.streamEnd();
  assert.equal(r.seen, ["start", ...Array.from({ length: 10 }, (_, i) => `s${i}`)]);
  assert.equal(r.reads, ["hold"]);
  assert.is(pacer.pending, 16);
  await nextTurn();
  assert.is(r.seen.length, 21, "ten more on the next turn");
  while (pacer.pending > 0) await nextTurn();
  assert.equal(r.seen, ["start", ...Array.from({ length: 25 }, (_, i) => `s${i}`), "end"]);
  assert.equal(r.reads, ["hold", "release"]);
});

test("stanzas within the budget go straight through, without holding reads", () => {
  const r = recorder();
  const pacer = new StanzaPacer(r.listener, 10, r.backlog);
  for (let i = 0; i < 10; i++) pacer.stanza(el("iq", NS.client, { id: `s${i}` }), 10);
  assert.is(r.seen.length, 10);
  assert.equal(r.reads, []);
});

test("a stream restart drops what the old stream still had queued, and releases reads", () => {
  const r = recorder();
  const pacer = new StanzaPacer(r.listener, 1, r.backlog);
  pacer.stanza(el("starttls", "urn:ietf:params:xml:ns:xmpp-tls", { id: "tls" }), 10);
  pacer.stanza(el("iq", NS.client, { id: "injected" }), 10);
  assert.equal(r.seen, ["tls"]);
  pacer.clear();
  assert.equal(r.reads, ["hold", "release"]);
  assert.is(pacer.pending, 0);
});

test("the transport's close reaches the session after the stanzas sent before it", async () => {
  const r = recorder();
  const pacer = new StanzaPacer(r.listener, 2, r.backlog);
  for (let i = 0; i < 5; i++) pacer.stanza(el("message", NS.client, { id: `m${i}` }), 10);
  pacer.then(() => r.seen.push("closed"));
  assert.equal(r.seen, ["m0", "m1"]);
  while (pacer.pending > 0) await nextTurn();
  assert.equal(r.seen, ["m0", "m1", "m2", "m3", "m4", "closed"]);
  // Once the session has closed the stream itself, nothing more is handed over, but the close still is.
  pacer.stop();
  pacer.stanza(el("message", NS.client, { id: "late" }), 10);
  pacer.then(() => r.seen.push("closed again"));
  assert.equal(r.seen.slice(-1), ["closed again"]);
});

test("a budget that is not a positive whole number is refused", () => {
  const r = recorder();
  assert.throws(() => new StanzaPacer(r.listener, 0, r.backlog), /positive whole number/);
});

test("past the loop's time budget, IQ sets wait for a later turn while messages still go through; each stream keeps its order", async () => {
  // Each IQ set costs 3 ms of the loop's time here, on a clock of the test's own; the budget is 4 ms a turn.
  let nowMs = 0;
  const seen: string[] = [];
  const listener = (costMs: number): StreamListener => ({
    streamStart: () => {},
    stanza: (e) => { seen.push(e.attrs.id ?? "?"); if (e.attrs.type === "set") nowMs += costMs; },
    streamEnd: () => {},
    error: () => {},
  });
  const reads = { hold: () => {}, release: () => {} };
  // A clock of this test's own: the process's is shared with every other pacer of the test run.
  const clock = new TurnClock(() => nowMs);
  const writer = new StanzaPacer(listener(3), 10, reads, 4, clock);
  const other = new StanzaPacer(listener(3), 10, reads, 4, clock);
  const chatter = new StanzaPacer(listener(0), 10, reads, 4, clock);
  await nextTurn();
  for (let i = 0; i < 4; i++) writer.stanza(el("iq", NS.client, { id: `set${i}`, type: "set" }), 10);
  other.stanza(el("iq", NS.client, { id: "other-set", type: "set" }), 10);
  other.stanza(el("message", NS.client, { id: "other-msg" }), 10);
  chatter.stanza(el("message", NS.client, { id: "chat" }), 10);
  assert.equal(seen, ["set0", "set1", "chat"], `two sets use up the budget; the other stream's set waits, the message goes on: ${seen.join(" ")}`);
  await nextTurn();
  // Next turn: both heads are sets, so the light pass hands nothing over; the writer's first set
  // goes through whatever the clock says, its next one within the budget, then the budget is spent.
  assert.equal(seen, ["set0", "set1", "chat", "set2", "set3"], `a later turn hands over at least one set: ${seen.join(" ")}`);
  while (writer.pending > 0 || other.pending > 0) await nextTurn();
  // The other stream's message waited behind its set, and follows it at once (light, within twice the budget).
  assert.equal(seen, ["set0", "set1", "chat", "set2", "set3", "other-set", "other-msg"], seen.join(" "));
});

test("a budget of 0 ms: no time budget, only the per-stream count", () => {
  const r = recorder();
  const pacer = new StanzaPacer(r.listener, 10, r.backlog, 0);
  for (let i = 0; i < 10; i++) pacer.stanza(el("iq", NS.client, { id: `s${i}`, type: "set" }), 10);
  assert.is(r.seen.length, 10);
  assert.throws(() => new StanzaPacer(r.listener, 10, r.backlog, -1), /zero or more milliseconds/);
});

test("ReadSwitch: reads resume only when neither the throttle nor the backlog holds them", () => {
  const calls: string[] = [];
  const s = new ReadSwitch(() => calls.push("pause"), () => calls.push("resume"));
  s.hold("throttle");
  s.hold("backlog");
  s.hold("backlog");
  s.release("backlog");
  assert.equal(calls, ["pause"], "the throttle still holds");
  s.release("throttle");
  assert.equal(calls, ["pause", "resume"]);
  s.release("throttle");
  assert.equal(calls, ["pause", "resume"], "releasing twice resumes once");
});

test.run();
