// XEP-0030 Service Discovery: the server's identity and features, and an
// account's (identity account/registered, as Prosody's mod_disco answers).
// Every module contributes its features through `disco-info/host` and
// `disco-info/account` (ModuleApi.addFeature), and its items and nodes through
// `disco-items/host` and `disco-items/account`; this module asks them.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { DiscoInfoBuild, DiscoItemsBuild } from "../../kernel/events.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { AccountIqRequest } from "../../kernel/events.js";
import { parseJid } from "../../jid/jid.js";
import { capsHash, NS_CAPS } from "../../xmpp/caps.js";

/** XEP-0115 §4: the node names the software; a URI, and this one is ours alone. */
export const CAPS_NODE = "urn:parley";

function infoQuery(b: DiscoInfoBuild): XmlElement {
  if (b.node !== undefined && !b.nodeFound) throw new StanzaError({ condition: "item-not-found" });
  return el("query", NS.discoInfo, b.node === undefined ? {} : { node: b.node },
    ...b.identities.map((i) => el("identity", NS.discoInfo, { category: i.category, type: i.type, name: i.name })),
    ...[...b.features].sort().map((f) => el("feature", NS.discoInfo, { var: f })),
    ...b.extensions);
}

function itemsQuery(b: DiscoItemsBuild): XmlElement {
  if (b.node !== undefined && !b.nodeFound) throw new StanzaError({ condition: "item-not-found" });
  return el("query", NS.discoItems, b.node === undefined ? {} : { node: b.node },
    ...b.items.map((i) => el("item", NS.discoItems, { jid: i.jid, node: i.node, name: i.name })));
}

function accountInfo(api: ModuleApi) {
  return (req: AccountIqRequest) => {
    // An account's features are visible to itself and to contacts it shares presence with.
    if (!req.mayDiscover) throw new StanzaError({ condition: "service-unavailable" });
    const build = { requester: req.from, account: req.account, node: req.payload.attrs.node, nodeFound: false, identities: [], features: new Set<string>(), extensions: [] };
    api.fire("disco-info/account", build);
    return infoQuery(build);
  };
}

function accountItems(api: ModuleApi) {
  return (req: AccountIqRequest) => {
    // As Prosody answers: only the user and contacts subscribed to its presence
    // (PEP nodes are further filtered by their access model in their own handler).
    if (!req.mayDiscover) throw new StanzaError({ condition: "service-unavailable" });
    const build = { requester: req.from, account: req.account, node: req.payload.attrs.node, nodeFound: false, items: [] };
    api.fire("disco-items/account", build);
    return itemsQuery(build);
  };
}

export const disco: ParleyModule = {
  name: "disco",
  load(api) {
    for (const scope of ["host", "account"] as const) {
      api.addFeature(scope, NS.discoInfo);
      api.addFeature(scope, NS.discoItems);
    }
    api.addIdentity("host", { category: "server", type: "im", name: "Parley" });
    api.addIdentity("account", { category: "account", type: "registered" });
    api.iq("get", "host", NS.discoInfo, "query", (req) => {
      const build = { requester: req.from, domain: req.domain, node: req.payload.attrs.node, nodeFound: false, identities: [], features: new Set<string>(), extensions: [] };
      api.fire("disco-info/host", build);
      return infoQuery(build);
    });
    api.iq("get", "host", NS.discoItems, "query", (req) => {
      const build = { requester: req.from, domain: req.domain, node: req.payload.attrs.node, nodeFound: false, items: [] };
      api.fire("disco-items/host", build);
      return itemsQuery(build);
    });
    /** The domain's own disco#info, as an entity (the server) answers it to anyone. */
    const hostInfo = (domain: string) => {
      const build = { requester: parseJid(domain), domain, node: undefined, nodeFound: false, identities: [], features: new Set<string>(), extensions: [] };
      api.fire("disco-info/host", build);
      return infoQuery(build);
    };
    // XEP-0115 §6.3: the server's capabilities in its stream features, so a
    // client that cached this hash needs no disco#info of the server.
    api.hook("stream-features", ({ stage, features, domain }) => {
      if (stage !== "pre-auth") return;
      features.push(el("c", NS_CAPS, { hash: "sha-1", node: CAPS_NODE, ver: capsHash(hostInfo(domain)) }));
    });
    for (const target of ["self", "bare"] as const) {
      api.iq("get", target, NS.discoInfo, "query", accountInfo(api));
      api.iq("get", target, NS.discoItems, "query", accountItems(api));
    }
  },
};
