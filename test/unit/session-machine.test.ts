// The session machine driven directly, with a recording stream port and a
// fake environment: every transition a client can cause, and what the
// client would observe on the wire.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createActor, waitFor } from "xstate";
import { pbkdf2Sync } from "node:crypto";
import { sessionMachine, saslFailureDelayMs, type SessionEvent } from "../../src/actors/session-machine.js";
import type { StreamPort } from "../../src/actors/stream-port.js";
import type { SessionEnvironment } from "../../src/actors/session-environment.js";
import type { AccountCommand } from "../../src/actors/account-types.js";
import { defaultConfig } from "../../src/config.js";
import { Logger } from "../../src/util/logger.js";
import { el, type XmlElement } from "../../src/xml/element.js";
import { serialize } from "../../src/xml/serialize.js";
import { NS } from "../../src/xmpp/namespaces.js";
import { deriveScramCredential, digest, hmac, type ScramCredential } from "../../src/sasl/credentials.js";
import { parseJid } from "../../src/jid/jid.js";
import type { SessionRef } from "../../src/actors/session-types.js";
import { ManagedStreamRegistry } from "../../src/actors/stream-management.js";

class RecordingPort implements StreamPort {
  out: string[] = [];
  closed = false;
  resets = 0;
  constructor(readonly isLoopback = true, readonly remoteAddress = "127.0.0.1") {}
  secure = false;
  canStartTls = false;
  startTls(): void { this.out.push("<starttls>"); }
  channelBindings(): Record<string, Buffer> { return {}; }
  openStream(from: string): void { this.out.push(`<stream from=${from}>`); }
  sendStanza(s: XmlElement): void { this.out.push(serialize(s, NS.client)); }
  sendStreamError(condition: string): void { this.out.push(`<stream:error ${condition}>`); }
  sendStreamClose(): void { this.out.push("</stream>"); }
  resetParser(): void { this.resets++; }
  close(): void { this.closed = true; }
  get text(): string { return this.out.join("\n"); }
}

const failuresNoted: [string, string | undefined][] = [];

const CREDENTIALS = {
  "SHA-256": deriveScramCredential("pw", "SHA-256", 4096),
  "SHA-1": deriveScramCredential("pw", "SHA-1", 4096),
};

function environment(accountEvents: AccountCommand[], credentials: Record<"SHA-1" | "SHA-256", ScramCredential> = CREDENTIALS): SessionEnvironment {
  return {
    config: defaultConfig(),
    log: new Logger("silent"),
    defaultDomain: "localhost",
    servesDomain: (d) => d === "localhost",
    mechanismsFor: () => ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"],
    mayAuthenticate: (conn) => conn.secure || conn.isLoopback,
    credentialLookup: () => (user, hash) => (user === "romeo" ? credentials[hash] : undefined),
    account: () => ({
      send(command: AccountCommand) {
        accountEvents.push(command);
        if (command.type === "session.bind") {
          command.session.send({ type: "bind.result", jid: parseJid(`romeo@localhost/${command.requestedResource ?? "gen"}`) });
        }
      },
    }),
    noteAuthFailure: (address, account) => { failuresNoted.push([address, account]); },
    authFailuresFor: () => 0,
    accountLockedFor: () => 0,
    sessionClosed: () => {},
    moduleFeatures: () => [],
    preAuthRegistration: (_domain, iq, _address) => iq,
    sasl2Inline: () => [],
    fastMechanismsFor: () => [],
    createFastMechanism: () => undefined,
    fastAfterSuccess: () => undefined,
    bind2Resource: (_user, userAgent, tag) => `${tag ?? "parley"}.${userAgent ?? "random"}`,
  };
}

const header = (attrs: Record<string, string> = { to: "localhost", version: "1.0" }): SessionEvent => ({
  type: "xml.streamStart", attrs, ns: NS.stream, localName: "stream", defaultNs: NS.client,
});
const stanza = (s: XmlElement): SessionEvent => ({ type: "xml.stanza", stanza: s });
const plainAuth = (password: string) =>
  stanza(el("auth", NS.sasl, { mechanism: "PLAIN" }, Buffer.from(`\0romeo\0${password}`).toString("base64")));
