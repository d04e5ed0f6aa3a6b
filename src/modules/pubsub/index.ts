// XEP-0060 Publish-Subscribe at pubsub.<domain> (a component, ModuleApi.component)
// and XEP-0163 PEP on every account's bare JID, one engine (engine.ts) for
// both. PEP notifications go to the owner's resources and to contacts who see
// its presence, each resource as its XEP-0115 caps say (`<node>+notify`):
// caps hashes announced in presence are asked once (disco#info from the
// account's bare JID), verified and cached. Hooks fired for other modules:
// `pep/published` (vCard avatars, bookmarks bridges).
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError } from "../../xmpp/errors.js";
import { tryParseJid, type Jid } from "../../jid/jid.js";
import { HANDLED } from "../../kernel/hooks.js";
import type { Account } from "../../kernel/account.js";
import type { AccountIqRequest } from "../../kernel/events.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import { isContactSubscribed, subscribersOf, subscriptionsOf } from "../../roster/predicates.js";
import { PubsubEngine, type Audience, type ServiceContext } from "./engine.js";
import { NS_PUBSUB, NS_PUBSUB_OWNER, mayAccess, type NodeState } from "./node.js";
import { CapsCache, NS_CAPS, NS_DISCO_INFO, capsHash, notifyNodes } from "./caps.js";
import { pubsubProjection } from "./projection.js";
import { NS_DATA, PUBLISH_OPTIONS } from "./forms.js";
import { parseFragment } from "../../xml/fragment.js";

