// XEP-0202 entity time, XEP-0012 last activity and XEP-0157 contact
// addresses, over real sockets.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

const ACCOUNTS = [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }, { jid: "paris@localhost", password: "p" }];

async function ask(c: RawClient, id: string, xml: string): Promise<string> {
  c.clear();
  c.write(xml);
  return c.waitFor(new RegExp(`<iq[^>]*id='${id}'[\\s\\S]*?(/>|</iq>)`));
}

test("entity time, server uptime and contact addresses", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.contactAddresses = { admin: ["xmpp:admin@localhost"], abuse: ["mailto:abuse@example.org"] }; } });
  try {
    const c = await RawClient.connect(ts.port);
    await c.login("romeo", "r");
    const time = await ask(c, "t", "<iq type='get' id='t' to='localhost'><time xmlns='urn:xmpp:time'/></iq>");
    const utc = /<utc>([^<]+)<\/utc>/.exec(time)?.[1] ?? "";
    assert.match(time, /<tzo>\+00:00<\/tzo>/);
    assert.ok(Math.abs(Date.parse(utc) - Date.now()) < 5000, `utc ${utc} is now`);
    const uptime = await ask(c, "u", "<iq type='get' id='u' to='localhost'><query xmlns='jabber:iq:last'/></iq>");
    assert.match(uptime, /<query xmlns='jabber:iq:last' seconds='\d+'\/>/);
    const info = await ask(c, "i", "<iq type='get' id='i' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    for (const f of ["urn:xmpp:time", "jabber:iq:last", "urn:xmpp:blocking"]) assert.match(info, new RegExp(`<feature var='${f}'/>`));
    assert.match(info, /<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>http:\/\/jabber.org\/network\/serverinfo<\/value><\/field>/);
    assert.match(info, /<field var='admin-addresses' type='list-multi'><value>xmpp:admin@localhost<\/value><\/field>/);
    assert.match(info, /<field var='abuse-addresses' type='list-multi'><value>mailto:abuse@example.org<\/value><\/field>/);
    c.destroy();
  } finally {
    await ts.stop();
  }
});

test("last activity of a user: for subscribers only; 0 while online; the time and status of the last logout after", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j");
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    // Juliet lets romeo see her presence.
    romeo.write("<presence type='subscribe' to='juliet@localhost'/>");
    await ask(romeo, "s1", "<iq type='get' id='s1'><ping xmlns='urn:xmpp:ping'/></iq>");
    juliet.write("<presence type='subscribed' to='romeo@localhost'/><presence/>");
    await ask(juliet, "s2", "<iq type='get' id='s2'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.match(await ask(romeo, "l1", "<iq type='get' id='l1' to='juliet@localhost'><query xmlns='jabber:iq:last'/></iq>"), /seconds='0'/);
    juliet.write("<presence type='unavailable'><status>Gone to bed</status></presence>");
    await ask(juliet, "s3", "<iq type='get' id='s3'><ping xmlns='urn:xmpp:ping'/></iq>");
    const last = await ask(romeo, "l2", "<iq type='get' id='l2' to='juliet@localhost'><query xmlns='jabber:iq:last'/></iq>");
    assert.match(last, /<query xmlns='jabber:iq:last' seconds='\d+'>Gone to bed<\/query>/);
    const paris = await RawClient.connect(ts.port);
    await paris.login("paris", "p");
    assert.match(await ask(paris, "l3", "<iq type='get' id='l3' to='juliet@localhost'><query xmlns='jabber:iq:last'/></iq>"), /<forbidden/);
    romeo.destroy();
    juliet.destroy();
    paris.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