const bindIq = (resource?: string) =>
  stanza(el("iq", NS.client, { type: "set", id: "b1" }, el("bind", NS.bind, {}, resource ? el("resource", NS.bind, {}, resource) : undefined)));

function start(port = new RecordingPort(), accountEvents: AccountCommand[] = [], env = environment(accountEvents)) {
  const actor = createActor(sessionMachine, { input: { sessionId: "s1", conn: port, env } });
  actor.start();
  return { actor, port, accountEvents };
}

/** Sends PLAIN and waits for its outcome, which is checked off the event loop. */
async function authenticate(actor: ReturnType<typeof start>["actor"], password: string): Promise<void> {
  actor.send(plainAuth(password));
  await waitFor(actor, (s) => !s.matches("authenticating"), { timeout: 5000 });
}

async function bound() {
  const s = start();
  s.actor.send(header());
  await authenticate(s.actor, "pw");
  s.actor.send(header());
  s.actor.send(bindIq("balcony"));
  return s;
}

test("a valid header opens the stream and offers mechanisms", () => {
  const { actor, port } = start();
  actor.send(header());
  assert.is(actor.getSnapshot().value, "streamOpen");
  assert.match(port.text, /<stream from=localhost>/);
  assert.match(port.text, /<mechanism>PLAIN<\/mechanism>/);
});

test("a header for another host is rejected with host-unknown and the socket closed", () => {
  const { actor, port } = start();
  actor.send(header({ to: "example.org", version: "1.0" }));
  assert.is(actor.getSnapshot().status, "done");
  assert.match(port.text, /<stream:error host-unknown>/);
  assert.ok(port.closed);
});

test("a message before authentication is not-authorized", () => {
  const { actor, port } = start();
  actor.send(header());
  actor.send(stanza(el("message", NS.client, { to: "juliet@localhost" })));
  assert.is(actor.getSnapshot().value, "closing");
  assert.match(port.text, /<stream:error not-authorized>/);
});

