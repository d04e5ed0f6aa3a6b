// A property over real sockets: for random priorities, carbons settings,
// message types, payloads and addresses, every resource of the user gets a
// message exactly as RFC 6121 §8.5 and XEP-0280 say: the original if it is
// one the message is routed to, otherwise one carbon if it enabled carbons
// and the message is eligible (§6.1), and never both, never twice. The
// oracle below is written from the specifications, not from the code.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import type { XmlElement } from "../../src/xml/element.js";
import { startTestServer } from "../helpers/test-server.js";
import { Peer, barrier } from "../helpers/xmpp-peer.js";

const runs = Number(process.env.PARLEY_PROPERTY_RUNS ?? 0);
const CARBONS = "urn:xmpp:carbons:2";
const RESOURCES = 3;

/** undefined: no presence (bound, not available). */
type Priority = undefined | -1 | 0 | 1 | 2;
type MessageType = "chat" | "normal" | "headline" | "groupchat" | "error";
type Payload = "body" | "private" | "no-copy" | "chat-state" | "custom";

interface Case {
  readonly priorities: readonly Priority[];
  readonly carbons: readonly boolean[];
  readonly type: MessageType;
  readonly payload: Payload;
  /** "romeo" writes to Juliet (bare, or one of her resources); a number: that resource of Juliet's writes to Romeo. */
  readonly sender: "romeo" | number;
  /** For Romeo's messages: undefined is the bare JID, a number that resource. */
  readonly to: number | undefined;
}

const resourceIndex = fc.integer({ min: 0, max: RESOURCES - 1 });
const arbitraryCase: fc.Arbitrary<Case> = fc.record({
  priorities: fc.array(fc.constantFrom<Priority>(undefined, -1, 0, 1, 2), { minLength: RESOURCES, maxLength: RESOURCES }),
  carbons: fc.array(fc.boolean(), { minLength: RESOURCES, maxLength: RESOURCES }),
  type: fc.constantFrom<MessageType>("chat", "normal", "headline", "groupchat", "error"),
  payload: fc.constantFrom<Payload>("body", "private", "no-copy", "chat-state", "custom"),
  sender: fc.oneof(fc.constant("romeo" as const), resourceIndex),
  to: fc.option(resourceIndex, { nil: undefined }),
});

function payloadXml(p: Payload): string {
  switch (p) {
    case "body": return "<body>b</body>";
    case "private": return `<body>b</body><private xmlns='${CARBONS}'/><no-copy xmlns='urn:xmpp:hints'/>`;
    case "no-copy": return "<body>b</body><no-copy xmlns='urn:xmpp:hints'/>";
    case "chat-state": return "<active xmlns='http://jabber.org/protocol/chatstates'/>";
    case "custom": return "<x xmlns='urn:example:custom'/>";
  }
}

/** XEP-0280 §6.1 for these payloads (errors here answer nothing this server saw: every id is new). */
function eligible(c: Case): boolean {
  if (c.payload === "private" || c.payload === "no-copy") return false;
  if (c.type === "groupchat" || c.type === "error") return false;
  if (c.type === "chat") return true;
  if (c.type === "normal" && c.payload === "body") return true;
  return c.payload === "chat-state";
}

/** RFC 6121 §8.5.2.1.1 and §8.5.3.1 for Romeo's message: which of Juliet's resources get the original, and whether it went offline. */
function routed(c: Case): { targets: Set<number>; offline: boolean } {
  if (c.to !== undefined) return { targets: new Set([c.to]), offline: false };
  if (c.type === "error" || c.type === "groupchat") return { targets: new Set(), offline: false };
  const nonNegative = c.priorities.flatMap((p, i) => (p !== undefined && p >= 0 ? [{ p, i }] : []));
  if (c.type === "headline") return { targets: new Set(nonNegative.map((r) => r.i)), offline: false };
  const best = Math.max(...nonNegative.map((r) => r.p));
  const targets = new Set(nonNegative.filter((r) => r.p === best).map((r) => r.i));
  return { targets, offline: targets.size === 0 };
}

/** What one of Juliet's resources should get of message `id`: [originals, received carbons, sent carbons]. */
function expected(c: Case, i: number): [number, number, number] {
  if (c.sender !== "romeo") {
    const copy = c.sender !== i && c.carbons[i] === true && eligible(c);
    // §8.5.2.1.1: groupchat to Romeo's bare JID comes back to the sender as an error, with the same id.
    const bounced = c.sender === i && c.type === "groupchat";
    return [bounced ? 1 : 0, 0, copy ? 1 : 0];
  }
  const { targets, offline } = routed(c);
  if (targets.has(i)) return [1, 0, 0];
  const delivered = targets.size > 0 || offline;
  return [0, delivered && c.carbons[i] === true && eligible(c) ? 1 : 0, 0];
}

function forwardedId(m: XmlElement, kind: "sent" | "received"): string | undefined {
  return m.getChild(kind, CARBONS)?.getChild("forwarded", "urn:xmpp:forward:0")?.getChild("message", "jabber:client")?.attrs.id;
}

function observed(p: Peer, id: string): [number, number, number] {
  const ms = p.messages();
  return [
    ms.filter((m) => m.attrs.id === id).length,
    ms.filter((m) => forwardedId(m, "received") === id).length,
    ms.filter((m) => forwardedId(m, "sent") === id).length,
  ];
}

test("every resource gets the original, one carbon, or nothing, as RFC 6121 §8.5 and XEP-0280 §7–§8 say", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }] });
  try {
    const juliet: Peer[] = [];
    for (let i = 0; i < RESOURCES; i++) juliet.push(await Peer.login(ts.port, "juliet", "j", `r${i}`));
    const romeo = await Peer.login(ts.port, "romeo", "r", "orchard");
    await romeo.available();
    const all = [...juliet, romeo];
    const state: { priority: Priority; carbons: boolean }[] = juliet.map(() => ({ priority: undefined, carbons: false }));
    let n = 0;
    await fc.assert(fc.asyncProperty(arbitraryCase, async (c) => {
      const id = `m${++n}`;
      for (const [i, p] of juliet.entries()) {
        const s = state[i] as { priority: Priority; carbons: boolean };
        const priority = c.priorities[i];
        if (priority !== s.priority) {
          p.write(priority === undefined ? "<presence type='unavailable'/>" : `<presence><priority>${priority}</priority></presence>`);
          s.priority = priority;
        }
        const on = c.carbons[i] === true;
        if (on !== s.carbons) {
          p.write(`<iq type='set' id='${id}-c${i}'><${on ? "enable" : "disable"} xmlns='${CARBONS}'/></iq>`);
          s.carbons = on;
        }
      }
      await barrier(all);
      for (const p of all) p.clear();
      const type = c.type === "normal" ? "" : ` type='${c.type}'`;
      if (c.sender === "romeo") {
        const to = c.to === undefined ? "juliet@localhost" : (juliet[c.to] as Peer).jid;
        romeo.write(`<message${type} to='${to}' id='${id}'>${payloadXml(c.payload)}</message>`);
      } else {
        (juliet[c.sender] as Peer).write(`<message${type} to='romeo@localhost' id='${id}'>${payloadXml(c.payload)}</message>`);
      }
      await barrier(all);
      for (const [i, p] of juliet.entries()) {
        assert.equal(observed(p, id), expected(c, i), `resource r${i} for ${JSON.stringify(c)}: [originals, received, sent]`);
      }
    }), runs > 0 ? { numRuns: runs } : { numRuns: 40, seed: 9 });
    for (const p of all) p.close();
  } finally {
    await ts.stop();
  }
});

test.run();
