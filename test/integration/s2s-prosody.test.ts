// Federation with a real peer: Debian's Prosody, started here on free ports
// with its own configuration directory (dialback on, s2s_secure_auth off,
// STARTTLS required with a self-signed certificate), serving prosody.test.
// Parley serves `localhost`, which Prosody resolves to 127.0.0.1 and reaches
// on port 5269; Parley reaches Prosody through [s2s.routes]. A user on each
// side subscribes to the other, messages and presence flow both ways, and a
// block on the Parley side holds. Without Prosody installed the test fails,
// saying so (apt-get install prosody).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { startFederatingProsody, type FederatingProsody } from "../helpers/prosody-s2s.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { RawClient } from "../helpers/raw-client.js";
import { parseStanzas } from "../helpers/xmpp-peer.js";
import type { XmlElement } from "../../src/xml/element.js";

const PASSWORD = "secret-password";
const PROSODY_DOMAIN = "prosody.test";

async function startProsody(): Promise<FederatingProsody> {
  return startFederatingProsody({
    domain: PROSODY_DOMAIN,
    setup: (config) => {
      const reg = spawnSync("prosodyctl", ["--config", config, "register", "juliet", PROSODY_DOMAIN, PASSWORD], { encoding: "utf8" });
      if (reg.status !== 0) throw new Error(`prosodyctl register: ${reg.stderr}`);
    },
  });
}

