// Account actors start on demand and stop when idle; a stopped account's
// state comes back from its events when it is needed again.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

test("an account actor stops after its last session has been gone for accountIdleSeconds, and restarts with its roster", async () => {
  const ts = await startTestServer({
    accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }],
    configure: (c) => { c.accountIdleSeconds = 1; },
  });
  try {
    assert.is(ts.server.accountState("romeo@localhost"), undefined, "no actor before anyone needs it");
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='juliet@localhost' name='J'/></query></iq>");
    await romeo.waitFor(/id='add'/);
    assert.ok(ts.server.accountState("romeo@localhost"), "running while a session is bound");
    romeo.write("</stream:stream>");
    await romeo.waitClosed();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(ts.server.accountState("romeo@localhost"), "still running right after the session ended");
    await new Promise((r) => setTimeout(r, 1200));
    assert.is(ts.server.accountState("romeo@localhost"), undefined, "stopped after being idle");

    // A message for the stopped account starts it again (and is stored offline).
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j");
    juliet.write("<message type='chat' to='romeo@localhost'><body>wake up</body></message>");
    juliet.write("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>");
    await juliet.waitFor(/id='sync'/);
    assert.is(ts.server.accountState("romeo@localhost")?.items.get("juliet@localhost")?.name, "J", "the roster is folded back from the log");
    juliet.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
