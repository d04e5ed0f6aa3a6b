// XEP-0030 Service Discovery: the server's identity and features, and an
// account's (identity account/registered, as Prosody's mod_disco answers).
// Every module contributes its features through `disco-info/host` and
// `disco-info/account` (ModuleApi.addFeature); this module asks them.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { DiscoInfoBuild } from "../../kernel/events.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { AccountIqRequest } from "../../kernel/events.js";

function infoQuery(b: DiscoInfoBuild): XmlElement {
  return el("query", NS.discoInfo, {},
    ...b.identities.map((i) => el("identity", NS.discoInfo, { category: i.category, type: i.type, name: i.name })),
    ...[...b.features].sort().map((f) => el("feature", NS.discoInfo, { var: f })),
    ...b.extensions);
}

function noNode(payload: XmlElement): void {
  // Nodes are not used by this server.
  if (payload.attrs.node !== undefined) throw new StanzaError({ condition: "item-not-found" });
}

function accountInfo(api: ModuleApi) {
  return (req: AccountIqRequest) => {
    noNode(req.payload);
    // An account's features are visible to itself and to contacts it shares presence with.
    if (!req.mayDiscover) throw new StanzaError({ condition: "service-unavailable" });
    const build = { requester: req.from, account: req.account, identities: [], features: new Set<string>(), extensions: [] };
    api.fire("disco-info/account", build);
    return infoQuery(build);
  };
}

function accountItems(req: AccountIqRequest): XmlElement {
  noNode(req.payload);
  if (!req.mayDiscover) throw new StanzaError({ condition: "service-unavailable" });
  return el("query", NS.discoItems);
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
      noNode(req.payload);
      const build = { requester: req.from, domain: req.domain, identities: [], features: new Set<string>(), extensions: [] };
      api.fire("disco-info/host", build);
      return infoQuery(build);
    });
    api.iq("get", "host", NS.discoItems, "query", (req) => {
      noNode(req.payload);
      return el("query", NS.discoItems);
    });
    for (const target of ["self", "bare"] as const) {
      api.iq("get", target, NS.discoInfo, "query", accountInfo(api));
      api.iq("get", target, NS.discoItems, "query", accountItems);
    }
  },
};
