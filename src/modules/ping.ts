// XEP-0199 XMPP Ping: the server and each account answer pings.
import { NS } from "../xmpp/namespaces.js";
import type { Host } from "../server/host.js";

export function installPing(host: Host): void {
  host.iq.onServer("get", NS.ping, "ping", () => null);
  host.iq.onAccount("get", NS.ping, "ping", () => null);
  host.iq.addFeature("server", NS.ping);
}