test("PLAIN success resets the parser and waits for the new header", async () => {
  const { actor, port } = start();
  actor.send(header());
  await authenticate(actor, "pw");
  assert.is(actor.getSnapshot().value, "authenticated");
  assert.match(port.text, /<success xmlns=['"]urn:ietf:params:xml:ns:xmpp-sasl['"]/);
  assert.is(port.resets, 1);
});

test("a wrong password leads to authFailed and, after the delay, back to streamOpen", async () => {
  const { actor, port } = start();
  actor.send(header());
  await authenticate(actor, "nope");
  assert.is(actor.getSnapshot().value, "authFailed");
  await new Promise((r) => setTimeout(r, saslFailureDelayMs(1) + 50));
  assert.is(actor.getSnapshot().value, "streamOpen");
  assert.match(port.text, /<not-authorized\/>/);
});

test("a failed login is counted for the address and for the account the client named", async () => {
  failuresNoted.length = 0;
  const { actor } = start();
  actor.send(header());
  await authenticate(actor, "wrong");
  await new Promise((r) => setTimeout(r, saslFailureDelayMs(1) + 50));
  assert.equal(failuresNoted, [["127.0.0.1", "romeo@localhost"]]);
});

test("a refused channel-binding downgrade (gs2 'y' while -PLUS is offered) is reported at once and not counted", async () => {
  failuresNoted.length = 0;
  const port = new RecordingPort();
  port.secure = true;
  port.channelBindings = () => ({ "tls-exporter": Buffer.alloc(32, 1) });
  const env = { ...environment([]), mechanismsFor: () => ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"], authFailuresFor: () => 10 };
  const { actor } = start(port, [], env);
  actor.send(header());
  for (let i = 0; i < 3; i++) {
    actor.send(stanza(el("auth", NS.sasl, { mechanism: "SCRAM-SHA-256" }, Buffer.from("y,,n=romeo,r=abcdefgh").toString("base64"))));
    // authFailuresFor says 10 earlier failures: a counted failure would wait saslFailureDelayMs(10), 5 s.
    await waitFor(actor, (s) => s.matches("streamOpen"), { timeout: 500 });
  }
  assert.is((port.text.match(/<not-authorized\/>/g) ?? []).length, 3);
  assert.equal(failuresNoted, [], "nothing noted for the address or the account");
  assert.is(actor.getSnapshot().context.authFailures, 0);
});

test("the failure delay grows with each failure and is capped", () => {
  assert.ok(saslFailureDelayMs(2) > saslFailureDelayMs(1));
  assert.ok(saslFailureDelayMs(3) > saslFailureDelayMs(2));
  assert.is(saslFailureDelayMs(50), 5000);
  assert.is(saslFailureDelayMs(0), 0);
});

test("authentication from a non-loopback address without TLS is refused with encryption-required", async () => {
  const { actor, port } = start(new RecordingPort(false, "192.0.2.7"));
  actor.send(header());
  await authenticate(actor, "pw");
  await new Promise((r) => setTimeout(r, 20));
  assert.match(port.text, /<encryption-required\/>/);
  assert.is(actor.getSnapshot().value, "streamOpen");
});

const sasl2Plain = (password: string, ...extra: XmlElement[]) =>
  stanza(el("authenticate", NS.sasl2, { mechanism: "PLAIN" },
    el("initial-response", NS.sasl2, {}, Buffer.from(`\0romeo\0${password}`).toString("base64")), ...extra));

test("SASL2 PLAIN without Bind2: success with the bare JID, no stream restart, then classic bind", async () => {
  const { actor, port } = start();
  actor.send(header());
  port.out = [];
  actor.send(sasl2Plain("pw"));
  await waitFor(actor, (s) => !s.matches("sasl2"), { timeout: 5000 });
  assert.is(actor.getSnapshot().value, "bindable");
  assert.match(port.text, /<success[^>]*><authorization-identifier>romeo@localhost<\/authorization-identifier><\/success>/);
  assert.match(port.text, /<bind[^>]*xmpp-bind[^>]*\/>/, "the post-auth features follow at once");
  actor.send(bindIq("balcony"));
  assert.is(actor.getSnapshot().value, "bound");
});

test("SASL2 with Bind2: the account binds the resource derived from the user agent, success names the full JID", async () => {
  const { actor, port, accountEvents } = start();
  actor.send(header());
  actor.send(sasl2Plain("pw", el("user-agent", NS.sasl2, { id: "d4565fa7" }), el("bind", NS.bind2, {}, el("tag", NS.bind2, {}, "phone"))));
  await waitFor(actor, (s) => s.matches("bound"), { timeout: 5000 });
  const bind = accountEvents.find((c) => c.type === "session.bind");
  assert.is(bind?.type === "session.bind" ? bind.requestedResource : undefined, "phone.d4565fa7");
  assert.match(port.text, /<authorization-identifier>romeo@localhost\/phone.d4565fa7<\/authorization-identifier><bound xmlns='urn:xmpp:bind:0'\/><\/success>/);
});

test("SASL2 failure is SASL2's <failure/> with the RFC 6120 condition, and the client may try again", async () => {
  const { actor, port } = start();
  actor.send(header());
  actor.send(sasl2Plain("wrong"));
  await waitFor(actor, (s) => s.matches("streamOpen"), { timeout: 8000 });
  assert.match(port.text, /<failure xmlns='urn:xmpp:sasl:2'><not-authorized[^>]*\/>/);
  assert.not.match(port.text, /<success/);
});

test("a stanza before binding is not-authorized", async () => {
  const { actor, port } = start();
  actor.send(header());
  await authenticate(actor, "pw");
  actor.send(header());
  actor.send(stanza(el("presence", NS.client)));
  assert.match(port.text, /<stream:error not-authorized>/);
});

test("bind asks the account actor and answers with the full JID", async () => {
  const { actor, port, accountEvents } = await bound();
  assert.is(actor.getSnapshot().value, "bound");
  assert.is(accountEvents[0]?.type, "session.bind");
  assert.match(port.text, /<jid>romeo@localhost\/balcony<\/jid>/);
});

test("in bound, stanzas go to the account actor stamped with the full JID", async () => {
  const { actor, accountEvents } = await bound();
  actor.send(stanza(el("message", NS.client, { to: "juliet@localhost", from: "tybalt@localhost" })));
  const last = accountEvents[accountEvents.length - 1];
  assert.is(last?.type, "stanza.outbound");
  if (last?.type === "stanza.outbound") assert.is(last.stanza.attrs.from, "romeo@localhost/balcony");
});

test("in bound, an unknown top-level element is unsupported-stanza-type", async () => {
  const { actor, port } = await bound();
  actor.send(stanza(el("banana", NS.client)));
  assert.match(port.text, /<stream:error unsupported-stanza-type>/);
});

test("a second bind on a bound stream gets not-allowed and the stream stays bound", async () => {
  const { actor, port } = await bound();
  actor.send(bindIq("again"));
  assert.is(actor.getSnapshot().value, "bound");
  assert.match(port.text, /<not-allowed/);
});

test("delivered stanzas are written only once bound", async () => {
  const s = start();
  s.actor.send(header());
  s.actor.send({ type: "deliver", stanza: el("message", NS.client, { id: "early" }) });
  assert.not.match(s.port.text, /early/);
  const b = await bound();
  b.actor.send({ type: "deliver", stanza: el("message", NS.client, { id: "late" }) });
  assert.match(b.port.text, /id=['"]late['"]/);
});

test("the client's </stream:stream> is answered in kind and the session ends and tells its account", async () => {
  const { actor, port, accountEvents } = await bound();
  actor.send({ type: "xml.streamEnd" });
  assert.is(actor.getSnapshot().status, "done");
  assert.match(port.text, /<\/stream>$/);
  assert.ok(port.closed);
  assert.is(accountEvents[accountEvents.length - 1]?.type, "session.ended");
});

test("a kick (resource conflict) sends the stream error and waits for the client's close", async () => {
  const { actor, port } = await bound();
  actor.send({ type: "session.kick", condition: "conflict" });
  assert.is(actor.getSnapshot().value, "closing");
  assert.match(port.text, /<stream:error conflict>\n<\/stream>/);
  actor.send({ type: "xml.streamEnd" });
  assert.is(actor.getSnapshot().status, "done");
});

test("a parse error before the header opens a stream to carry the error", () => {
  const { actor, port } = start();
  actor.send({ type: "xml.error", condition: "restricted-xml", text: "DOCTYPE" });
  assert.match(port.text, /^<stream from=localhost>\n<stream:error restricted-xml>/);
  assert.is(actor.getSnapshot().status, "done");
});

test("a second stream header mid-stream is not-well-formed", async () => {
  const { actor, port } = await bound();
  actor.send(header());
  assert.match(port.text, /<stream:error not-well-formed>/);
});

test("the socket going away ends a bound session and tells the account actor", async () => {
  const { actor, accountEvents } = await bound();
  actor.send({ type: "socket.closed" });
  assert.is(actor.getSnapshot().status, "done");
  assert.is(accountEvents[accountEvents.length - 1]?.type, "session.ended");
});

const saslElement = (name: string, payload?: string) => stanza(el(name, NS.sasl, {}, payload));
const abort = () => saslElement("abort");
const CLIENT_FIRST_BARE = "n=romeo,r=unit-test-nonce";
const scramAuth = () =>
  stanza(el("auth", NS.sasl, { mechanism: "SCRAM-SHA-256" }, Buffer.from(`n,,${CLIENT_FIRST_BARE}`).toString("base64")));

/** The server-first message of the last <challenge/> the port saw. */
function lastChallenge(port: RecordingPort): string {
  const all = [...port.text.matchAll(/<challenge[^>]*>([^<]+)<\/challenge>/g)];
  const last = all[all.length - 1];
  if (!last) throw new Error(`no challenge in: ${port.text}`);
  return Buffer.from(last[1] as string, "base64").toString();
}

/** The client-final-message (RFC 5802 §3) for the password, answering that server-first message. */
function scramFinal(serverFirst: string, password: string): SessionEvent {
  const fields = new Map(serverFirst.split(",").map((kv) => [kv[0] as string, kv.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(fields.get("s") ?? "", "base64"), Number(fields.get("i")), 32, "sha256");
  const clientKey = hmac("SHA-256", salted, "Client Key");
  const withoutProof = `c=${Buffer.from("n,,").toString("base64")},r=${fields.get("r")}`;
  const signature = hmac("SHA-256", digest("SHA-256", clientKey), `${CLIENT_FIRST_BARE},${serverFirst},${withoutProof}`);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number))).toString("base64");
  return saslElement("response", Buffer.from(`${withoutProof},p=${proof}`).toString("base64"));
}

test("each state carries the tags other code asks for (RFC 6120 stream negotiation, binding, closing)", async () => {
  const { actor } = start();
  const tags = () => [...actor.getSnapshot().tags].sort();
  assert.equal(tags(), ["negotiating"], "connected");
  actor.send(header());
  assert.equal(tags(), ["negotiating"], "streamOpen");
  actor.send(plainAuth("pw"));
  assert.ok(actor.getSnapshot().matches({ authenticating: "verifying" }));
  assert.equal(tags(), ["negotiating"], "authenticating");
  await waitFor(actor, (s) => s.hasTag("authenticated"), { timeout: 5000 });
  assert.equal(tags(), ["authenticated", "negotiating"], "authenticated");
  actor.send(header());
  assert.equal(tags(), ["authenticated", "negotiating"], "bindable");
  actor.send(bindIq("tagged"));
  assert.is(actor.getSnapshot().value, "bound");
  assert.equal(tags(), ["authenticated", "bound"], "bound");
  actor.send({ type: "session.kick", condition: "conflict" });
  assert.equal(tags(), ["closing"], "closing");
});

test("a SCRAM challenge waits in authenticating.awaitingResponse, and the right response succeeds", async () => {
  const { actor, port } = start();
  actor.send(header());
  actor.send(scramAuth());
  await waitFor(actor, (s) => s.matches({ authenticating: "awaitingResponse" }), { timeout: 5000 });
  actor.send(scramFinal(lastChallenge(port), "pw"));
  await waitFor(actor, (s) => s.hasTag("authenticated"), { timeout: 5000 });
  assert.match(port.text, /<success/);
});

test("an <abort/> after a challenge fails the exchange with aborted, without counting it", async () => {
  failuresNoted.length = 0;
  const { actor, port } = start();
  actor.send(header());
  actor.send(scramAuth());
  await waitFor(actor, (s) => s.matches({ authenticating: "awaitingResponse" }), { timeout: 5000 });
  actor.send(abort());
  await waitFor(actor, (s) => s.matches("streamOpen"), { timeout: 5000 });
  assert.match(port.text, /<failure xmlns=['"]urn:ietf:params:xml:ns:xmpp-sasl['"]><aborted\/><\/failure>/);
  assert.equal(failuresNoted, []);
});

test("a <response/> before the challenge is malformed-request", async () => {
  const { actor, port } = start();
  actor.send(header());
  actor.send(scramAuth());
  actor.send(saslElement("response", "eA=="));
  await waitFor(actor, (s) => s.matches("streamOpen"), { timeout: 5000 });
  assert.match(port.text, /<malformed-request\/><text[^>]*>A response before the challenge</);
  assert.not.match(port.text, /<challenge/);
});

test("a PLAIN outcome that arrives after <abort/> does not decide the next exchange", async () => {
  // Enough iterations that the check is still running when the SCRAM exchange starts.
  const slow = { "SHA-256": deriveScramCredential("pw", "SHA-256", 100_000), "SHA-1": deriveScramCredential("pw", "SHA-1", 100_000) };
  const accountEvents: AccountCommand[] = [];
  const { actor, port } = start(new RecordingPort(), accountEvents, environment(accountEvents, slow));
  actor.send(header());
  // The right password: the old machine let this late success authenticate the SCRAM exchange.
  actor.send(plainAuth("pw"));
  actor.send(abort());
  await waitFor(actor, (s) => s.matches("streamOpen"), { timeout: 5000 });
  actor.send(scramAuth());
  await waitFor(actor, (s) => s.matches({ authenticating: "awaitingResponse" }), { timeout: 5000 });
  const started = Date.now();
  pbkdf2Sync("x", "salt", 100_000, 32, "sha256");
  await new Promise((r) => setTimeout(r, 5 * (Date.now() - started) + 100));
  assert.ok(actor.getSnapshot().matches({ authenticating: "awaitingResponse" }), `in ${JSON.stringify(actor.getSnapshot().value)}`);
  assert.not.match(port.text, /<success|<not-authorized/);
  actor.send(scramFinal(lastChallenge(port), "pw"));
  await waitFor(actor, (s) => s.hasTag("authenticated"), { timeout: 5000 });
  assert.match(port.text, /<success/);
});

test("a SASL step that throws ends the exchange with temporary-auth-failure", async () => {
  const broken: ScramCredential = {
    hash: "SHA-256", salt: "", iterations: 4096, serverKey: "",
    get storedKey(): string { throw new Error("the credential store is unreadable"); },
  };
  const accountEvents: AccountCommand[] = [];
  const { actor, port } = start(new RecordingPort(), accountEvents, environment(accountEvents, { "SHA-256": broken, "SHA-1": broken }));
  actor.send(header());
  await authenticate(actor, "pw");
  await waitFor(actor, (s) => s.matches("streamOpen"), { timeout: 5000 });
  assert.match(port.text, /<temporary-auth-failure\/>/);
});

test("in bound, deliveries through the SessionRef go to the sink without a macrostep; after bound they are dropped", async () => {
  const { actor, port, accountEvents } = await bound();
  const bind = accountEvents.find((c) => c.type === "session.bind");
  const ref: SessionRef | undefined = bind?.type === "session.bind" ? bind.session : undefined;
  if (!ref) throw new Error("no session.bind was sent");
  let snapshots = 0;
  const subscription = actor.subscribe(() => { snapshots++; });
  ref.send({ type: "deliver", stanza: el("message", NS.client, { id: "fast" }) });
  assert.match(port.text, /id=['"]fast['"]/);
  assert.is(snapshots, 0, "the sink wrote without the actor taking a step");
  // A delivery sent to the actor itself goes through the same sink.
  actor.send({ type: "deliver", stanza: el("message", NS.client, { id: "via-machine" }) });
  assert.match(port.text, /id=['"]via-machine['"]/);
  actor.send({ type: "session.kick", condition: "conflict" });
  const written = port.out.length;
  ref.send({ type: "deliver", stanza: el("message", NS.client, { id: "too-late" }) });
  assert.is(port.out.length, written);
  assert.not.match(port.text, /too-late/);
  subscription.unsubscribe();
});

test("every stanza written in bound passes the delivery sink, replies as well as deliveries (what stream management counts)", async () => {
  const { actor, port, accountEvents } = await bound();
  const bind = accountEvents.find((c) => c.type === "session.bind");
  if (bind?.type !== "session.bind") throw new Error("no session.bind was sent");
  // A sink that counts, then writes: the shape XEP-0198 will attach.
  const counted: string[] = [];
  const outlet = actor.getSnapshot().context.deliveries;
  outlet.withdraw();
  outlet.attach({ deliver: (s) => { counted.push(s.attrs.id ?? s.name); port.sendStanza(s); } });
  actor.send(stanza(el("iq", NS.client, { type: "set", id: "sess" }, el("session", NS.session))));
  actor.send(bindIq("again"));
  bind.session.send({ type: "deliver", stanza: el("message", NS.client, { id: "routed" }) });
  actor.send({ type: "deliver", stanza: el("message", NS.client, { id: "sent-to-actor" }) });
  assert.equal(counted, ["sess", "b1", "routed", "sent-to-actor"]);
  assert.match(port.text, /id=['"]sent-to-actor['"]/);
});

/** Two sessions of romeo sharing one server's XEP-0198 registry, with a short resumption timeout. */
function managedEnvironment(accountEvents: AccountCommand[], timeoutSeconds: number): SessionEnvironment {
  return { ...environment(accountEvents), streamManagement: { registry: new ManagedStreamRegistry(), timeoutSeconds, maxQueue: 10 } };
}

async function boundWith(env: SessionEnvironment, accountEvents: AccountCommand[], sessionId = "s1") {
  const port = new RecordingPort();
  const actor = createActor(sessionMachine, { input: { sessionId, conn: port, env } });
  actor.start();
  actor.send(header());
  await authenticate(actor, "pw");
  actor.send(header());
  return { actor, port, accountEvents };
}

const SMNS = "urn:xmpp:sm:3";

test("XEP-0198: a lost connection of a resumable stream detaches; deliveries queue; the timeout expires it and the account gets the unacknowledged", async () => {
  const events: AccountCommand[] = [];
  const env = managedEnvironment(events, 0.05);
  const { actor, port } = await boundWith(env, events);
  actor.send(bindIq("phone"));
  actor.send(stanza(el("enable", SMNS, { resume: "true" })));
  assert.match(port.text, /<enabled xmlns=['"]urn:xmpp:sm:3['"] id=/);
  const ref = (events.find((e) => e.type === "session.bind") as { session: SessionRef }).session;
  actor.send({ type: "socket.closed" });
  assert.ok(actor.getSnapshot().hasTag("detached"));
  assert.not.ok(actor.getSnapshot().hasTag("bound"));
  const before = port.out.length;
  ref.send({ type: "deliver", stanza: el("message", NS.client, { from: "juliet@localhost/balcony", type: "chat" }, el("body", NS.client, {}, "queued")) });
  assert.is(port.out.length, before, "nothing written without a connection");
  assert.not.ok(events.some((e) => e.type === "session.ended"), "the resource stays bound");
  await waitFor(actor, (s) => s.status === "done", { timeout: 2000 });
  assert.is(actor.getSnapshot().value, "expired");
  const ended = events.find((e) => e.type === "session.ended");
  assert.ok(ended && ended.type === "session.ended");
  assert.equal(ended.unacknowledged?.map((m) => m.getChildText("body")), ["queued"]);
});

test("XEP-0198: <resume/> on a new stream takes the detached one over (resumed), resends the queue, and the account's ref reaches the new session", async () => {
  const events: AccountCommand[] = [];
  const env = managedEnvironment(events, 60);
  const first = await boundWith(env, events, "s1");
  first.actor.send(bindIq("phone"));
  first.actor.send(stanza(el("enable", SMNS, { resume: "true" })));
  const id = /id=['"]([^'"]+)['"] resume/.exec(first.port.text)?.[1];
  assert.ok(id);
  const ref = (events.find((e) => e.type === "session.bind") as { session: SessionRef }).session;
  first.actor.send({ type: "socket.closed" });
  ref.send({ type: "deliver", stanza: el("message", NS.client, { type: "chat" }, el("body", NS.client, {}, "while away")) });
  const second = await boundWith(env, events, "s2");
  second.actor.send(stanza(el("resume", SMNS, { previd: id, h: "0" })));
  assert.is(first.actor.getSnapshot().value, "resumed");
  assert.ok(second.actor.getSnapshot().hasTag("bound"));
  assert.match(second.port.text, new RegExp(`<resumed xmlns=['"]urn:xmpp:sm:3['"] previd=['"]${id}['"] h=['"]0['"]/>[\\s\\S]*while away`));
  ref.send({ type: "deliver", stanza: el("message", NS.client, { type: "chat" }, el("body", NS.client, {}, "after")) });
  assert.match(second.port.text, /after/);
  ref.send({ type: "session.kick", condition: "conflict" });
  assert.ok(second.actor.getSnapshot().hasTag("closing"), "commands for the resource reach the new session");
  assert.not.ok(events.some((e) => e.type === "session.ended"), "no end for a resumed session");
  // The stream is gone from the registry with its closing: a third resumption fails.
  const third = await boundWith(env, events, "s3");
  third.actor.send(stanza(el("resume", SMNS, { previd: id, h: "0" })));
  assert.match(third.port.text, /<failed xmlns=['"]urn:xmpp:sm:3['"]><item-not-found/);
});

test.run();
