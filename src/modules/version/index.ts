// XEP-0092 Software Version of the server.
import { el } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import type { ParleyModule } from "../../kernel/module-api.js";
import { PARLEY_VERSION } from "../../version.js";

export const version: ParleyModule = {
  name: "version",
  load(api) {
    api.iq("get", "host", NS.version, "query", () =>
      el("query", NS.version, {},
        el("name", NS.version, {}, "Parley"),
        el("version", NS.version, {}, PARLEY_VERSION)));
    api.addFeature("host", NS.version);
  },
};
