// XEP-0157 Contact Addresses for XMPP Services: where to reach the people
// who run this server, as a serverinfo form in the server's disco#info.
import { el } from "../../xml/element.js";
import type { ParleyModule } from "../../kernel/module-api.js";

const NS_DATA = "jabber:x:data";
const SERVERINFO = "http://jabber.org/network/serverinfo";

export const contactAddresses: ParleyModule = {
  name: "contact_addresses",
  load(api) {
    api.addExtension(() => {
      const kinds = Object.entries(api.config.contactAddresses).filter(([, uris]) => uris.length > 0);
      if (kinds.length === 0) return undefined;
      return el("x", NS_DATA, { type: "result" },
        el("field", NS_DATA, { var: "FORM_TYPE", type: "hidden" }, el("value", NS_DATA, {}, SERVERINFO)),
        ...kinds.map(([kind, uris]) =>
          el("field", NS_DATA, { var: `${kind}-addresses`, type: "list-multi" }, ...uris.map((u) => el("value", NS_DATA, {}, u)))));
    });
  },
};
