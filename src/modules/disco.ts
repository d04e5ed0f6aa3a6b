// XEP-0030 Service Discovery: the server's identity and features, and an
// account's (identity account/registered, as Prosody's mod_disco answers).
import { el } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { StanzaError } from "../xmpp/errors.js";
import type { Host } from "../server/host.js";

function info(identity: { category: string; type: string; name?: string }, features: string[]) {
  return el("query", NS.discoInfo, {},
    el("identity", NS.discoInfo, identity),
    ...features.map((f) => el("feature", NS.discoInfo, { var: f })));
}

export function installDisco(host: Host): void {
  for (const scope of ["server", "account"] as const) {
    host.iq.addFeature(scope, NS.discoInfo);
    host.iq.addFeature(scope, NS.discoItems);
  }
  host.iq.onServer("get", NS.discoInfo, "query", (ctx, _iq, payload) => {
    // Nodes are not used by this server.
    if (payload.attrs.node !== undefined) throw new StanzaError({ condition: "item-not-found" });
    return info({ category: "server", type: "im", name: "Parley" }, ctx.host.iq.features("server"))
      .withChildren(...ctx.host.iq.serverExtensionForms());
  });
  host.iq.onServer("get", NS.discoItems, "query", (_ctx, _iq, payload) => {
    if (payload.attrs.node !== undefined) throw new StanzaError({ condition: "item-not-found" });
    return el("query", NS.discoItems);
  });
  host.iq.onAccount("get", NS.discoInfo, "query", (ctx, _iq, payload) => {
    if (payload.attrs.node !== undefined) throw new StanzaError({ condition: "item-not-found" });
    // An account's features are visible to itself and to contacts it shares presence with.
    if (!ctx.self && !ctx.mayDiscover) throw new StanzaError({ condition: "service-unavailable" });
    return info({ category: "account", type: "registered" }, ctx.host.iq.features("account"));
  });
  host.iq.onAccount("get", NS.discoItems, "query", (ctx, _iq, payload) => {
    if (payload.attrs.node !== undefined) throw new StanzaError({ condition: "item-not-found" });
    if (!ctx.self && !ctx.mayDiscover) throw new StanzaError({ condition: "service-unavailable" });
    return el("query", NS.discoItems);
  });
}
