// XEP-0280 Message Carbons: a resource enables or disables carbons for
// itself (§4, §5); a message one resource sends is copied, wrapped in
// <sent/>, to the user's other carbons-enabled resources (§8), and one that
// reaches the user is copied, wrapped in <received/>, to the carbons-enabled
// resources that did not get it under RFC 6121's delivery rules (§7), which
// the kernel announces on `message/delivered`. Which messages: eligibility.ts.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { Jid } from "../../jid/jid.js";
import type { ParleyModule } from "../../kernel/module-api.js";
import type { Account, ResourceSession, SessionSlot } from "../../kernel/account.js";
import type { OutboundStanza } from "../../kernel/events.js";
import { isEligibleForCarbons, NS_CARBONS, NS_CARBONS_RULES, NS_FORWARD, type CarbonDirection } from "./eligibility.js";

/**
 * Below the blocking filter (1000: a blocked message is never copied) and the
 * archive (500, which may add a XEP-0359 stanza-id the copies should carry).
 */
const SENT_PRIORITY = 100;

/** How many recent eligible messages per account an error may answer (§6.1). */
const RECENT_LIMIT = 128;

/**
 * §6.1 "of type error and sent in response to a <message/> that was
 * eligible": the eligible messages exchanged lately, by peer and id, per
 * running account (gone with the account actor's state).
 */
class RecentMessages {
  private readonly keys = new Set<string>();

  static key(peer: Jid, id: string): string {
    return `${peer.bareString()} ${id}`;
  }

  remember(key: string): void {
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > RECENT_LIMIT) {
      const oldest = this.keys.values().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }
}

/** The forwarded original (XEP-0297), shared by every copy; each copy gets its own wrapper. */
function forwarded(direction: CarbonDirection, original: XmlElement): XmlElement {
  return el(direction, NS_CARBONS, {}, el("forwarded", NS_FORWARD, {}, original));
}

/**
 * §7 and §8: from the user's bare JID, to the full JID of the resource
 * receiving the copy, with the original's type. Written straight to the
 * session, so a copy never bounces back to the original's sender (§10.3).
 */
function sendCopies(account: Account, targets: readonly ResourceSession[], direction: CarbonDirection, original: XmlElement): void {
  if (targets.length === 0) return;
  const payload = forwarded(direction, original);
  for (const s of targets) {
    s.session.send({ type: "deliver", stanza: el("message", NS.client, { from: account.bareJid, to: s.fullJid, type: original.attrs.type }, payload) });
  }
}

/** The carbons-enabled resources of the account, except those named. */
function enabledExcept(account: Account, enabled: SessionSlot<boolean>, excluded: (s: ResourceSession) => boolean): ResourceSession[] {
  const out: ResourceSession[] = [];
  for (const s of account.sessions.values()) if (enabled.get(s) && !excluded(s)) out.push(s);
  return out;
}

export const carbons: ParleyModule = {
  name: "carbons",
  load(api) {
    const enabled = api.sessionData(() => false);
    const recent = new WeakMap<Account, RecentMessages>();
    const recentOf = (account: Account): RecentMessages => {
      let r = recent.get(account);
      if (!r) recent.set(account, (r = new RecentMessages()));
      return r;
    };

    /** §6.1 eligibility; eligible messages with an id are remembered, so that an error answering one is eligible too. */
    const eligible = (account: Account, message: XmlElement, direction: CarbonDirection, peer: Jid): boolean => {
      const id = message.attrs.id;
      const key = id === undefined ? undefined : RecentMessages.key(peer, id);
      const ok = isEligibleForCarbons(message, direction, () => key !== undefined && recentOf(account).has(key));
      if (ok && key !== undefined && message.attrs.type !== "error") recentOf(account).remember(key);
      return ok;
    };

    // §4, §5, §10.1: enabling or disabling twice is no error; the state is this session's.
    for (const [name, on] of [["enable", true], ["disable", false]] as const) {
      api.iq("set", "self", NS_CARBONS, name, (req) => {
        const session = req.account.sessions.get(req.from.resource);
        if (session) enabled.set(session, on);
        return null;
      });
      // §4.1, §5.1: nobody enables or disables another user's carbons.
      api.iq("set", "bare", NS_CARBONS, name, () => {
        throw new StanzaError({ condition: "not-allowed", text: "Carbons are enabled or disabled by the account's own resources" });
      });
    }
    api.addFeature("host", NS_CARBONS);
    api.addFeature("host", NS_CARBONS_RULES);

    // XEP-0386 §2, §3: carbons may be enabled inline with a SASL2 bind (<enable/> in <bind/>); nothing goes in <bound/>.
    api.hook("bind2/features", ({ features }) => { features.push(NS_CARBONS); });
    api.hook("bind2/inline", ({ session, request }) => {
      if (request.getChild("enable", NS_CARBONS)) enabled.set(session, true);
    });

    // §8: a copy to the sender's other carbons-enabled resources, whether or not the sender enabled carbons.
    const sent = ({ stanza, to, account, session }: OutboundStanza): undefined => {
      // To the user's own JIDs the copies go out once delivered, when it is known who got it.
      if (account.sessions.size < 2 || to.equalsBare(account.jid)) return undefined;
      if (!eligible(account, stanza, "sent", to)) return undefined;
      sendCopies(account, enabledExcept(account, enabled, (s) => s === session), "sent", stanza);
      return undefined;
    };
    for (const kind of ["bare", "full", "host"] as const) api.hook(`pre-message/${kind}`, sent, SENT_PRIORITY);

    // §7: a copy to each carbons-enabled resource that did not get the message under
    // RFC 6121 (when it went offline, that is all of them); never to those it was addressed to.
    api.hook("message/delivered", ({ event, resources }) => {
      const { account, stanza, from } = event;
      if (account.sessions.size < 2 && resources.length > 0) return;
      // One of the user's resources wrote to the user's own JID: a sent copy (§8) for the
      // others, now that the delivery says who got the original; none to the sender.
      const own = from.resource !== "" && from.equalsBare(account.jid);
      const direction: CarbonDirection = own ? "sent" : "received";
      if (!eligible(account, stanza, direction, own ? event.to : from)) return;
      const sender = own ? account.sessions.get(from.resource) : undefined;
      sendCopies(account, enabledExcept(account, enabled, (s) => s === sender || resources.includes(s)), direction, stanza);
    });
  },
};