const PEP_FEATURES = [
  NS_PUBSUB, `${NS_PUBSUB}#publish`, `${NS_PUBSUB}#auto-create`, `${NS_PUBSUB}#publish-options`, `${NS_PUBSUB}#retrieve-items`,
  `${NS_PUBSUB}#retract-items`, `${NS_PUBSUB}#subscribe`, `${NS_PUBSUB}#config-node`, `${NS_PUBSUB}#delete-nodes`,
  `${NS_PUBSUB}#purge-nodes`, `${NS_PUBSUB}#access-presence`, `${NS_PUBSUB}#access-open`, `${NS_PUBSUB}#access-whitelist`,
  `${NS_PUBSUB}#item-ids`, `${NS_PUBSUB}#last-published`, `${NS_PUBSUB}#multi-items`, `${NS_PUBSUB}#modify-affiliations`,
  // XEP-0163 §1: contacts are subscribed by their presence subscription, and filtered by their +notify caps.
  `${NS_PUBSUB}#auto-subscribe`, `${NS_PUBSUB}#filtered-notifications`, `${NS_PUBSUB}#access-roster`,
];
const SERVICE_FEATURES = [...PEP_FEATURES.filter((f) => !/#(auto-create|auto-subscribe|filtered-notifications)$/.test(f)), `${NS_PUBSUB}#create-nodes`, `${NS_PUBSUB}#instant-nodes`, `${NS_PUBSUB}#retrieve-subscriptions`, `${NS_PUBSUB}#retrieve-affiliations`];

function message(state: NodeState, from: string, to: string, event: XmlElement): XmlElement {
  return el("message", NS.client, { type: state.config.notificationType, from, to }, event);
}

export const pubsub: ParleyModule = {
  name: "pubsub",
  projections: [pubsubProjection],
  load(api: ModuleApi) {
    const limits = api.config.pubsub;
    const engine = new PubsubEngine(api.db, api.events, limits, () => api.joinTurn(), () => api.now());
    const caps = new CapsCache(limits.capsCacheSize);
    /** bare JID → resource → the features its caps announced. */
    const online = new Map<string, Map<string, ReadonlySet<string>>>();
    /** full JID → the caps node#ver asked of it and its hash. */
    const pending = new Map<string, { key: string; ver: string; hash: string | undefined }>();

    const featuresOf = (bare: string, resource: string) => online.get(bare)?.get(resource);
    const setFeatures = (bare: string, resource: string, features: ReadonlySet<string>) => {
      let m = online.get(bare);
      if (!m) online.set(bare, (m = new Map()));
      m.set(resource, features);
    };
    const forget = (bare: string, resource: string) => {
      const m = online.get(bare);
      m?.delete(resource);
      if (m && m.size === 0) online.delete(bare);
      pending.delete(`${bare}/${resource}`);
    };

    // ---- the component: pubsub.<domain>
    const serviceAudience: Audience = {
      broadcast(state, event) {
        for (const jid of state.subscriptions) api.route(message(state, state.service, jid, event));
      },
      sendTo(state, jid, event) {
        api.route(message(state, state.service, jid, event));
      },
    };
    const isLocalUser = (from: Jid) => from.local !== "" && api.config.domains.includes(from.domain);
    const mayCreateAt = (from: Jid) => limits.creators === "local" ? isLocalUser(from) : api.config.admins.map((a) => a.toLowerCase()).includes(from.bareString());

    const serviceDisco = (domain: string, payload: XmlElement): XmlElement => {
      const node = payload.attrs.node;
      if (payload.ns === NS.discoInfo) {
        if (node === undefined) {
          return el("query", NS.discoInfo, {}, el("identity", NS.discoInfo, { category: "pubsub", type: "service", name: "Parley publish-subscribe" }),
            ...[NS.discoInfo, NS.discoItems, ...SERVICE_FEATURES].sort().map((f) => el("feature", NS.discoInfo, { var: f })));
        }
        const state = engine.node(domain, node);
        if (!state) throw new StanzaError({ condition: "item-not-found" });
        return el("query", NS.discoInfo, { node }, el("identity", NS.discoInfo, { category: "pubsub", type: "leaf" }), el("feature", NS.discoInfo, { var: NS_PUBSUB }));
      }
      if (node !== undefined) {
        if (!engine.node(domain, node)) throw new StanzaError({ condition: "item-not-found" });
        return el("query", NS.discoItems, { node });
      }
      return el("query", NS.discoItems, {}, ...engine.nodesOf(domain).map((n) => el("item", NS.discoItems, { jid: domain, node: n.node, name: n.config.title || undefined })));
    };

    const acceptAtService = (stanza: XmlElement, to: Jid): void => {
      const from = stanza.attrs.from === undefined ? undefined : tryParseJid(stanza.attrs.from);
      if (!from) return;
      if (stanza.name !== "iq") {
        if (stanza.name === "message") api.bounce(stanza, { condition: "service-unavailable" }, to.toString());
        return;
      }
      const type = stanza.attrs.type;
      if (type !== "get" && type !== "set") return;
      const domain = to.domain;
      try {
        if (to.local !== "" || to.resource !== "") throw new StanzaError({ condition: "item-not-found" });
        const payloads = stanza.getChildren();
        const payload = payloads[0];
        if (payloads.length !== 1 || !payload) throw new StanzaError({ condition: "bad-request", text: "An IQ request carries exactly one payload element" });
        let result: XmlElement | null;
        let after: (() => void) | undefined;
        if ((payload.ns === NS.discoInfo || payload.ns === NS.discoItems) && type === "get" && payload.name === "query") {
          result = serviceDisco(domain, payload);
        } else if ((payload.ns === NS_PUBSUB || payload.ns === NS_PUBSUB_OWNER) && payload.name === "pubsub") {
          const ctx: ServiceContext = { service: domain, kind: "service", requester: from, mayCreate: mayCreateAt(from), seesPresence: false, audience: serviceAudience };
          ({ result, after } = engine.handle(type, payload, ctx));
        } else {
          throw new StanzaError({ condition: "service-unavailable" });
        }
        api.route(el("iq", NS.client, { type: "result", id: stanza.attrs.id, from: domain, to: stanza.attrs.from }, result ?? undefined));
        after?.();
      } catch (err) {
        if (err instanceof StanzaError) return api.bounce(stanza, err.spec, domain);
        api.log.error("pubsub request failed", { error: String((err as Error)?.stack ?? err) });
        api.bounce(stanza, { condition: "internal-server-error" }, domain);
      }
    };
    if (limits.component) {
      for (const domain of api.config.domains) api.component(`pubsub.${domain}`, { accept: acceptAtService, name: "Publish-subscribe" });
    }

    // ---- PEP: the account's bare JID
    const pepAudience = (account: Account): Audience => {
      const owner = account.bareJid;
      const deliver = (state: NodeState, to: string, event: XmlElement, sent: Set<string>) => {
        if (sent.has(to)) return;
        sent.add(to);
        const parsed = tryParseJid(to);
        // The owner's own resources get it at once, ahead of the publisher's result.
        if (parsed && parsed.bareString() === owner && parsed.resource !== "" && account.deliver(parsed.resource, message(state, owner, to, event))) return;
        api.route(message(state, owner, to, event));
      };
      return {
        broadcast(state, event) {
          const sent = new Set<string>();
          // XEP-0163 §4.3.1: the owner's and its contacts' resources that asked with +notify.
          for (const s of account.sessions.values()) {
            if (s.available && featuresOf(owner, s.resource)?.has(`${state.node}+notify`)) deliver(state, s.fullJid, event, sent);
          }
          for (const contact of subscribersOf(account.roster)) {
            if (!mayAccess(state, contact, true, account.roster.items.get(contact)?.groups)) continue;
            for (const [resource, features] of online.get(contact) ?? []) {
              if (features.has(`${state.node}+notify`)) deliver(state, `${contact}/${resource}`, event, sent);
            }
          }
          // Explicit XEP-0060 subscriptions to the PEP node.
          for (const jid of state.subscriptions) deliver(state, jid, event, sent);
        },
        sendTo(state, jid, event) {
          deliver(state, jid, event, new Set());
        },
      };
    };

    const publishedOn = (account: Account) => (node: string, id: string, payload: XmlElement | undefined) => {
      api.fire("pep/published", { account, node, id, payload });
    };

    const retractedOn = (account: Account) => (node: string, id: string) => {
      api.fire("pep/retracted", { account, node, id });
    };

    const pepRequest = (type: "get" | "set") => (req: AccountIqRequest) => {
      const owner = req.account.bareJid;
      const ctx: ServiceContext = {
        service: owner, kind: "pep", requester: req.from, mayCreate: req.self, seesPresence: req.mayDiscover, audience: pepAudience(req.account),
        rosterGroups: req.account.roster.items.get(req.from.bareString())?.groups ?? [],
        published: publishedOn(req.account),
        retracted: retractedOn(req.account),
      };
      const { result, after } = engine.handle(type, req.payload, ctx);
      if (after) req.afterReply(after);
      return result;
    };
    for (const target of ["self", "bare"] as const) {
      for (const ns of [NS_PUBSUB, NS_PUBSUB_OWNER]) {
        api.iq("get", target, ns, "pubsub", pepRequest("get"));
        api.iq("set", target, ns, "pubsub", pepRequest("set"));
      }
    }
    api.addIdentity("account", { category: "pubsub", type: "pep" });
    // As Prosody's mod_pep: the server says it offers PEP in its own disco#info too,
    // which is where clients (Smack's OMEMO, among others) look for it.
    api.addIdentity("host", { category: "pubsub", type: "pep" });
    api.addFeature("host", NS_PUBSUB);
    api.addFeature("host", `${NS_PUBSUB}#publish`);
    for (const f of PEP_FEATURES) api.addFeature("account", f);

    // XEP-0163 §7 / XEP-0030: the PEP nodes the requester may see.
    api.hook("disco-items/account", (b) => {
      if (b.node !== undefined) return;
      const owner = b.account.bareJid;
      const requester = b.requester.bareString();
      const sees = requester === owner || isContactSubscribed(b.account.roster, requester);
      for (const n of engine.nodesOf(owner)) {
        if (mayAccess(n, requester, sees, b.account.roster.items.get(requester)?.groups)) b.items.push({ jid: owner, node: n.node, ...(n.config.title ? { name: n.config.title } : {}) });
      }
    });

    // XEP-0030 §3.2 on a PEP node: a leaf, to those who may see it.
    api.hook("disco-info/account", (b) => {
      if (b.node === undefined) return;
      const n = engine.node(b.account.bareJid, b.node);
      const requester = b.requester.bareString();
      const sees = requester === b.account.bareJid || isContactSubscribed(b.account.roster, requester);
      if (!n || !mayAccess(n, requester, sees, b.account.roster.items.get(requester)?.groups)) return;
      b.nodeFound = true;
      b.identities.push({ category: "pubsub", type: "leaf" });
      b.features.add(NS_PUBSUB);
    });

    /** XEP-0163 §4.3.2: the last items of the nodes a resource just said it wants. */
    const sendLastItems = (account: Account, resource: string, features: ReadonlySet<string>) => {
      const wanted = notifyNodes(features);
      if (wanted.size === 0) return;
      const owner = account.bareJid;
      const to = `${owner}/${resource}`;
      for (const service of [owner, ...subscriptionsOf(account.roster)]) {
        for (const n of engine.nodesOf(service)) {
          if (!wanted.has(n.node) || n.config.sendLastPublishedItem === "never" || !mayAccess(n, owner, true)) continue;
          const event = engine.lastItemEvent(n, "pep");
          if (!event) continue;
          if (service === owner) account.deliver(resource, message(n, owner, to, event));
          else api.route(message(n, service, to, event));
        }
      }
    };

    // XEP-0115 §6.3: presence with caps from one of the user's resources.
    api.hook("pre-presence/bare", (e) => {
      if (e.addressed) return;
      const type = e.stanza.attrs.type;
      const owner = e.account.bareJid;
      const resource = e.session.resource;
      if (type === "unavailable") return void forget(owner, resource);
      if (type !== undefined) return;
      const c = e.stanza.getChild("c", NS_CAPS);
      const node = c?.attrs.node;
      const ver = c?.attrs.ver;
      if (!c || node === undefined || ver === undefined) return void setFeatures(owner, resource, new Set());
      const key = `${node}#${ver}`;
      const known = caps.get(key);
      if (known) {
        const before = featuresOf(owner, resource);
        setFeatures(owner, resource, known);
        if (before !== known) sendLastItems(e.account, resource, known);
        return;
      }
      if (pending.get(e.from.toString())?.key === key) return;
      pending.set(e.from.toString(), { key, ver, hash: c.attrs.hash });
      // Asked before the presence goes out, as Prosody does; the answer comes back to the bare JID.
      e.account.deliver(resource, el("iq", NS.client, { type: "get", id: "disco", from: owner, to: e.from.toString() },
        el("query", NS_DISCO_INFO, { node: key })));
    }, 200);

    /** A disco#info answer to a caps query: the features it names, or undefined when it answers nothing we asked. */
    const capsAnswer = (stanza: XmlElement, from: Jid): ReadonlySet<string> | "handled" | undefined => {
      const type = stanza.attrs.type;
      if (type !== "result" && type !== "error") return undefined;
      const full = from.toString();
      const asked = pending.get(full);
      if (!asked) return undefined;
      const query = stanza.getChild("query", NS_DISCO_INFO);
      if (type === "result" && query?.attrs.node !== asked.key) return undefined;
      pending.delete(full);
      if (type === "error" || !query) return "handled";
      const features: ReadonlySet<string> = new Set(query.getChildren("feature", NS_DISCO_INFO).map((f) => f.attrs.var ?? ""));
      // §5.4: only a verified hash is trusted for others who announce it.
      if (asked.hash === "sha-1" && capsHash(query) === asked.ver) caps.set(asked.key, features);
      setFeatures(from.bareString(), from.resource, features);
      return features;
    };

    // The answer to that disco#info, sent by the resource to its own bare JID.
    api.hook("pre-iq/bare", (e) => {
      if (!e.to.equals(e.account.jid)) return;
      const features = capsAnswer(e.stanza, e.from);
      if (features === undefined) return;
      if (features !== "handled") sendLastItems(e.account, e.from.resource, features);
      return HANDLED;
    }, 200);

    // Contacts at other servers (XEP-0163 §4.3.2 over server-to-server): their
    // presence reaches the owner's account; unknown caps are asked from the
    // owner's bare JID, once per hash, and the owner's last items follow.
    const isLocal = (jid: Jid) => api.config.domains.includes(jid.domain);
    const sendOwnLastItems = (account: Account, to: Jid, features: ReadonlySet<string>) => {
      const wanted = notifyNodes(features);
      const contact = to.bareString();
      for (const n of engine.nodesOf(account.bareJid)) {
        if (!wanted.has(n.node) || n.config.sendLastPublishedItem === "never") continue;
        if (!mayAccess(n, contact, isContactSubscribed(account.roster, contact), account.roster.items.get(contact)?.groups)) continue;
        const event = engine.lastItemEvent(n, "pep");
        if (event) api.route(message(n, account.bareJid, to.toString(), event));
      }
    };
    for (const hook of ["presence/bare", "presence/full"] as const) {
      api.hook(hook, (e) => {
        if (isLocal(e.from) || e.from.resource === "") return;
        const contact = e.from.bareString();
        const type = e.stanza.attrs.type;
        if (type === "unavailable") return void forget(contact, e.from.resource);
        if (type !== undefined) return;
        const c = e.stanza.getChild("c", NS_CAPS);
        const node = c?.attrs.node;
        const ver = c?.attrs.ver;
        if (!c || node === undefined || ver === undefined) return void setFeatures(contact, e.from.resource, new Set());
        const key = `${node}#${ver}`;
        const known = caps.get(key);
        if (known) {
          const before = featuresOf(contact, e.from.resource);
          setFeatures(contact, e.from.resource, known);
          if (before !== known) sendOwnLastItems(e.account, e.from, known);
          return;
        }
        const full = e.from.toString();
        if (pending.get(full)?.key === key) return;
        pending.set(full, { key, ver, hash: c.attrs.hash });
        api.route(el("iq", NS.client, { type: "get", id: "disco", from: e.account.bareJid, to: full }, el("query", NS_DISCO_INFO, { node: key })));
      }, 200);
    }
    api.hook("iq/bare", (e) => {
      if (isLocal(e.from)) return;
      const features = capsAnswer(e.stanza, e.from);
      if (features === undefined) return;
      if (features !== "handled") sendOwnLastItems(e.account, e.from, features);
      return HANDLED;
    }, 200);

    // ---- for bridging modules (XEP-0048 bookmarks in private storage, vCard avatars)
    const asOwner = (account: Account): ServiceContext => ({
      service: account.bareJid, kind: "pep", requester: account.jid, mayCreate: true, seesPresence: true, audience: pepAudience(account),
      published: publishedOn(account),
      retracted: retractedOn(account),
    });
    api.hook("pep/publish", (p) => {
      const options = el("x", NS_DATA, { type: "submit" },
        el("field", NS_DATA, { var: "FORM_TYPE", type: "hidden" }, el("value", NS_DATA, {}, PUBLISH_OPTIONS)),
        ...[...p.options].map(([name, values]) => el("field", NS_DATA, { var: name }, ...values.map((v) => el("value", NS_DATA, {}, v)))));
      const request = el("pubsub", NS_PUBSUB, {}, el("publish", NS_PUBSUB, { node: p.node }, el("item", NS_PUBSUB, { id: p.id }, p.payload)),
        el("publish-options", NS_PUBSUB, {}, options));
      try {
        engine.handle("set", request, asOwner(p.account));
      } catch (err) {
        if (!(err instanceof StanzaError)) throw err;
        p.error = err.spec;
      }
      return HANDLED;
    });
    api.hook("pep/retract", (p) => {
      const state = engine.node(p.account.bareJid, p.node);
      if (!state || !engine.items.get(state.service, state.node, p.id)) return HANDLED;
      engine.handle("set", el("pubsub", NS_PUBSUB, {}, el("retract", NS_PUBSUB, { node: p.node, notify: "1" }, el("item", NS_PUBSUB, { id: p.id }))), asOwner(p.account));
      return HANDLED;
    });
    api.hook("pep/items", (p) => {
      const state = engine.node(p.account.bareJid, p.node);
      if (!state) return HANDLED;
      p.found = true;
      for (const item of engine.items.newest(state.service, state.node, limits.maxItems)) {
        p.items.push({ id: item.id, payload: item.payload === "" ? undefined : parseFragment(item.payload) });
      }
      return HANDLED;
    });

    api.hook("resource-unbind", ({ account, session }) => forget(account.bareJid, session.resource));

    api.hook("account-deleted", ({ jid }) => {
      engine.forgetAccount(jid.bareString(), { kind: "server", reason: "account deleted" });
      online.delete(jid.bareString());
    });

  },
};