const header = (domain: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;

class User {
  private constructor(readonly raw: RawClient, readonly jid: string) {}

  static async login(port: number, user: string, domain: string, resource: string): Promise<User> {
    const raw = await RawClient.connect(port);
    raw.write(header(domain));
    await raw.waitFor(/<\/stream:features>/);
    raw.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${PASSWORD}`).toString("base64")}</auth>`);
    const outcome = await raw.waitFor(/<success|<failure/);
    if (!/<success/.test(outcome)) throw new Error(`login failed: ${outcome}`);
    raw.clear();
    raw.write(header(domain));
    await raw.waitFor(/<\/stream:features>/);
    raw.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const text = await raw.waitFor(/<jid>([^<]+)<\/jid>/);
    raw.clear();
    return new User(raw, (/<jid>([^<]+)<\/jid>/.exec(text) as RegExpExecArray)[1] as string);
  }

  write(xml: string): void {
    this.raw.write(xml);
  }

  stanzas(): XmlElement[] {
    // Prosody's stream header carries the content namespace; what follows parses the same way.
    const text = this.raw.text.replace(/^<\?xml[^>]*>\s*<stream:stream[^>]*>/, "");
    return parseStanzas(text);
  }

  async waitFor(what: string, pick: (s: XmlElement) => boolean, ms = 15_000): Promise<XmlElement> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.stanzas().find(pick);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`${this.jid}: no ${what} within ${ms} ms; received: ${this.raw.text}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  close(): void {
    this.raw.destroy();
  }
}

// `prosodyctl about` answers and exits; `prosody --version` would start a server.
const prosodyInstalled = spawnSync("prosodyctl", ["about"], { encoding: "utf8", timeout: 10_000 }).status === 0;

test("Parley and Prosody federate: subscriptions both ways, messages, presence, and a block that holds", async () => {
  if (!prosodyInstalled) throw new Error("prosody is not installed (apt-get install prosody)");
  const prosody = await startProsody();
  let parley: TestServer | undefined;
  try {
    parley = await startTestServer({
      accounts: [{ jid: "romeo@localhost", password: PASSWORD }],
      configure: (c) => {
        c.domains = ["localhost"];
        // Prosody finds `localhost` by its address record: port 5269 (RFC 6120 §3.2.2).
        c.s2s.port = 5269;
        c.s2s.routes = { [PROSODY_DOMAIN]: `127.0.0.1:${prosody.s2sPort}` };
        // XEP-0199 §4.3: pings on the quiet stream, which Prosody answers on its own stream to us.
        c.s2s.pingIntervalSeconds = 1;
        c.s2s.pingTimeoutSeconds = 5;
      },
    });
    const romeo = await User.login(parley.port, "romeo", "localhost", "orchard");
    const juliet = await User.login(prosody.c2sPort, "juliet", PROSODY_DOMAIN, "balcony");
    for (const u of [romeo, juliet]) u.write("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq><presence/>");
    await romeo.waitFor("roster", (s) => s.attrs.id === "roster");
    await juliet.waitFor("roster", (s) => s.attrs.id === "roster");

    // Romeo (Parley) asks Juliet (Prosody); she approves and asks back; he approves.
    romeo.write(`<presence to='juliet@${PROSODY_DOMAIN}' type='subscribe'/>`);
    const ask = await juliet.waitFor("subscription request", (s) => s.name === "presence" && s.attrs.type === "subscribe");
    assert.is(ask.attrs.from, "romeo@localhost");
    juliet.write("<presence to='romeo@localhost' type='subscribed'/><presence to='romeo@localhost' type='subscribe'/>");
    await romeo.waitFor("Juliet's approval", (s) => s.name === "iq" && s.attrs.type === "set" &&
      s.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.subscription === "to");
    await romeo.waitFor("Juliet's presence", (s) => s.name === "presence" && s.attrs.from === `juliet@${PROSODY_DOMAIN}/balcony` && s.attrs.type === undefined);
    await romeo.waitFor("Juliet's request", (s) => s.name === "presence" && s.attrs.type === "subscribe" && s.attrs.from === `juliet@${PROSODY_DOMAIN}`);
    romeo.write(`<presence to='juliet@${PROSODY_DOMAIN}' type='subscribed'/>`);
    await juliet.waitFor("Romeo's presence", (s) => s.name === "presence" && s.attrs.from === "romeo@localhost/orchard" && s.attrs.type === undefined);

    // Messages both ways.
    romeo.write(`<message to='juliet@${PROSODY_DOMAIN}' type='chat' id='p1'><body>From Parley</body></message>`);
    const m1 = await juliet.waitFor("Romeo's message", (s) => s.name === "message" && s.getChildText("body") === "From Parley");
    assert.is(m1.attrs.from, "romeo@localhost/orchard");
    juliet.write("<message to='romeo@localhost' type='chat' id='p2'><body>From Prosody</body></message>");
    const m2 = await romeo.waitFor("Juliet's message", (s) => s.name === "message" && s.getChildText("body") === "From Prosody");
    assert.is(m2.attrs.from, `juliet@${PROSODY_DOMAIN}/balcony`);

    // Presence changes flow.
    juliet.write("<presence><show>away</show></presence>");
    await romeo.waitFor("Juliet away", (s) => s.name === "presence" && s.getChildText("show") === "away");

    // Quiet for a second: Parley pings prosody.test; the answer, on Prosody's stream, is matched and the stream stays.
    const pings = () => parley?.server.s2s?.outgoingPings()[`localhost ${PROSODY_DOMAIN}`];
    const deadline = Date.now() + 8000;
    while ((pings()?.answered ?? 0) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok((pings()?.answered ?? 0) >= 1, `Prosody answered no ping: ${JSON.stringify(pings())}`);
    assert.is(parley.server.s2s?.outgoingStates()[`localhost ${PROSODY_DOMAIN}`], "ready");
    assert.equal(romeo.stanzas().filter((s) => (s.attrs.id ?? "").startsWith("s2s-ping-")), [], "no ping answer reaches a user");

    // Romeo blocks Juliet: her messages no longer reach him and she is told (XEP-0191 §3.5).
    romeo.write(`<iq type='set' id='blk'><block xmlns='urn:xmpp:blocking'><item jid='juliet@${PROSODY_DOMAIN}'/></block></iq>`);
    await romeo.waitFor("block result", (s) => s.attrs.id === "blk" && s.attrs.type === "result");
    romeo.raw.clear();
    juliet.write("<message to='romeo@localhost' type='chat' id='p3'><body>Blocked?</body></message>");
    const bounced = await juliet.waitFor("the bounce", (s) => s.name === "message" && s.attrs.id === "p3" && s.attrs.type === "error");
    assert.ok(bounced.getChild("error")?.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    assert.is(romeo.stanzas().filter((s) => s.getChildText("body") === "Blocked?").length, 0);
    romeo.close();
    juliet.close();
  } catch (err) {
    if (existsSync(prosody.logFile)) console.error(readFileSync(prosody.logFile, "utf8").split("\n").filter((l) => /s2s|dialback|error|warn/i.test(l)).slice(-40).join("\n"));
    throw err;
  } finally {
    await parley?.stop();
    await prosody.stop();
  }
});

test.run();
