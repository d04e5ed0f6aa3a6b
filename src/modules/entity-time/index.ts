// XEP-0202 Entity Time: the server's time, in UTC.
import { el } from "../../xml/element.js";
import type { ParleyModule } from "../../kernel/module-api.js";

const NS_TIME = "urn:xmpp:time";

export const entityTime: ParleyModule = {
  name: "time",
  load(api) {
    api.iq("get", "host", NS_TIME, "time", () =>
      el("time", NS_TIME, {},
        el("tzo", NS_TIME, {}, "+00:00"),
        el("utc", NS_TIME, {}, api.now().toISOString().replace(/\.\d{3}Z$/, "Z"))));
    api.addFeature("host", NS_TIME);
  },
};
