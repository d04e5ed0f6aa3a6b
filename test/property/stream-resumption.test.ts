// XEP-0198 under random interleavings (issue 15): juliet sends messages to
// romeo's bare JID and to his phone's full JID while the phone's connection is
// killed, its stream resumed, or left to expire (and the phone logs in afresh),
// the phone acknowledging now and then; with or without a second resource (the
// desk, carbons enabled). Over real sockets, against an in-process server with
// a one-second resumption timeout. What must hold:
//   - never lost: every message reaches the phone, or (with the desk online) the desk;
//   - the desk sees each message exactly once (the original or its carbon);
//   - the phone never sees a message twice on one stream, nor across a resumption,
//     nor one it acknowledged; the only repeat XEP-0198 allows is a message it got
//     but never acknowledged before its stream expired (the server cannot know it
//     arrived: it is stored offline and delivered again);
//   - juliet gets no error.
// PARLEY_PROPERTY_RUNS sets the number of runs (default 6).
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { RawClient, HEADER } from "../helpers/raw-client.js";

const SM = "urn:xmpp:sm:3";
const runs = Number(process.env.PARLEY_PROPERTY_RUNS ?? 6);
const TIMEOUT_SECONDS = 1;

type Op =
  | { kind: "send"; full: boolean }
  | { kind: "ack" }
  | { kind: "kill" }
  | { kind: "resume" }
  | { kind: "expire" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.boolean().map((full): Op => ({ kind: "send", full })) },
  { weight: 2, arbitrary: fc.constant<Op>({ kind: "ack" }) },
  { weight: 3, arbitrary: fc.constant<Op>({ kind: "kill" }) },
  { weight: 2, arbitrary: fc.constant<Op>({ kind: "resume" }) },
  { weight: 2, arbitrary: fc.constant<Op>({ kind: "expire" }) },
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STANZA = /<(message|presence|iq)[\s>/]/g;
const BODY = /<body>(m\d+)<\/body>/g;
/** Bodies are unique across rounds (one server serves them all; a round's leftovers may reach the next). */
let nextBody = 0;

/** The phone as a client that counts what it handled (XEP-0198 §4) across its connections. */
class Phone {
  c!: RawClient;
  id: string | undefined;
  /** Handled on the current stream before the current connection (a resumed stream goes on counting). */
  base = 0;
  /** Where the current connection's counting starts in its text (after <enabled/> or <resumed/>). */
  from = 0;
  state: "connected" | "detached" = "connected";
  /** Every body the phone saw, per stream (a stream spans its resumptions), in order. */
  streams: string[][] = [[]];
  acknowledged = new Set<string>();
  /** Bodies seen but not acknowledged when their stream expired. */
  expiredUnacked = new Set<string>();

  constructor(private readonly port: number) {}

  handled(): number {
    return this.base + (this.c.text.slice(this.from).match(STANZA)?.length ?? 0);
  }

  bodiesNow(): string[] {
    return [...this.c.text.slice(this.from).matchAll(BODY)].map((m) => m[1] as string);
  }

  /** A fresh session: bind, enable resumption, available at priority 1. */
  async login(): Promise<void> {
    this.c = await RawClient.connect(this.port);
    await this.c.login("romeo", "romeo-pass", "phone");
    this.c.write(`<enable xmlns='${SM}' resume='true'/>`);
    const text = await this.c.waitFor(/<enabled[^>]*>/);
    this.id = /<enabled[^>]* id=['"]([^'"]+)['"]/.exec(text)?.[1];
    this.from = text.search(/<enabled/);
    this.base = 0;
    this.state = "connected";
    this.c.write("<presence><priority>1</priority></presence>");
    await this.c.sync("online");
  }

  /** What this connection saw joins the stream's record (before the connection goes). */
  private record(): void {
    const stream = this.streams[this.streams.length - 1] as string[];
    stream.push(...this.bodiesNow());
  }

  async ack(): Promise<void> {
    if (this.state !== "connected") return;
    await this.c.sync(`s${Date.now()}`);
    const h = this.handled();
    this.c.write(`<a xmlns='${SM}' h='${h}'/>`);
    for (const b of this.bodiesNow()) this.acknowledged.add(b);
    for (const s of this.streams) for (const b of s) this.acknowledged.add(b);
  }

  async kill(): Promise<void> {
    if (this.state !== "connected") return;
    this.record();
    this.base = this.handled();
    this.c.destroy();
    this.state = "detached";
    await sleep(50);
  }

  /** <resume/> with the h handled; false when the stream is gone (it expired meanwhile). */
  async resume(): Promise<boolean> {
    if (this.state !== "detached") return true;
    const c = await RawClient.connect(this.port);
    c.write(HEADER());
    await c.waitFor(/<\/stream:features>/);
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0romeo-pass").toString("base64")}</auth>`);
    await c.waitFor(/<success/);
    c.clear();
    c.write(HEADER());
    await c.waitFor(/<\/stream:features>/);
    c.clear();
    c.write(`<resume xmlns='${SM}' previd='${this.id}' h='${this.base}'/>`);
    const text = await c.waitFor(/<resumed[^>]*>|<failed[\s\S]*<\/failed>/);
    if (!/<resumed/.test(text)) {
      c.destroy();
      return false;
    }
    this.c = c;
    this.from = text.search(/<resumed/);
    this.state = "connected";
    return true;
  }

