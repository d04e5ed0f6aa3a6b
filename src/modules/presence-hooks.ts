// The seams between basic presence and the roster: who our subscribers are,
// what to do on initial presence, how subscription stanzas are handled. The
// roster module installs its implementation at start-up; the defaults are a
// server without rosters (no subscribers, subscription stanzas passed on).
import type { XmlElement } from "../xml/element.js";
import type { AccountContext } from "../server/host.js";
import type { ResourceSession } from "../actors/account-runtime.js";

export interface PresenceHooks {
  /** Bare JIDs that receive this user's presence broadcasts. */
  subscribersFor(ctx: AccountContext): Iterable<string>;
  isSubscriber(ctx: AccountContext, jid: string): boolean;
  /** After a resource's first available presence: probes, pending requests. */
  initialPresence(ctx: AccountContext, session: ResourceSession): void;
  /** Outbound subscribe/subscribed/unsubscribe/unsubscribed/probe; true when handled. */
  outboundSubscription(ctx: AccountContext, session: ResourceSession, stanza: XmlElement): boolean;
  /** Inbound presence of a subscription type or probe. */
  inboundSubscription(ctx: AccountContext, stanza: XmlElement): void;
}

export const presenceHooks: PresenceHooks = {
  subscribersFor: () => [],
  isSubscriber: () => false,
  initialPresence: () => {},
  outboundSubscription: () => false,
  inboundSubscription: (ctx, stanza) => {
    for (const s of ctx.runtime.availableSessions()) s.session.send({ type: "deliver", stanza });
  },
};

export function installPresenceHooks(hooks: PresenceHooks): void {
  Object.assign(presenceHooks, hooks);
}
