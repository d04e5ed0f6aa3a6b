// The session registry's sweep decides by the session machine's tags: the
// unauthenticated timeout applies while stream negotiation is not complete
// (tag `negotiating`), the idle timeout to every stream.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { StateValue } from "xstate";
import { SessionRegistry, type LiveSessionActor, type LiveTransport } from "../../src/net/session-registry.js";
import type { SessionEvent, SessionTag } from "../../src/actors/session-machine.js";
import { defaultConfig } from "../../src/config.js";

class FakeSession implements LiveSessionActor {
  received: SessionEvent["type"][] = [];
  constructor(private readonly value: StateValue, private readonly tags: SessionTag[]) {}
  getSnapshot() {
    return { value: this.value, hasTag: (tag: SessionTag) => this.tags.includes(tag) };
  }
  send(event: SessionEvent): void {
    this.received.push(event.type);
  }
}

const transport = (lastActivity: number): LiveTransport => ({
  lastActivity,
  closed: () => Promise.resolve(),
  destroy: () => {},
});

function registry(): SessionRegistry {
  const limits = { ...defaultConfig().limits, unauthenticatedTimeoutSeconds: 10, idleSeconds: 100 };
  return new SessionRegistry(limits);
}

test("a session still negotiating past the unauthenticated timeout is timed out; a bound one is not", async () => {
  const r = registry();
  const negotiating = new FakeSession("bindable", ["negotiating", "authenticated"]);
  const bound = new FakeSession("bound", ["authenticated", "bound"]);
  r.add("a", negotiating, transport(Date.now()), "192.0.2.1");
  r.add("b", bound, transport(Date.now()), "192.0.2.1");
  r.sweep(Date.now() + 11_000);
  assert.equal(negotiating.received, ["idle.timeout"]);
  assert.equal(bound.received, []);
  await r.closeAll();
});

test("any session silent for longer than idle-seconds is timed out", async () => {
  const r = registry();
  const bound = new FakeSession("bound", ["authenticated", "bound"]);
  r.add("b", bound, transport(Date.now()), "192.0.2.1");
  r.sweep(Date.now() + 101_000);
  assert.equal(bound.received, ["idle.timeout"]);
  await r.closeAll();
});

test("stateOf names a nested state by its path, and nothing once the session is forgotten", async () => {
  const r = registry();
  r.add("a", new FakeSession({ authenticating: "verifying" }, ["negotiating"]), transport(Date.now()), "192.0.2.1");
  assert.is(r.stateOf("a"), "authenticating.verifying");
  r.forget("a");
  assert.is(r.stateOf("a"), undefined);
  await r.closeAll();
});

test.run();
