// XEP-0352 Client State Indication: the stream feature (§4). What an inactive
// client is spared is decided on its delivery path (actors/client-state.ts),
// as every stanza written to a session passes there.
// https://xmpp.org/extensions/xep-0352.html
import { el } from "../../xml/element.js";
import type { ParleyModule } from "../../kernel/module-api.js";
import { NS_CSI } from "../../actors/client-state.js";

export const csi: ParleyModule = {
  name: "csi",
  load(api) {
    api.hook("stream-features", ({ stage, features }) => {
      if (stage === "post-auth") features.push(el("csi", NS_CSI));
    });
  },
};