  /** The stream is left to expire; the phone logs in afresh. */
  async expire(): Promise<void> {
    if (this.state !== "detached") return;
    await sleep(TIMEOUT_SECONDS * 1000 + 600);
    this.forgetStream();
    await this.login();
  }

  private forgetStream(): void {
    const stream = this.streams[this.streams.length - 1] as string[];
    for (const b of stream) if (!this.acknowledged.has(b)) this.expiredUnacked.add(b);
    this.streams.push([]);
  }

  /** Back online for the final count: resume if possible, else afresh. */
  async settle(): Promise<void> {
    if (this.state === "detached" && !(await this.resume())) {
      this.forgetStream();
      await this.login();
    }
  }

  finish(): void {
    this.record();
  }
}

async function round(ts: TestServer, withDesk: boolean, ops: Op[]): Promise<void> {
  const juliet = await RawClient.connect(ts.port);
  await juliet.login("juliet", "juliet-pass", "balcony");
  let desk: RawClient | undefined;
  if (withDesk) {
    desk = await RawClient.connect(ts.port);
    await desk.login("romeo", "romeo-pass", "desk");
    desk.write("<presence/>");
    desk.write("<iq type='set' id='c'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
    await desk.waitFor(/id=['"]c['"]/);
  }
  const phone = new Phone(ts.port);
  await phone.login();
  const sent: string[] = [];
  for (const o of ops) {
    if (o.kind === "send") {
      const body = `m${nextBody++}`;
      sent.push(body);
      juliet.write(`<message to='romeo@localhost${o.full ? "/phone" : ""}' type='chat'><body>${body}</body></message>`);
      await juliet.sync(`sent-${body}`);
    } else if (o.kind === "ack") await phone.ack();
    else if (o.kind === "kill") await phone.kill();
    else if (o.kind === "resume") {
      if (!(await phone.resume())) await phone.settle();
    } else await phone.expire();
  }
  await phone.settle();
  await juliet.sync("end");
  await sleep(200);
  await phone.c.sync("final");
  phone.finish();

  const trace = `ops ${JSON.stringify(ops)} desk ${withDesk}`;
  const seenByPhone = phone.streams.flat();
  const ours = new Set(sent);
  for (const [i, all] of phone.streams.entries()) {
    const stream = all.filter((b) => ours.has(b));
    assert.is(new Set(stream).size, stream.length, `stream ${i} saw a message twice: ${stream.join(" ")}; ${trace}`);
  }
  const deskBodies = desk ? [...desk.text.matchAll(BODY)].map((m) => m[1] as string) : [];
  for (const body of sent) {
    const onPhone = seenByPhone.filter((b) => b === body).length;
    if (withDesk) {
      assert.is(deskBodies.filter((b) => b === body).length, 1, `${body} on the desk: ${deskBodies.join(" ")}; ${trace}`);
      assert.ok(onPhone <= 1, `${body} on the phone ${onPhone} times; ${trace}`);
    } else {
      assert.ok(onPhone >= 1, `${body} lost: the phone saw ${seenByPhone.join(" ")}; ${trace}`);
      if (onPhone > 1) assert.ok(phone.expiredUnacked.has(body), `${body} seen ${onPhone} times though acknowledged or resumed; ${trace}`);
    }
  }
  assert.not.match(juliet.text, /type=['"]error['"]/, trace);
  juliet.destroy();
  desk?.destroy();
  phone.c.destroy();
  await sleep(TIMEOUT_SECONDS * 1000 + 300); // the last streams end before the next round
}

test(`random sends, kills, resumptions and expiries: never lost, never shown twice where XEP-0198 can tell (${runs} runs)`, async () => {
  const ts = await startTestServer({
    accounts: [{ jid: "romeo@localhost", password: "romeo-pass" }, { jid: "juliet@localhost", password: "juliet-pass" }],
    configure: (c) => { c.streamManagement.timeoutSeconds = TIMEOUT_SECONDS; },
  });
  try {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(op, { minLength: 4, maxLength: 12 }), async (withDesk, ops) => {
      try {
        await round(ts, withDesk, ops);
      } catch (err) {
        console.error(String((err as Error).message ?? err));
        throw err;
      }
    }),
      {
        numRuns: runs, endOnFailure: true,
        // Always among the runs: messages queued while detached, then expiry, alone and beside the desk.
        examples: [
          [false, [{ kind: "send", full: false }, { kind: "kill" }, { kind: "send", full: false }, { kind: "send", full: true }, { kind: "expire" }, { kind: "send", full: true }]],
          [true, [{ kind: "kill" }, { kind: "send", full: false }, { kind: "send", full: true }, { kind: "expire" }, { kind: "ack" }]],
        ],
      });
  } finally {
    await ts.stop();
  }
});

test.run();
