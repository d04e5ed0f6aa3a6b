// Model-based tests of the s2s listener's incoming streams: paths generated
// from the remote-peer model (test/model/s2s-model.ts) with xstate/graph —
// shortest paths, the simple paths that end in the peer's orderly close, and
// one path per remaining transition — each replayed on a real TCP socket
// against a real Parley serving a.test (s2s on a free port, STARTTLS
// required, dialback on). The test is the remote server
// peer.test twice over: the originating server on the socket, and peer.test's
// authoritative server (a listener a.test's outgoing stream reaches through
// s2s.routes), which answers a.test's db:verify from its own secret.
import { test } from "uvu";
import * as assert from "uvu/assert";
import net from "node:net";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createTestModel } from "xstate/graph";
import type { SnapshotFrom } from "xstate";
import { s2sModel, type S2sModelEvent, type ListenerHolds } from "../model/s2s-model.js";
import { pathsCoveringEveryTransition, replayPath } from "../model/transition-paths.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { RawClient } from "../helpers/raw-client.js";
import { PASSWORD, User } from "../helpers/s2s-pair.js";
import { testCa, dnsId } from "../helpers/test-ca.js";
import { XmlStreamParser } from "../../src/xml/stream-parser.js";
import { loadOrCreateSecret } from "../../src/server/server-secret.js";
import { DIALBACK_SECRET, dialbackKey } from "../../src/s2s/dialback.js";

type Snapshot = SnapshotFrom<typeof s2sModel>;

const LOCAL = "a.test";
const PEER = "peer.test";
const PAIR = `${PEER} ${LOCAL}`;
const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_DB = "jabber:server:dialback";
const header = (options: { to?: string; ns?: string; from?: string; id?: string } = {}) =>
  `<?xml version='1.0'?><stream:stream xmlns='${options.ns ?? "jabber:server"}' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='${NS_DB}'` +
  ` from='${options.from ?? PEER}' to='${options.to ?? LOCAL}'${options.id ? ` id='${options.id}'` : ""} version='1.0'>`;
