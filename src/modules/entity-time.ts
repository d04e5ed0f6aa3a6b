// XEP-0202 Entity Time: the server's time, in UTC.
import { el } from "../xml/element.js";
import type { Host } from "../server/host.js";

const NS_TIME = "urn:xmpp:time";

export function installEntityTime(host: Host): void {
  host.iq.onServer("get", NS_TIME, "time", (ctx) =>
    el("time", NS_TIME, {},
      el("tzo", NS_TIME, {}, "+00:00"),
      el("utc", NS_TIME, {}, ctx.host.now().toISOString().replace(/\.\d{3}Z$/, "Z"))));
  host.iq.addFeature("server", NS_TIME);
}
