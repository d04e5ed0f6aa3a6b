// Fuzzing the stanza handlers over a real socket: a logged-in client sends
// random stanzas — odd types, odd addresses, unknown payloads, subscription
// and blocking requests with strange JIDs. The server must keep answering,
// and every account's live state must equal its replayed events.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { ScansionClient } from "../../src/scansion/client.js";
import { escapeAttr, escapeText } from "../../src/xml/serialize.js";
import { startTestServer } from "../helpers/test-server.js";
import { replayTo } from "../../src/replay/replay.js";
import { accountStreamId } from "../../src/events/types.js";

const runs = Number(process.env.PARLEY_PROPERTY_RUNS ?? 0);
const USERS = ["romeo@localhost", "juliet@localhost"];

const address = fc.oneof(
  fc.constantFrom("juliet@localhost", "juliet@localhost/x", "romeo@localhost", "localhost", "nobody@localhost",
    "x@elsewhere.example", "localhost/res", "@localhost", "a@b@c", "juliet@localhost/", "JULIET@LOCALHOST", ""),
  fc.string({ maxLength: 12 }),
);
const type = fc.oneof(fc.constantFrom(undefined, "get", "set", "result", "error", "chat", "normal", "headline", "groupchat",
  "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "unavailable"), fc.string({ maxLength: 6 }));
const payload = fc.constantFrom(
  "", "<body>hi</body>", "<ping xmlns='urn:xmpp:ping'/>", "<query xmlns='jabber:iq:roster'/>",
  "<query xmlns='jabber:iq:roster'><item jid='juliet@localhost' name='J'/></query>",
  "<query xmlns='jabber:iq:roster'><item jid='nurse@localhost' subscription='remove'/></query>",
  "<query xmlns='jabber:iq:roster'><item/></query>", "<block xmlns='urn:xmpp:blocking'><item jid='juliet@localhost'/></block>",
  "<block xmlns='urn:xmpp:blocking'><item jid='not a jid'/></block>", "<unblock xmlns='urn:xmpp:blocking'/>",
  "<blocklist xmlns='urn:xmpp:blocking'/>", "<query xmlns='http://jabber.org/protocol/disco#info'/>",
  "<query xmlns='jabber:iq:last'/>", "<unknown xmlns='urn:example:nothing'/>", "<a/><b/>", "<priority>-200</priority>",
  "<priority>x</priority>", "<query xmlns='jabber:iq:register'><username>romeo</username><password>r</password></query>",
);
const stanza = fc.record({ kind: fc.constantFrom("message", "presence", "iq"), to: fc.option(address), type, id: fc.option(fc.string({ maxLength: 4 })), payload })
  .map(({ kind, to, type: t, id, payload: p }) => {
    const attrs = [to !== null ? ` to='${escapeAttr(to)}'` : "", t !== undefined ? ` type='${escapeAttr(t)}'` : "", id !== null ? ` id='${escapeAttr(id)}'` : ""].join("");
    return `<${kind}${attrs}>${p || escapeText("")}</${kind}>`;
  });

test("random stanzas from logged-in users: the server keeps answering and live state equals the log", async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), stanza), { minLength: 5, maxLength: 40 }), async (sends) => {
    const ts = await startTestServer({ accounts: USERS.map((jid) => ({ jid, password: "r" })) });
    const clients = USERS.map((jid, i) => new ScansionClient(`u${i}`, jid, "r", "fuzz"));
    try {
      for (const c of clients) await c.connect("127.0.0.1", ts.port, 5000);
      for (const [who, xml] of sends) clients[who]?.send(xml);
      // Every client still gets answers: nothing crashed, no stream was broken by a stanza.
      for (const c of clients) await c.ping("localhost", 5000);
      for (const jid of USERS) {
        const live = ts.server.accountState(jid);
        if (!live) continue;
        const replayed = replayTo(ts.server.store.readStream(accountStreamId(jid))).state;
        assert.equal([...live.items.entries()].sort(), [...replayed.items.entries()].sort(), `${jid}: roster differs from the log`);
        assert.equal([...live.blocked].sort(), [...replayed.blocked].sort(), `${jid}: block list differs from the log`);
      }
      const checksums = ts.server.projectionChecksums();
      ts.server.store.rebuildProjections();
      assert.equal(ts.server.projectionChecksums(), checksums);
    } finally {
      for (const c of clients) c.destroy();
      await ts.stop();
    }
  }), runs > 0 ? { numRuns: Math.max(1, Math.floor(runs / 10)) } : { numRuns: 25, seed: 77 });
});

test.run();
