// RFC 6121 §4.2.2 and §4.5.2 for an account with many subscribers: the
// broadcast goes out in bounded batches, one per event-loop turn (so other
// users are not held up), and still reaches every subscriber exactly once,
// in the order the user sent its presence: the last word each gets is the
// last the user said.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { accountStreamId, type NewEvent } from "../../src/events/types.js";

const SUBSCRIBERS = 1_300; // thirteen batches of the presence module's 100
const ONLINE = new Map([[0, "first"], [650, "middle"], [SUBSCRIBERS - 1, "last"]]);

test("a broadcast to 1,300 subscribers reaches each online one exactly once; a newer one replaces the rest of an older one, in order", async () => {
  const accounts = [{ jid: "star@localhost", password: "pw" }, ...[...ONLINE.values()].map((n) => ({ jid: `${n}@localhost`, password: "pw" }))];
  // No time budget per turn (stanza-pacer.ts): with one, the second presence of
  // one read may be handed over a turn later, and this test is about the
  // presence module's own batches, one per turn.
  const ts = await startTestServer({ accounts, configure: (c) => { c.limits.turnBudgetMs = 0; } });
  try {
    // The star's roster: every contact asked for its presence and was approved (subscription 'from').
    const at = new Date().toISOString();
    const events: NewEvent[] = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const jid = `${ONLINE.get(i) ?? `fan${i}`}@localhost`;
      const by = { kind: "contact" as const, jid };
      events.push(
        { type: "RosterItemSet", payload: { jid, groups: [] }, meta: { by: { kind: "user", resource: "setup" }, at } },
        { type: "SubscriptionRequestReceived", payload: { jid, stanza: `<presence type='subscribe' from='${jid}'/>` }, meta: { by, at } },
        { type: "ContactApproved", payload: { jid }, meta: { by: { kind: "user", resource: "setup" }, at } },
      );
    }
    const stream = accountStreamId("star@localhost");
    ts.server.store.append(stream, ts.server.store.streamVersion(stream), events);

    const fans: RawClient[] = [];
    for (const name of ONLINE.values()) {
      const c = await RawClient.connect(ts.port);
      await c.login(name, "pw", "phone");
      c.write("<presence/>");
      await c.sync(`ready-${name}`);
      c.clear();
      fans.push(c);
    }
    const star = await RawClient.connect(ts.port);
    await star.login("star", "pw", "stage");
    const fromStar = (c: RawClient) => [...c.text.matchAll(/<presence[^>]*from=['"]star@localhost\/stage['"][\s\S]*?<\/presence>/g)].map((m) => m[0]);
    const unavailable = /<presence(?=[^>]*from=['"]star@localhost\/stage['"])(?=[^>]*type=['"]unavailable['"])[^>]*>/;

    // One broadcast: every batch goes out, each online subscriber gets it once.
    star.write("<presence><status>on</status></presence>");
    for (const [i, c] of fans.entries()) {
      await c.waitFor(/<status>on<\/status>/);
      await c.sync(`on-${i}`);
      assert.is(fromStar(c).length, 1, `subscriber ${i} gets the available presence once`);
      c.clear();
    }

    // Two at once: the second replaces what is left of the first. Each subscriber's
    // last word is 'off'; those the first had not reached yet get only 'off'.
    star.write("<presence><status>busy</status></presence><presence type='unavailable'><status>off</status></presence>");
    for (const [i, c] of fans.entries()) {
      await c.waitFor(unavailable);
      await c.sync(`off-${i}`);
      const got = fromStar(c);
      assert.ok(got.length === 1 || got.length === 2, `subscriber ${i}: ${got.join(" ")}`);
      assert.match(got.at(-1) as string, /<status>off<\/status>/, `subscriber ${i} hears 'off' last`);
      if (got.length === 2) assert.match(got[0] as string, /<status>busy<\/status>/);
    }
    // Both stanzas came in one read and were handled in one turn: only the first
    // batch of 100 had the 'busy' before 'off' replaced it (bounded work per turn).
    assert.equal(fans.map((c) => fromStar(c).length), [2, 1, 1], "first batch: both; later batches: only the newer");
    for (const c of [...fans, star]) c.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
