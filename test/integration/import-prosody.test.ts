// `parley import-prosody` (issue 20, part 3) on a data directory written by a
// real Prosody: Debian's package started here on a free port, its users made
// in-band, rosters, subscriptions, a block list, an offline message and a
// conversation made over XMPP. Then the users log in to Parley with the same
// passwords and find their rosters, pending requests, block list, offline
// message and archive.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient, HEADER, scramSha256 } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { PARLEY_BIN } from "../helpers/server-process.js";
import { prosodyBinary, startProsody } from "../helpers/prosody.js";
import { populateProsody, PROSODY_USERS, PHOTO } from "../helpers/prosody-population.js";

function parley(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PARLEY_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    child.once("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

/** A SCRAM-SHA-1 login (RFC 5802 §5) on an open stream; resolves with the outcome element's text. */
async function scramSha1(c: RawClient, user: string, password: string): Promise<string> {
  const h = (key: Buffer, data: string) => createHmac("sha1", key).update(data).digest();
  const cnonce = randomBytes(18).toString("base64");
  const first = `n=${user},r=${cnonce}`;
  c.clear();
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${Buffer.from(`n,,${first}`).toString("base64")}</auth>`);
  const text = await c.waitFor(/<challenge[^>]*>([^<]+)<\/challenge>|<failure/);
  const m = /<challenge[^>]*>([^<]+)<\/challenge>/.exec(text);
  if (!m) return text;
  const serverFirst = Buffer.from(m[1] as string, "base64").toString();
  const fields = new Map(serverFirst.split(",").map((kv) => [kv[0] as string, kv.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(fields.get("s") ?? "", "base64"), Number(fields.get("i")), 20, "sha1");
  const clientKey = h(salted, "Client Key");
  const withoutProof = `c=biws,r=${fields.get("r")}`;
  const authMessage = `${first},${serverFirst},${withoutProof}`;
  const signature = h(createHash("sha1").update(clientKey).digest(), authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number))).toString("base64");
  c.clear();
  c.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${withoutProof},p=${proof}`).toString("base64")}</response>`);
  const done = await c.waitFor(/<success[^>]*>([^<]*)<\/success>|<failure[\s\S]*<\/failure>/);
  const ok = /<success[^>]*>([^<]*)<\/success>/.exec(done);
  if (ok) {
    const expected = h(h(salted, "Server Key"), authMessage).toString("base64");
    assert.is(Buffer.from(ok[1] as string, "base64").toString(), `v=${expected}`, "the server proves it holds Prosody's ServerKey");
  }
  return done;
}

const installed = prosodyBinary() !== undefined;

test("a Prosody user base moves to Parley: same passwords, rosters, pending requests, block list, offline message, archive", async () => {
  if (!installed) throw new Error("this test needs Debian's prosody package (apt-get install -y prosody; .ci/run installs it)");
  const work = mkdtempSync(path.join(os.tmpdir(), "parley-import-prosody-"));
  const prosody = await startProsody(path.join(work, "prosody"));
  try {
    await populateProsody(prosody.port);
  } catch (err) {
    await prosody.stop();
    throw new Error(`${(err as Error).message}\nProsody's log:\n${prosody.log().slice(-4000)}`);
  }
  await prosody.stop();
  const dataDir = path.join(work, "parley");
  try {
    const dry = await parley(["import-prosody", prosody.dataDir, "--data", dataDir, "--dry-run"]);
    assert.is(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /would import: 4 accounts/);
    const run = await parley(["import-prosody", prosody.dataDir, "--data", dataDir]);
    assert.is(run.status, 0, run.stderr);
    assert.match(run.stdout, /imported: 4 accounts, 4 roster items, 2 pending subscription requests, 2 blocked JIDs, 1 offline messages, 6 archived messages, 1 vCards, 1 private XML elements, 2 PEP nodes with 2 items/);
    assert.match(run.stdout, /SCRAM-SHA-1 keys only/);
    assert.match(run.stdout, /registration details/, "what is not imported is named");
    assert.not.match(run.stdout, /vCard storage|private storage/);
    const again = await parley(["import-prosody", prosody.dataDir, "--data", dataDir]);
    assert.is(again.status, 0, again.stderr);
    assert.match(again.stdout, /imported: 0 accounts/);
    assert.match(again.stdout, /romeo@localhost: already an account here/);
    const verified = await parley(["verify", "--data", dataDir]);
    assert.is(verified.status, 0, verified.stdout + verified.stderr);
    const events = await parley(["events", "--data", dataDir, "--account", "romeo@localhost", "--json"]);
    assert.ok(events.stdout.trim().split("\n").every((l) => (JSON.parse(l) as { meta: { by: { reason?: string } } }).meta.by.reason === "imported from Prosody"));

    const ts = await startTestServer({ dataDir });
    try {
      // SCRAM-SHA-1 with Prosody's own keys: the same password works.
      const c = await RawClient.connect(ts.port);
      c.write(HEADER());
      await c.waitFor(/<\/stream:features>/);
      assert.match(await scramSha1(c, "romeo", PROSODY_USERS.romeo), /<success/);
      c.destroy();
      const wrong = await RawClient.connect(ts.port);
      wrong.write(HEADER());
      await wrong.waitFor(/<\/stream:features>/);
      assert.match(await scramSha1(wrong, "romeo", "not the password"), /not-authorized/);
      // SCRAM-SHA-256 cannot work: Prosody kept no SHA-256 keys.
      const sha256 = await scramSha256(wrong, "romeo", PROSODY_USERS.romeo).then(() => "success", (err: Error) => err.message);
      assert.match(sha256, /SCRAM failed: .*not-authorized/);
      wrong.destroy();

      // PLAIN is checked against the SHA-1 keys; the roster and block list are Prosody's.
      const romeo = await RawClient.connect(ts.port);
      await romeo.login("romeo", PROSODY_USERS.romeo, "orchard");
      romeo.write("<iq type='get' id='ro'><query xmlns='jabber:iq:roster'/></iq>");
      const roster = await romeo.waitFor(/id='ro'[\s\S]*<\/iq>/);
      assert.match(roster, /<item[^>]*jid='juliet@localhost'[^>]*>/);
      assert.match(roster, /jid='juliet@localhost'[^>]*subscription='both'|subscription='both'[^>]*jid='juliet@localhost'/);
      assert.match(roster, /<group>Capulets<\/group>/);
      assert.match(roster, /name='Juliet'/);
      assert.match(roster, /jid='nurse@localhost'[^>]*ask='subscribe'|ask='subscribe'[^>]*jid='nurse@localhost'/);
      romeo.clear();
      romeo.write("<iq type='get' id='bl'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
      const blocked = await romeo.waitFor(/id='bl'[\s\S]*<\/iq>/);
      assert.match(blocked, /tybalt@localhost/);
      assert.match(blocked, /montague\.example/);
      // Benvolio's request, made to Prosody, is delivered again at login (RFC 6121 §3.1.3).
      romeo.clear();
      romeo.write("<presence/>");
      await romeo.waitFor(/from='benvolio@localhost'[^>]*type='subscribe'|type='subscribe'[^>]*from='benvolio@localhost'/);
      // The archive Prosody's mod_mam kept (XEP-0313).
      romeo.clear();
      romeo.write("<iq type='set' id='mam'><query xmlns='urn:xmpp:mam:2' queryid='q'/></iq>");
      const mam = await romeo.waitFor(/id='mam'[^>]*type='result'|type='result'[^>]*id='mam'/);
      assert.is((mam.match(/<result /g) ?? []).length, 3, mam);
      assert.match(mam, /Juliet is the sun/);
      assert.match(mam, /wherefore art thou Romeo/);
      // The vCard (XEP-0054) and private XML (XEP-0049) Prosody kept.
      romeo.clear();
      romeo.write("<iq type='get' id='vc'><vCard xmlns='vcard-temp'/></iq>");
      const card = await romeo.waitFor(/id='vc'[\s\S]*<\/iq>/);
      assert.match(card, /<FN>Romeo Montague<\/FN>/);
      assert.ok(card.includes(PHOTO));
      romeo.clear();
      romeo.write("<iq type='get' id='pv'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>");
      assert.match(await romeo.waitFor(/id='pv'[\s\S]*<\/iq>/), /<defaultnick>Romeo<\/defaultnick>/);
      // PEP (XEP-0163): the bookmarks node keeps its whitelist and many items; the legacy view (XEP-0048) shows it too.
      romeo.clear();
      romeo.write("<iq type='get' id='pb'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>");
      const bookmarks = await romeo.waitFor(/id='pb'[\s\S]*<\/iq>/);
      // (Prosody's files keep attributes in Lua's table order, which varies from run to run.)
      const conference = /<item id='capulets@conference\.localhost'><conference xmlns='urn:xmpp:bookmarks:1'([^>]*)><nick>Romeo<\/nick>/.exec(bookmarks);
      assert.ok(conference, bookmarks);
      assert.match(conference[1] as string, / name='The Capulet feast'/);
      assert.match(conference[1] as string, / autojoin='true'/);
      assert.not.match(bookmarks, /stamp=/, "Prosody's storage stamp is not part of the item");
      romeo.clear();
      romeo.write("<iq type='get' id='lb'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
      assert.match(await romeo.waitFor(/id='lb'[\s\S]*<\/iq>/), /<conference[^>]*jid='capulets@conference\.localhost'/);
      romeo.destroy();
      // A contact reads the nickname node (access model presence: juliet is subscribed).
      const juliet = await RawClient.connect(ts.port);
      await juliet.login("juliet", PROSODY_USERS.juliet, "balcony");
      juliet.write("<iq type='get' id='nk' to='romeo@localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub></iq>");
      assert.match(await juliet.waitFor(/id='nk'[\s\S]*<\/iq>/), /<nick xmlns='http:\/\/jabber\.org\/protocol\/nick'>Romeo<\/nick>/);
      juliet.write("<iq type='get' id='nb' to='romeo@localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>");
      assert.match(await juliet.waitFor(/id='nb'[^>]*type='error'[\s\S]*<\/iq>|type='error'[^>]*id='nb'[\s\S]*<\/iq>/), /<not-allowed [^>]*\/><closed-node /, `the whitelist holds (XEP-0060 §6.5.9.1): ${juliet.text}`);
      juliet.destroy();

      // The nurse gets the message sent to her while she was offline at Prosody, with its time.
      const nurse = await RawClient.connect(ts.port);
      await nurse.login("nurse", PROSODY_USERS.nurse, "kitchen");
      nurse.write("<presence/>");
      const delivered = await nurse.waitFor(/Friar Laurence's cell[\s\S]*<\/message>|Friar Laurence&apos;s cell[\s\S]*<\/message>/);
      assert.match(delivered, /<delay xmlns='urn:xmpp:delay'[^>]*stamp='\d{4}-\d\d-\d\dT/);
      assert.not.match(delivered, /stanza-id[^>]*by='nurse@localhost'/, "Prosody's own stanza-id is not passed on");
      nurse.destroy();
    } finally {
      await ts.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("import-prosody refuses a directory that is not there, and a data directory a server runs on", async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), "parley-import-prosody-"));
  const ts = await startTestServer();
  try {
    const missing = await parley(["import-prosody", path.join(work, "nope"), "--data", path.join(work, "d")]);
    assert.is(missing.status, 1);
    assert.match(missing.stderr, /is not a directory/);
    const running = await parley(["import-prosody", work, "--data", ts.dataDir]);
    assert.is(running.status, 1);
    assert.match(running.stderr, /a server is running on .*: stop it first/);
  } finally {
    await ts.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
