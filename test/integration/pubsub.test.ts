// Publish-subscribe over real sockets, beyond Prosody's scripts: a node's
// configuration, subscriptions and items survive a restart (configuration as
// events on the node's stream, items in pubsub_items trimmed to max_items),
// the [pubsub] bounds answer with their XEP-0060 errors, and XEP-0153's photo
// hash rides on presence once the vCard has a photo.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { XmlElement } from "../../src/xml/element.js";
import { startTestServer } from "../helpers/test-server.js";
import { Peer, barrier } from "../helpers/xmpp-peer.js";

const PUBSUB = "http://jabber.org/protocol/pubsub";
const OWNER = "http://jabber.org/protocol/pubsub#owner";
const ERRORS = "http://jabber.org/protocol/pubsub#errors";
const ACCOUNTS = [
  { jid: "admin@localhost", password: "balthasar" },
  { jid: "juliet@localhost", password: "capulet1" },
];

const publish = (id: string, node: string, itemId: string, text: string, to = "pubsub.localhost") =>
  `<iq type='set' id='${id}' to='${to}'><pubsub xmlns='${PUBSUB}'><publish node='${node}'><item id='${itemId}'><entry xmlns='http://www.w3.org/2005/Atom'><title>${text}</title></entry></item></publish></pubsub></iq>`;

const itemIds = (reply: XmlElement) =>
  reply.getChild("pubsub", PUBSUB)?.getChild("items", PUBSUB)?.getChildren("item", PUBSUB).map((i) => i.attrs.id) ?? [];

