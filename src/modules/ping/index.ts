// XEP-0199 XMPP Ping: the server and each account answer pings.
import { NS } from "../../xmpp/namespaces.js";
import type { ParleyModule } from "../../kernel/module-api.js";

export const ping: ParleyModule = {
  name: "ping",
  load(api) {
    api.iq("get", "host", NS.ping, "ping", () => null);
    api.iq("get", "self", NS.ping, "ping", () => null);
    api.iq("get", "bare", NS.ping, "ping", () => null);
    api.addFeature("host", NS.ping);
  },
};
