// Fills a running Prosody over XMPP the way users would: in-band
// registration, roster items, subscriptions both ways and pending, a block
// list, a message to an offline user and a conversation (archived by MAM).
import { RawClient, HEADER } from "./raw-client.js";

export const PROSODY_USERS = {
  romeo: "wherefore art thou",
  juliet: "a rose by any name",
  nurse: "anon anon madam",
  benvolio: "part fools put up",
} as const;

/** A 1×1 PNG, base64. */
export const PHOTO = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

async function register(port: number, user: string, password: string): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    c.write(HEADER());
    await c.waitFor(/<\/stream:features>/);
    c.clear();
    c.write(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${user}</username><password>${password}</password></query></iq>`);
    const text = await c.waitFor(/id=['"]reg['"]/);
    if (!/type=['"]result['"]/.test(text)) throw new Error(`registering ${user} at Prosody failed: ${text}`);
  } finally {
    c.destroy();
  }
}

async function login(port: number, user: string, resource: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.login(user, PROSODY_USERS[user as keyof typeof PROSODY_USERS], resource);
  return c;
}

/** Waits until an IQ with this id is answered with a result. */
async function iq(c: RawClient, id: string, xml: string): Promise<void> {
  c.write(xml);
  const text = await c.waitFor(new RegExp(`id=['"]${id}['"][^>]*type=['"](result|error)|type=['"](result|error)['"][^>]*id=['"]${id}['"]`));
  if (new RegExp(`id=['"]${id}['"][^>]*type=['"]error|type=['"]error['"][^>]*id=['"]${id}['"]`).test(text)) throw new Error(`${id} failed: ${text}`);
}

export async function populateProsody(port: number): Promise<void> {
  for (const [user, password] of Object.entries(PROSODY_USERS)) await register(port, user, password);
  const romeo = await login(port, "romeo", "orchard");
  const juliet = await login(port, "juliet", "balcony");
  try {
    romeo.write("<presence/>");
    juliet.write("<presence/>");
    await iq(romeo, "r1", "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='juliet@localhost' name='Juliet'><group>Capulets</group><group>Love</group></item></query></iq>");
    // romeo ⇄ juliet: both.
    romeo.write("<presence to='juliet@localhost' type='subscribe'/>");
    await juliet.waitFor(/type=['"]subscribe['"]/);
    juliet.write("<presence to='romeo@localhost' type='subscribed'/>");
    juliet.write("<presence to='romeo@localhost' type='subscribe'/>");
    await romeo.waitFor(/from=['"]juliet@localhost['"][^>]*type=['"]subscribe['"]|type=['"]subscribe['"][^>]*from=['"]juliet@localhost['"]/);
    romeo.write("<presence to='juliet@localhost' type='subscribed'/>");
    await romeo.sync("s1");
    await juliet.sync("s2");
    // romeo asks the nurse, who is offline: pending out for romeo, pending in for the nurse.
    romeo.write("<presence to='nurse@localhost' type='subscribe'/>");
    // benvolio asks romeo, unanswered: pending in for romeo.
    const benvolio = await login(port, "benvolio", "square");
    benvolio.write("<presence to='romeo@localhost' type='subscribe'/>");
    await benvolio.sync("s3");
    benvolio.destroy();
    // A vCard with a photo (XEP-0054, XEP-0153) and a private element (XEP-0049 §3.1's example).
    await iq(romeo, "v1", `<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Romeo Montague</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${PHOTO}</BINVAL></PHOTO></vCard></iq>`);
    await iq(romeo, "p1", "<iq type='set' id='p1'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>Romeo</defaultnick></exodus></query></iq>");
    // PEP (XEP-0163): a nickname (XEP-0172) and a bookmark (XEP-0402, whitelist, many items).
    await iq(romeo, "n1", "<iq type='set' id='n1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'><item id='current'><nick xmlns='http://jabber.org/protocol/nick'>Romeo</nick></item></publish></pubsub></iq>");
    await iq(romeo, "k1", "<iq type='set' id='k1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='capulets@conference.localhost'><conference xmlns='urn:xmpp:bookmarks:1' name='The Capulet feast' autojoin='true'><nick>Romeo</nick></conference></item></publish>" +
      "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
      "<field var='pubsub#persist_items'><value>true</value></field><field var='pubsub#max_items'><value>max</value></field>" +
      "<field var='pubsub#send_last_published_item'><value>never</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options></pubsub></iq>");
    await iq(romeo, "b1", "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='tybalt@localhost'/><item jid='montague.example'/></block></iq>");
    // A message to the offline nurse, and a conversation MAM archives.
    romeo.write("<message to='nurse@localhost' type='chat' id='o1'><body>tell her to meet me at Friar Laurence's cell</body></message>");
    romeo.write("<message to='juliet@localhost' type='chat' id='c1'><body>It is the east, and Juliet is the sun</body></message>");
    await juliet.waitFor(/Juliet is the sun/);
    juliet.write("<message to='romeo@localhost' type='chat' id='c2'><body>O Romeo, Romeo! wherefore art thou Romeo?</body></message>");
    await romeo.waitFor(/wherefore art thou Romeo/);
    await romeo.sync("s4");
    await juliet.sync("s5");
  } finally {
    romeo.destroy();
    juliet.destroy();
  }
}