function errorOf(reply: XmlElement): { condition: string | undefined; app: string | undefined } {
  const error = reply.getChild("error");
  const children = error?.getChildren() ?? [];
  return {
    condition: children.find((c) => c.ns === "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name !== "text")?.name,
    app: children.find((c) => c.ns === ERRORS)?.name,
  };
}

test("a node's configuration, subscription and newest items survive a restart; the configuration is on the node's stream", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-pubsub-"));
  try {
    const first = await startTestServer({ accounts: ACCOUNTS, dataDir, configure: (c) => { c.admins = ["admin@localhost"]; } });
    try {
      const admin = await Peer.login(first.port, "admin", "balthasar", "desk");
      const juliet = await Peer.login(first.port, "juliet", "capulet1", "balcony");
      assert.is((await admin.iq(`<iq type='set' id='c1' to='pubsub.localhost'><pubsub xmlns='${PUBSUB}'><create node='news'/></pubsub></iq>`, "c1")).attrs.type, "result");
      const configured = await admin.iq(`<iq type='set' id='cfg' to='pubsub.localhost'><pubsub xmlns='${OWNER}'><configure node='news'><x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>
        <field var='pubsub#title'><value>Verona news</value></field><field var='pubsub#max_items'><value>2</value></field></x></configure></pubsub></iq>`, "cfg");
      assert.is(configured.attrs.type, "result");
      assert.is((await juliet.iq(`<iq type='set' id='s1' to='pubsub.localhost'><pubsub xmlns='${PUBSUB}'><subscribe node='news' jid='${juliet.jid}'/></pubsub></iq>`, "s1")).attrs.type, "result");
      for (const n of [1, 2, 3]) assert.is((await admin.iq(publish(`p${n}`, "news", `i${n}`, `Story ${n}`), `p${n}`)).attrs.type, "result");
      await barrier([admin, juliet]);
      assert.equal(juliet.messages().length, 3, "Juliet heard each publication");
      admin.close();
      juliet.close();
      const types = first.server.store.readStream("pubsub:pubsub.localhost/news").map((e) => e.type);
      assert.equal(types, ["PubsubNodeCreated", "PubsubNodeConfigured", "PubsubSubscriptionChanged"]);
    } finally {
      await first.server.stop();
    }

    const second = await startTestServer({ dataDir, configure: (c) => { c.admins = ["admin@localhost"]; } });
    try {
      const admin = await Peer.login(second.port, "admin", "balthasar", "desk");
      const juliet = await Peer.login(second.port, "juliet", "capulet1", "balcony");
      // max_items 2: the oldest went when the third came.
      const items = await admin.iq(`<iq type='get' id='g1' to='pubsub.localhost'><pubsub xmlns='${PUBSUB}'><items node='news'/></pubsub></iq>`, "g1");
      assert.equal(itemIds(items), ["i2", "i3"]);
      const disco = await admin.iq(`<iq type='get' id='d1' to='pubsub.localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`, "d1");
      assert.equal(disco.getChild("query")?.getChildren("item").map((i) => [i.attrs.node, i.attrs.name]), [["news", "Verona news"]]);
      // Juliet's subscription (to the resource she had) still stands.
      assert.is((await admin.iq(publish("p4", "news", "i4", "Story 4"), "p4")).attrs.type, "result");
      await barrier([admin, juliet]);
      const heard = juliet.messages().map((m) => m.getChild("event", `${PUBSUB}#event`)?.getChild("items")?.getChild("item")?.attrs.id);
      assert.equal(heard, ["i4"]);
      admin.close();
      juliet.close();
      const live = second.server.projectionChecksums();
      second.server.store.rebuildProjections();
      assert.equal(second.server.projectionChecksums(), live, "the pubsub tables equal a rebuild from the log");
    } finally {
      await second.server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("[pubsub] bounds: subscriptions and affiliations per node, payload-too-big, too many PEP nodes, a max_items beyond the limit, an oversized vCard", async () => {
  const ts = await startTestServer({
    accounts: ACCOUNTS,
    configure: (c) => {
      c.admins = ["admin@localhost"];
      c.pubsub.maxItemBytes = 300; c.pubsub.maxNodesPerAccount = 2; c.pubsub.maxItems = 5; c.pubsub.maxVcardBytes = 200; c.pubsub.maxSubscriptionsPerNode = 2;
    },
  });
  try {
    const admin = await Peer.login(ts.port, "admin", "balthasar", "desk");
    await admin.iq(`<iq type='set' id='c1' to='pubsub.localhost'><pubsub xmlns='${PUBSUB}'><create node='news'/></pubsub></iq>`, "c1");
    const subscribe = (p: Peer, id: string) => p.iq(`<iq type='set' id='${id}' to='pubsub.localhost'><pubsub xmlns='${PUBSUB}'><subscribe node='news' jid='${p.jid}'/></pubsub></iq>`, id);
    const phone = await Peer.login(ts.port, "juliet", "capulet1", "phone");
    assert.is((await subscribe(admin, "s1")).attrs.type, "result");
    assert.is((await subscribe(phone, "s2")).attrs.type, "result");
    const balconyFirst = await Peer.login(ts.port, "juliet", "capulet1", "balcony-0");
    assert.is(errorOf(await subscribe(balconyFirst, "s3")).condition, "policy-violation", "a third subscription is over max_subscriptions_per_node");
    const affiliate = (id: string, jid: string) =>
      admin.iq(`<iq type='set' id='${id}' to='pubsub.localhost'><pubsub xmlns='${OWNER}'><affiliations node='news'><affiliation jid='${jid}' affiliation='member'/></affiliations></pubsub></iq>`, id);
    assert.is((await affiliate("a1", "juliet@localhost")).attrs.type, "result");
    assert.is(errorOf(await affiliate("a2", "romeo@localhost")).condition, "policy-violation", "a third affiliation is over the bound too");
    for (const p of [admin, phone, balconyFirst]) p.close();
    const juliet = await Peer.login(ts.port, "juliet", "capulet1", "balcony");
    const big = await juliet.iq(publish("big", "urn:example:a", "x", "y".repeat(400), "juliet@localhost"), "big");
    assert.equal(errorOf(big), { condition: "not-acceptable", app: "payload-too-big" });
    for (const node of ["urn:example:a", "urn:example:b"]) {
      assert.is((await juliet.iq(publish(`ok-${node}`, node, "x", "small", "juliet@localhost"), `ok-${node}`)).attrs.type, "result");
    }
    const third = await juliet.iq(publish("third", "urn:example:c", "x", "small", "juliet@localhost"), "third");
    assert.is(errorOf(third).condition, "policy-violation");
    const tooMany = await juliet.iq(`<iq type='set' id='mx'><pubsub xmlns='${OWNER}'><configure node='urn:example:a'><x xmlns='jabber:x:data' type='submit'>
      <field var='pubsub#max_items'><value>6</value></field></x></configure></pubsub></iq>`, "mx");
    assert.is(errorOf(tooMany).condition, "not-acceptable");
    const vcard = await juliet.iq(`<iq type='set' id='vc'><vCard xmlns='vcard-temp'><DESC>${"z".repeat(300)}</DESC></vCard></iq>`, "vc");
    assert.is(errorOf(vcard).condition, "not-acceptable");
    juliet.close();
  } finally {
    await ts.stop();
  }
});

test("XEP-0153 and XEP-0398: a vCard photo's SHA-1 rides on presence and is the PEP avatar; a PEP avatar becomes the vCard photo", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const juliet = await Peer.login(ts.port, "juliet", "capulet1", "balcony");
    const photo = Buffer.from("not really a PNG, but bytes all the same");
    const set = await juliet.iq(`<iq type='set' id='vc'><vCard xmlns='vcard-temp'><FN>Juliet</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${photo.toString("base64")}</BINVAL></PHOTO></vCard></iq>`, "vc");
    assert.is(set.attrs.type, "result");
    await juliet.available();
    const echo = juliet.stanzas().find((s) => s.name === "presence" && s.attrs.from === juliet.jid);
    const hash = createHash("sha1").update(photo).digest("hex");
    assert.is(echo?.getChild("x", "vcard-temp:x:update")?.getChildText("photo", "vcard-temp:x:update"), hash);
    // XEP-0398 §3: the photo is the PEP avatar too, data and metadata keyed by its hash.
    const meta = await juliet.iq(`<iq type='get' id='m1'><pubsub xmlns='${PUBSUB}'><items node='urn:xmpp:avatar:metadata'/></pubsub></iq>`, "m1");
    const info = meta.getChild("pubsub", PUBSUB)?.getChild("items", PUBSUB)?.getChild("item", PUBSUB)?.getChild("metadata", "urn:xmpp:avatar:metadata")?.getChild("info", "urn:xmpp:avatar:metadata");
    assert.equal([info?.attrs.id, info?.attrs.bytes, info?.attrs.type], [hash, String(photo.length), "image/png"]);
    const data = await juliet.iq(`<iq type='get' id='d1'><pubsub xmlns='${PUBSUB}'><items node='urn:xmpp:avatar:data'><item id='${hash}'/></items></pubsub></iq>`, "d1");
    assert.is(data.getChild("pubsub", PUBSUB)?.getChild("items", PUBSUB)?.getChild("item", PUBSUB)?.getChildText("data", "urn:xmpp:avatar:data"), photo.toString("base64"));

    // XEP-0398 §4: an avatar published on PEP (XEP-0084 §4.1, data then metadata) becomes the vCard's photo.
    const other = Buffer.from("another picture entirely");
    const otherHash = createHash("sha1").update(other).digest("hex");
    assert.is((await juliet.iq(`<iq type='set' id='a1'><pubsub xmlns='${PUBSUB}'><publish node='urn:xmpp:avatar:data'><item id='${otherHash}'><data xmlns='urn:xmpp:avatar:data'>${other.toString("base64")}</data></item></publish></pubsub></iq>`, "a1")).attrs.type, "result");
    assert.is((await juliet.iq(`<iq type='set' id='a2'><pubsub xmlns='${PUBSUB}'><publish node='urn:xmpp:avatar:metadata'><item id='${otherHash}'><metadata xmlns='urn:xmpp:avatar:metadata'><info id='${otherHash}' bytes='${other.length}' type='image/jpeg'/></metadata></item></publish></pubsub></iq>`, "a2")).attrs.type, "result");
    const card = await juliet.iq(`<iq type='get' id='v2'><vCard xmlns='vcard-temp'/></iq>`, "v2");
    const vc = card.getChild("vCard", "vcard-temp");
    assert.is(vc?.getChildText("FN", "vcard-temp"), "Juliet", "the rest of the vCard is kept");
    assert.equal([vc?.getChild("PHOTO", "vcard-temp")?.getChildText("TYPE", "vcard-temp"), vc?.getChild("PHOTO", "vcard-temp")?.getChildText("BINVAL", "vcard-temp")], ["image/jpeg", other.toString("base64")]);
    juliet.close();
  } finally {
    await ts.stop();
  }
});

test("a deleted account's PEP nodes go, and so do its subscriptions and affiliations at the service", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.admins = ["admin@localhost"]; } });
  try {
    const admin = await Peer.login(ts.port, "admin", "balthasar", "desk");
    const juliet = await Peer.login(ts.port, "juliet", "capulet1", "balcony");
    await admin.iq(`<iq type='set' id='c1' to='pubsub.localhost'><pubsub xmlns='${PUBSUB}'><create node='news'/></pubsub></iq>`, "c1");
    await admin.iq(`<iq type='set' id='a1' to='pubsub.localhost'><pubsub xmlns='${OWNER}'><affiliations node='news'><affiliation jid='juliet@localhost' affiliation='publisher'/></affiliations></pubsub></iq>`, "a1");
    await juliet.iq(`<iq type='set' id='s1' to='pubsub.localhost'><pubsub xmlns='${PUBSUB}'><subscribe node='news' jid='${juliet.jid}'/></pubsub></iq>`, "s1");
    assert.is((await juliet.iq(publish("p1", "urn:example:diary", "today", "Romeo", "juliet@localhost"), "p1")).attrs.type, "result");
    juliet.write(`<iq type='set' id='bye'><query xmlns='jabber:iq:register'><remove/></query></iq>`);
    const ownerView = async () => {
      const subs = await admin.iq(`<iq type='get' id='subs' to='pubsub.localhost'><pubsub xmlns='${OWNER}'><subscriptions node='news'/></pubsub></iq>`, "subs");
      admin.clear();
      return subs.getChild("pubsub", OWNER)?.getChild("subscriptions", OWNER)?.getChildren("subscription", OWNER).length ?? -1;
    };
    let remaining = await ownerView();
    for (let i = 0; i < 40 && remaining !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      remaining = await ownerView();
    }
    assert.is(remaining, 0, "Juliet's subscription ended with her account");
    const diary = ts.server.store.readStream("pubsub:juliet@localhost/urn:example:diary").map((e) => e.type);
    assert.equal(diary, ["PubsubNodeCreated", "PubsubNodeDeleted"]);
    const news = ts.server.store.readStream("pubsub:pubsub.localhost/news").map((e) => e.type);
    assert.equal(news.slice(-2).sort(), ["PubsubAffiliationChanged", "PubsubSubscriptionChanged"]);
    const rows = ts.server.store.db.prepare("SELECT count(*) AS n FROM pubsub_items WHERE service = 'juliet@localhost'").get() as { n: number };
    assert.is(rows.n, 0, "her items went too");
    admin.close();
  } finally {
    await ts.stop();
  }
});

test.run();