const streamError = (condition: string) => new RegExp(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'`);
const ca = testCa();
const peerCert = ca.issue("peer", PEER, [dnsId(PEER)]);
const peerTls = { key: readFileSync(peerCert.key, "utf8"), cert: readFileSync(peerCert.cert, "utf8") };

/**
 * peer.test's authoritative server (XEP-0220 §2.3): answers a.test's stream
 * header (STARTTLS required, then dialback), accepts a.test's own key, and
 * answers each db:verify from its secret, remembering what it was asked.
 */
class Authoritative {
  readonly secret = randomBytes(32);
  readonly verifies: { id: string; valid: boolean }[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((s) => this.serve(s, false));

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    return (this.server.address() as net.AddressInfo).port;
  }

  private serve(socket: net.Socket, secure: boolean): void {
    this.sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => this.sockets.delete(socket));
    const parser = new XmlStreamParser({
      streamStart: () => {
        const features = secure ? "<dialback xmlns='urn:xmpp:features:dialback'/>" : `<starttls xmlns='${NS_TLS}'><required/></starttls>`;
        socket.write(header({ from: PEER, to: LOCAL, id: randomBytes(8).toString("hex") }) + `<stream:features>${features}</stream:features>`);
      },
      stanza: (e) => {
        if (e.is("starttls", NS_TLS) && !secure) {
          socket.off("data", onData);
          socket.write(`<proceed xmlns='${NS_TLS}'/>`);
          this.serve(new tls.TLSSocket(socket, { isServer: true, secureContext: tls.createSecureContext(peerTls) }), true);
        } else if (e.is("result", NS_DB)) {
          socket.write(`<db:result from='${PEER}' to='${LOCAL}' type='valid'/>`);
        } else if (e.is("verify", NS_DB)) {
          const id = e.attrs.id ?? "";
          const valid = e.attrs.from === LOCAL && e.attrs.to === PEER && e.text().trim() === dialbackKey(this.secret, LOCAL, PEER, id);
          this.verifies.push({ id, valid });
          socket.write(`<db:verify from='${PEER}' to='${LOCAL}' id='${id}' type='${valid ? "valid" : "invalid"}'/>`);
        }
      },
      streamEnd: () => socket.end("</stream:stream>"),
      error: () => socket.destroy(),
    }, { maxStanzaBytes: 1 << 20, maxDepth: 100 });
    const onData = (d: Buffer) => parser.write(d);
    socket.on("data", onData);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** One path's world: a fresh a.test with alice online, peer.test's authoritative server, and the peer's socket. */
interface World {
  ts: TestServer;
  authoritative: Authoritative;
  alice: User;
  peer?: RawClient;
  /** The id of a.test's stream header to the peer (the current one, after TLS the new stream's). */
  streamId?: string;
  /** Where what the latest step received starts in the peer's text. */
  mark: number;
  sent: number;
}

async function until(what: string, ok: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function actions(world: World): Record<S2sModelEvent["type"], () => Promise<void>> {
  const p = () => {
    if (!world.peer) throw new Error("not connected");
    return world.peer;
  };
  const send = (xml: string) => {
    world.mark = p().text.length;
    p().write(xml);
  };
  const since = () => p().text.slice(world.mark);
  /** Waits for `pattern` in what arrived since the step's write. */
  const waitFor = async (pattern: RegExp, ms = 3000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = pattern.exec(since());
      if (m) return m;
      if (p().isClosed) throw new Error(`connection closed before ${pattern}; received: ${since()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; received: ${since()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  /** RFC 6120 §4.9.1.1, §4.9.1.2: our header (even for an error before the peer's), the error, </stream:stream>, then the connection closed. */
  const closedWith = async (condition: string) => {
    await waitFor(streamError(condition));
    await waitFor(/<\/stream:stream>/);
    await p().waitClosed();
    assert.match(p().text, new RegExp(`<stream:stream [^>]*>[\\s\\S]*${streamError(condition).source}`), "the stream error comes after a stream header");
  };
  const openStream = async (xml: string) => {
    send(xml);
    await waitFor(/<\/stream:features>|<stream:features\/>/);
    const opened = /<stream:stream [^>]*id='([^']+)'/.exec(since());
    assert.ok(opened, `a stream header with an id: ${since()}`);
    world.streamId = opened[1] as string;
    return since();
  };
  const body = () => `model ${++world.sent}`;
  const delivered = (text: string) => world.alice.stanzas().filter((s) => s.name === "message" && s.getChildText("body") === text);
  return {
    CONNECT: async () => {
      world.peer = await RawClient.connect(world.ts.server.s2s?.port as number);
      world.mark = 0;
    },
    SEND_HEADER: async () => {
      const features = await openStream(header());
      // RFC 6120 §5.3.1: TLS mandatory-to-negotiate, so STARTTLS is the only feature offered.
      assert.match(features, new RegExp(`<starttls xmlns='${NS_TLS}'><required/></starttls>`));
      assert.not.match(features, /features:dialback/);
    },
    SEND_HEADER_UNKNOWN_HOST: async () => {
      send(header({ to: "nowhere.test" }));
      await closedWith("host-unknown");
    },
    SEND_HEADER_WRONG_NAMESPACE: async () => {
      send(header({ ns: "jabber:client" }));
      await closedWith("invalid-namespace");
    },
    SEND_GARBAGE: async () => {
      send("<<<>>>");
      await closedWith("not-well-formed");
    },
    STARTTLS: async () => {
      send(`<starttls xmlns='${NS_TLS}'/>`);
      await waitFor(new RegExp(`<proceed xmlns='${NS_TLS}'/>`));
      const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ socket: p().rawSocket, servername: LOCAL, rejectUnauthorized: false }, () => resolve(s));
        s.once("error", reject);
      });
      world.peer = RawClient.wrap(socket);
      world.mark = 0;
      // RFC 6120 §5.4.3.3: a new stream, STARTTLS not offered again; dialback now is (XEP-0220 §2.1).
      const features = await openStream(header());
      assert.match(features, /<dialback xmlns='urn:xmpp:features:dialback'>/);
      assert.not.match(features, /<starttls/);
    },
    STARTTLS_AGAIN: async () => {
      send(`<starttls xmlns='${NS_TLS}'/>`);
      await closedWith("policy-violation");
    },
    DIALBACK_BEFORE_TLS: async () => {
      send(`<db:result from='${PEER}' to='${LOCAL}'>${dialbackKey(world.authoritative.secret, LOCAL, PEER, world.streamId ?? "")}</db:result>`);
      await closedWith("policy-violation");
      assert.equal(world.authoritative.verifies, [], "nothing was verified for a stream without TLS");
    },
    VERIFY_BEFORE_TLS: async () => {
      // A real key of a.test's, asked about in the clear: no answer, valid or not, leaves before TLS.
      const secret = loadOrCreateSecret(world.ts.server.store.db, DIALBACK_SECRET);
      send(`<db:verify from='${PEER}' to='${LOCAL}' id='s1'>${dialbackKey(secret, PEER, LOCAL, "s1")}</db:verify>`);
      await closedWith("policy-violation");
      assert.not.match(since(), /<verify /, "no db:verify answer on a plain stream");
    },
    STANZA_BEFORE_TLS: async () => {
      const text = body();
      send(`<message from='romeo@${PEER}' to='alice@${LOCAL}/home' type='chat'><body>${text}</body></message>`);
      await closedWith("not-authorized");
      assert.equal(delivered(text), []);
    },
    DIALBACK_VALID: async () => {
      const id = world.streamId as string;
      send(`<db:result from='${PEER}' to='${LOCAL}'>${dialbackKey(world.authoritative.secret, LOCAL, PEER, id)}</db:result>`);
      await waitFor(new RegExp(`<result xmlns='${NS_DB}' from='${LOCAL}' to='${PEER}' type='valid'/>`), 5000);
      // XEP-0220 §2.3.1: a.test asked peer.test's authoritative server about this very stream.
      assert.equal(world.authoritative.verifies.at(-1), { id, valid: true });
    },
    DIALBACK_INVALID: async () => {
      const id = world.streamId as string;
      send(`<db:result from='${PEER}' to='${LOCAL}'>${dialbackKey(world.authoritative.secret, LOCAL, PEER, "another-stream")}</db:result>`);
      await waitFor(new RegExp(`<result xmlns='${NS_DB}' from='${LOCAL}' to='${PEER}' type='invalid'/>`), 5000);
      await closedWith("not-authorized");
      assert.equal(world.authoritative.verifies.at(-1), { id, valid: false });
    },
    DIALBACK_TO_UNSERVED: async () => {
      const asked = world.authoritative.verifies.length;
      send(`<db:result from='${PEER}' to='c.test'>${dialbackKey(world.authoritative.secret, "c.test", PEER, world.streamId ?? "")}</db:result>`);
      await waitFor(/<result xmlns='jabber:server:dialback' from='c.test' to='peer.test' type='error'><error[^>]*type='cancel'[^>]*><item-not-found /);
      assert.is(world.authoritative.verifies.length, asked, "nothing to verify for a domain not served");
    },
    VERIFY_KEYS: async () => {
      // a.test as the authoritative server for its own keys (XEP-0220 §2.3.2): peer.test checks one it was given, and a made-up one.
      const secret = loadOrCreateSecret(world.ts.server.store.db, DIALBACK_SECRET);
      send(`<db:verify from='${PEER}' to='${LOCAL}' id='s1'>${dialbackKey(secret, PEER, LOCAL, "s1")}</db:verify>` +
        `<db:verify from='${PEER}' to='${LOCAL}' id='s2'>${dialbackKey(secret, PEER, LOCAL, "s1")}</db:verify>`);
      const answers = await waitFor(/<verify [^>]*id='s1'[^>]*\/>[\s\S]*<verify [^>]*id='s2'[^>]*\/>/);
      assert.match(answers[0], /<verify xmlns='jabber:server:dialback' from='a.test' to='peer.test' id='s1' type='valid'\/>/);
      assert.match(answers[0], /<verify xmlns='jabber:server:dialback' from='a.test' to='peer.test' id='s2' type='invalid'\/>/);
    },
    STANZA_BEFORE_AUTH: async () => {
      const text = body();
      send(`<message from='romeo@${PEER}' to='alice@${LOCAL}/home' type='chat'><body>${text}</body></message>`);
      await closedWith("not-authorized");
      assert.equal(delivered(text), []);
    },
    STANZA: async () => {
      const text = body();
      send(`<message from='Romeo@Peer.Test/balcony' to='alice@${LOCAL}/home' type='chat'><body>${text}</body></message>`);
      const got = await world.alice.waitFor((s) => s.name === "message" && s.getChildText("body") === text, 3000);
      assert.is(got.attrs.from, `romeo@${PEER}/balcony`);
      assert.is(got.ns, "jabber:client");
    },
    STANZA_SPOOFED_FROM: async () => {
      const text = body();
      send(`<message from='eve@evil.test' to='alice@${LOCAL}/home' type='chat'><body>${text}</body></message>`);
      await closedWith("invalid-from");
      assert.equal(delivered(text), []);
    },
    STANZA_TO_UNSERVED: async () => {
      send(`<message from='romeo@${PEER}' to='carol@c.test' type='chat'><body>${body()}</body></message>`);
      await closedWith("host-unknown");
    },
    CLOSE_STREAM: async () => {
      send("</stream:stream>");
      await waitFor(/<\/stream:stream>/);
      await p().waitClosed();
      assert.not.match(since(), /<stream:error>/);
    },
  };
}

/** What the listener holds for the peer's stream, as the model state says. */
async function checkListener(world: World, snapshot: Snapshot): Promise<void> {
  const holds = (Object.values(snapshot.getMeta())[0] as { listener?: ListenerHolds } | undefined)?.listener;
  const pairs = () => world.ts.server.s2s?.incomingPairs() ?? [];
  if (holds === "authenticated") assert.equal(pairs(), [PAIR], `the listener's authenticated pairs in ${String(snapshot.value)}`);
  if (holds === "unauthenticated") assert.equal(pairs(), [], `no pair authenticated yet in ${String(snapshot.value)}`);
  if (holds === "gone") {
    assert.ok(world.peer?.isClosed, "the connection is closed");
    await until("the incoming stream is gone from the listener", () => pairs().length === 0);
  }
}

const model = createTestModel(s2sModel);
const shortest = model.getShortestPaths();
// Every simple path would take each self-loop before each exit (45 paths); the
// ones ending in the peer's orderly close are enough to show that a stream
// which took a loop (a dialback error, a verification, a stanza) still works.
const orderlyCloses = model.getSimplePaths().filter((p) => p.state.value === "closedByPeer");
const { paths, allTransitions, covered: coveredTransitions, reachedStates } =
  pathsCoveringEveryTransition(model, [...shortest, ...orderlyCloses], shortest);

for (const [name, path] of paths) {
  test(`s2s path: ${name || "(initial)"}`, async () => {
    const authoritative = new Authoritative();
    const authPort = await authoritative.listen();
    const ts = await startTestServer({
      accounts: [{ jid: `alice@${LOCAL}`, password: PASSWORD }],
      configure: (c) => {
        c.domains = [LOCAL];
        c.s2s.routes = { [PEER]: `127.0.0.1:${authPort}` };
        c.s2s.connectTimeoutSeconds = 4;
      },
    });
    const alice = await User.login(ts.port, "alice", LOCAL, "home");
    const world: World = { ts, authoritative, alice, mark: 0, sent: 0 };
    try {
      alice.write("<presence/>");
      await alice.waitFor((s) => s.name === "presence" && s.attrs.from === `alice@${LOCAL}/home`);
      await replayPath(path, s2sModel, (s: Snapshot) => checkListener(world, s), actions(world));
    } finally {
      world.peer?.destroy();
      alice.close();
      await ts.stop();
      await authoritative.stop();
    }
  });
}

test("the generated paths cover every state and every transition of the model, in fewer than 40 paths", () => {
  const stateNames = Object.keys(s2sModel.states);
  console.log(`  s2s model coverage: ${reachedStates.size}/${stateNames.length} states, ${coveredTransitions.size}/${allTransitions.size} transitions, ${paths.size} paths`);
  for (const s of stateNames) assert.ok(reachedStates.has(s), `state ${s} not covered`);
  for (const t of allTransitions) assert.ok(coveredTransitions.has(t), `transition ${t} not covered`);
  assert.ok(paths.size < 40, `${paths.size} paths`);
});

/** A header of ours, then the stream error, then the close: what RFC 6120 §4.9.1.2 asks of an error before the peer's header. */
async function headerThenError(raw: RawClient, condition: string): Promise<void> {
  await raw.waitFor(/<\/stream:stream>/);
  await raw.waitClosed();
  assert.match(raw.text, new RegExp(`^<\\?xml version='1.0'\\?><stream:stream xmlns='jabber:server' [^>]*>${streamError(condition).source}`));
}

// Found by the model (path CONNECT → SEND_GARBAGE): the listener sent the stream error with no stream header before it.
test("regression: an error before the peer's header (bad XML, the unauthenticated timeout, bad XML after TLS) follows a header of ours (RFC 6120 §4.9.1.2)", async () => {
  const ts = await startTestServer({ configure: (c) => { c.domains = [LOCAL]; } });
  const port = ts.server.s2s?.port as number;
  try {
    const garbage = await RawClient.connect(port);
    garbage.write("<<<>>>");
    await headerThenError(garbage, "not-well-formed");
    // After TLS the peer owes a new header (RFC 6120 §5.4.3.3); bad XML instead gets a new header of ours first.
    const plain = await RawClient.connect(port);
    plain.write(header());
    await plain.waitFor(/<\/stream:features>/);
    plain.write(`<starttls xmlns='${NS_TLS}'/>`);
    await plain.waitFor(/<proceed/);
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain.rawSocket, servername: LOCAL, rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    const secure = RawClient.wrap(socket);
    secure.write("<<<>>>");
    await headerThenError(secure, "not-well-formed");
    // Read when a stream is accepted: the next one is closed after a second.
    ts.server.config.limits.unauthenticatedTimeoutSeconds = 1;
    const silent = await RawClient.connect(port);
    await headerThenError(silent, "connection-timeout");
  } finally {
    await ts.stop();
  }
});

test.after(() => ca.remove());

test.run();
