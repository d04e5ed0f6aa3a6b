// XEP-0092 Software Version of the server.
import { el } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import type { Host } from "../server/host.js";
import { PARLEY_VERSION } from "../version.js";

export function installVersion(host: Host): void {
  host.iq.onServer("get", NS.version, "query", () =>
    el("query", NS.version, {},
      el("name", NS.version, {}, "Parley"),
      el("version", NS.version, {}, PARLEY_VERSION)));
  host.iq.addFeature("server", NS.version);
}
