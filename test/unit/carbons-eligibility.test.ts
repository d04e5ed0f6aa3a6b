// XEP-0280 §6.1 as a table: given a message and the direction it travels
// (sent by one of the user's resources, or received by the user), whether
// it is carbon-copied.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseFragment } from "../../src/xml/fragment.js";
import { isEligibleForCarbons, optsOutOfCarbons, type CarbonDirection } from "../../src/modules/carbons/eligibility.js";

function message(xml: string) {
  const m = parseFragment(xml);
  if (!m) throw new Error(`unparsable: ${xml}`);
  return m;
}

const BOTH: CarbonDirection[] = ["sent", "received"];

const CASES: { name: string; xml: string; directions: CarbonDirection[]; copied: boolean; answersEligible?: boolean }[] = [
  { name: "chat", xml: "<message type='chat'><body>hi</body></message>", directions: BOTH, copied: true },
  { name: "chat without a body (a chat state)", xml: "<message type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/></message>", directions: BOTH, copied: true },
  { name: "normal with a body", xml: "<message><body>hi</body></message>", directions: BOTH, copied: true },
  { name: "normal, explicit type, with a body", xml: "<message type='normal'><body>hi</body></message>", directions: BOTH, copied: true },
  { name: "normal without a body or IM payload", xml: "<message><x xmlns='urn:example'/></message>", directions: BOTH, copied: false },
  { name: "normal with a XEP-0184 receipt", xml: "<message><received xmlns='urn:xmpp:receipts' id='a'/></message>", directions: BOTH, copied: true },
  { name: "normal with a XEP-0184 request", xml: "<message><request xmlns='urn:xmpp:receipts'/></message>", directions: BOTH, copied: true },
  { name: "normal with a XEP-0085 chat state", xml: "<message><paused xmlns='http://jabber.org/protocol/chatstates'/></message>", directions: BOTH, copied: true },
  { name: "normal with a XEP-0333 marker", xml: "<message><displayed xmlns='urn:xmpp:chat-markers:0' id='a'/></message>", directions: BOTH, copied: true },
  { name: "headline with a body", xml: "<message type='headline'><body>news</body></message>", directions: BOTH, copied: false },
  { name: "groupchat", xml: "<message type='groupchat'><body>all</body></message>", directions: BOTH, copied: false },
  { name: "groupchat with a chat state", xml: "<message type='groupchat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>", directions: BOTH, copied: false },
  { name: "a XEP-0249 direct invitation", xml: "<message><x xmlns='jabber:x:conference' jid='room@muc'/></message>", directions: BOTH, copied: true },
  { name: "a XEP-0045 mediated invitation", xml: "<message><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@b'/></x></message>", directions: BOTH, copied: true },
  { name: "a private message from a MUC participant", xml: "<message type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", directions: ["received"], copied: false },
  { name: "a private message to a MUC participant", xml: "<message type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", directions: ["sent"], copied: true },
  { name: "an error answering an eligible message", xml: "<message type='error' id='a'><error type='cancel'/></message>", directions: BOTH, copied: true, answersEligible: true },
  { name: "an error answering nothing eligible", xml: "<message type='error' id='a'><body>hi</body><error type='cancel'/></message>", directions: BOTH, copied: false, answersEligible: false },
  { name: "chat with <private/>", xml: "<message type='chat'><body>hi</body><private xmlns='urn:xmpp:carbons:2'/></message>", directions: BOTH, copied: false },
  { name: "chat with <no-copy/>", xml: "<message type='chat'><body>hi</body><no-copy xmlns='urn:xmpp:hints'/></message>", directions: BOTH, copied: false },
  { name: "a <private/> in another namespace", xml: "<message type='chat'><body>hi</body><private xmlns='urn:example'/></message>", directions: BOTH, copied: true },
];

for (const c of CASES) {
  for (const direction of c.directions) {
    test(`§6.1 ${direction}: ${c.name} → ${c.copied ? "copied" : "not copied"}`, () => {
      let asked = false;
      const copied = isEligibleForCarbons(message(c.xml), direction, () => { asked = true; return c.answersEligible ?? false; });
      assert.is(copied, c.copied);
      // Only errors ask whether they answer an eligible message.
      assert.is(asked, c.answersEligible !== undefined);
    });
  }
}

test("§9: <private/> and <no-copy/> are opt-outs, each alone", () => {
  assert.ok(optsOutOfCarbons(message("<message><private xmlns='urn:xmpp:carbons:2'/></message>")));
  assert.ok(optsOutOfCarbons(message("<message><no-copy xmlns='urn:xmpp:hints'/></message>")));
  assert.not.ok(optsOutOfCarbons(message("<message><no-store xmlns='urn:xmpp:hints'/></message>")));
});

test.run();
