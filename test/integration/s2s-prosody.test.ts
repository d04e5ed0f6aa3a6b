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
import { PASSWORD, User } from "../helpers/s2s-pair.js";

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
    await romeo.waitFor((s) => s.attrs.id === "roster", 15_000, "no roster");
    await juliet.waitFor((s) => s.attrs.id === "roster", 15_000, "no roster");

    // Romeo (Parley) asks Juliet (Prosody); she approves and asks back; he approves.
    romeo.write(`<presence to='juliet@${PROSODY_DOMAIN}' type='subscribe'/>`);
    const ask = await juliet.waitFor((s) => s.name === "presence" && s.attrs.type === "subscribe", 15_000, "no subscription request");
    assert.is(ask.attrs.from, "romeo@localhost");
    juliet.write("<presence to='romeo@localhost' type='subscribed'/><presence to='romeo@localhost' type='subscribe'/>");
    await romeo.waitFor((s) => s.name === "iq" && s.attrs.type === "set" &&
      s.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.subscription === "to", 15_000, "no Juliet's approval");
    await romeo.waitFor((s) => s.name === "presence" && s.attrs.from === `juliet@${PROSODY_DOMAIN}/balcony` && s.attrs.type === undefined, 15_000, "no Juliet's presence");
    await romeo.waitFor((s) => s.name === "presence" && s.attrs.type === "subscribe" && s.attrs.from === `juliet@${PROSODY_DOMAIN}`, 15_000, "no Juliet's request");
    romeo.write(`<presence to='juliet@${PROSODY_DOMAIN}' type='subscribed'/>`);
    await juliet.waitFor((s) => s.name === "presence" && s.attrs.from === "romeo@localhost/orchard" && s.attrs.type === undefined, 15_000, "no Romeo's presence");

    // Messages both ways.
    romeo.write(`<message to='juliet@${PROSODY_DOMAIN}' type='chat' id='p1'><body>From Parley</body></message>`);
    const m1 = await juliet.waitFor((s) => s.name === "message" && s.getChildText("body") === "From Parley", 15_000, "no Romeo's message");
    assert.is(m1.attrs.from, "romeo@localhost/orchard");
    juliet.write("<message to='romeo@localhost' type='chat' id='p2'><body>From Prosody</body></message>");
    const m2 = await romeo.waitFor((s) => s.name === "message" && s.getChildText("body") === "From Prosody", 15_000, "no Juliet's message");
    assert.is(m2.attrs.from, `juliet@${PROSODY_DOMAIN}/balcony`);

    // Presence changes flow.
    juliet.write("<presence><show>away</show></presence>");
    await romeo.waitFor((s) => s.name === "presence" && s.getChildText("show") === "away", 15_000, "no Juliet away");

    // Quiet for a second: Parley pings prosody.test; the answer, on Prosody's stream, is matched and the stream stays.
    const pings = () => parley?.server.s2s?.outgoingPings()[`localhost ${PROSODY_DOMAIN}`];
    const deadline = Date.now() + 8000;
    while ((pings()?.answered ?? 0) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok((pings()?.answered ?? 0) >= 1, `Prosody answered no ping: ${JSON.stringify(pings())}`);
    assert.is(parley.server.s2s?.outgoingStates()[`localhost ${PROSODY_DOMAIN}`], "ready");
    assert.equal(romeo.stanzas().filter((s) => (s.attrs.id ?? "").startsWith("s2s-ping-")), [], "no ping answer reaches a user");

    // Romeo blocks Juliet: her messages no longer reach him and she is told (XEP-0191 §3.5).
    romeo.write(`<iq type='set' id='blk'><block xmlns='urn:xmpp:blocking'><item jid='juliet@${PROSODY_DOMAIN}'/></block></iq>`);
    await romeo.waitFor((s) => s.attrs.id === "blk" && s.attrs.type === "result", 15_000, "no block result");
    romeo.raw.clear();
    juliet.write("<message to='romeo@localhost' type='chat' id='p3'><body>Blocked?</body></message>");
    const bounced = await juliet.waitFor((s) => s.name === "message" && s.attrs.id === "p3" && s.attrs.type === "error", 15_000, "no the bounce");
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
