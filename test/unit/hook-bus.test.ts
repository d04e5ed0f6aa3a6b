// The hook bus: priorities, HANDLED, and one handler per IQ and priority.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { HookBus, HANDLED, HookConflictError } from "../../src/kernel/hooks.js";
import { el } from "../../src/xml/element.js";
import { parseJid } from "../../src/jid/jid.js";
import type { HostStanza } from "../../src/kernel/events.js";

const stanza: HostStanza = { stanza: el("message", "jabber:client"), from: parseJid("a@localhost/r"), to: parseJid("localhost") };

test("handlers run from the highest priority down, registration order breaking ties", () => {
  const bus = new HookBus();
  const seen: string[] = [];
  bus.on("message/host", () => { seen.push("low"); }, -5);
  bus.on("message/host", () => { seen.push("first at 0"); });
  bus.on("message/host", () => { seen.push("high"); }, 10);
  bus.on("message/host", () => { seen.push("second at 0"); });
  assert.is(bus.fire("message/host", stanza), false);
  assert.equal(seen, ["high", "first at 0", "second at 0", "low"]);
});

test("a handler that returns HANDLED stops the chain, and fire says so", () => {
  const bus = new HookBus();
  const seen: string[] = [];
  bus.on("message/host", () => { seen.push("filter"); return HANDLED; }, 100);
  bus.on("message/host", () => { seen.push("never"); });
  assert.is(bus.fire("message/host", stanza), true);
  assert.equal(seen, ["filter"]);
});

test("a second handler for one IQ at the same priority is an error naming both modules", () => {
  const bus = new HookBus();
  bus.on("iq-get/host/urn:xmpp:ping:ping", () => HANDLED, 0, "ping");
  try {
    bus.on("iq-get/host/urn:xmpp:ping:ping", () => HANDLED, 0, "other");
    assert.unreachable("registered twice");
  } catch (err) {
    assert.instance(err, HookConflictError);
    assert.match((err as Error).message, /other.*ping|ping.*other/);
  }
  // At another priority it is allowed (a module may wrap another's answer).
  bus.on("iq-get/host/urn:xmpp:ping:ping", () => undefined, 10, "other");
  assert.is(bus.describe().filter((d) => d.event === "iq-get/host/urn:xmpp:ping:ping").length, 2);
});

test("removing a handler takes it out of the chain", () => {
  const bus = new HookBus();
  const off = bus.on("message/host", () => HANDLED);
  assert.is(bus.fire("message/host", stanza), true);
  off();
  assert.is(bus.fire("message/host", stanza), false);
});

test.run();
