// IQ handlers keyed by where the IQ is addressed and by its payload, in the
// manner of Prosody's "iq-get/host/urn:xmpp:ping:ping" events: each feature
// module registers what it answers; anything unregistered gets
// service-unavailable (RFC 6120 §8.4).
import type { XmlElement } from "../xml/element.js";

/** `server`: IQs to the domain. `account`: IQs to a user's bare JID (or with no `to`). */
export type IqScope = "server" | "account";

/**
 * Returns the reply payload, null for an empty result, or throws a
 * StanzaError. Handlers are synchronous: the state they need is in memory.
 */
export type IqHandler<C> = (ctx: C, iq: XmlElement, payload: XmlElement) => XmlElement | null;

export class IqRegistry<ServerCtx, AccountCtx> {
  private readonly server = new Map<string, IqHandler<ServerCtx>>();
  private readonly account = new Map<string, IqHandler<AccountCtx>>();
  private readonly serverFeatures = new Set<string>();
  private readonly accountFeatures = new Set<string>();
  private readonly serverExtensions: (() => XmlElement | undefined)[] = [];

  private static key(type: "get" | "set", ns: string, name: string): string {
    return `${type} ${ns} ${name}`;
  }

  onServer(type: "get" | "set", ns: string, name: string, handler: IqHandler<ServerCtx>): void {
    this.server.set(IqRegistry.key(type, ns, name), handler);
  }

  onAccount(type: "get" | "set", ns: string, name: string, handler: IqHandler<AccountCtx>): void {
    this.account.set(IqRegistry.key(type, ns, name), handler);
  }

  /** Features advertised in disco#info (XEP-0030) for each scope. */
  addFeature(scope: IqScope, feature: string): void {
    (scope === "server" ? this.serverFeatures : this.accountFeatures).add(feature);
  }

  /** XEP-0128 extended information (data forms) for the server's disco#info. */
  addServerExtension(form: () => XmlElement | undefined): void {
    this.serverExtensions.push(form);
  }

  serverExtensionForms(): XmlElement[] {
    const out: XmlElement[] = [];
    for (const f of this.serverExtensions) {
      const form = f();
      if (form) out.push(form);
    }
    return out;
  }

  features(scope: IqScope): string[] {
    return [...(scope === "server" ? this.serverFeatures : this.accountFeatures)].sort();
  }

  serverHandler(iq: XmlElement, payload: XmlElement): IqHandler<ServerCtx> | undefined {
    const type = iq.attrs.type;
    if (type !== "get" && type !== "set") return undefined;
    return this.server.get(IqRegistry.key(type, payload.ns, payload.name));
  }

  accountHandler(iq: XmlElement, payload: XmlElement): IqHandler<AccountCtx> | undefined {
    const type = iq.attrs.type;
    if (type !== "get" && type !== "set") return undefined;
    return this.account.get(IqRegistry.key(type, payload.ns, payload.name));
  }
}
