// Checks on the client's stream header (RFC 6120 §4.7, §4.9.3).
import { NS } from "./namespaces.js";
import type { StreamErrorCondition } from "./errors.js";

export interface StreamHeaderEvent {
  type: "xml.streamStart";
  attrs: Record<string, string>;
  /** Namespace and local name of the root element. */
  ns: string;
  localName: string;
  /** The default namespace the header declared (content namespace). */
  defaultNs: string | undefined;
}

export interface HeaderProblem {
  condition: StreamErrorCondition;
  text: string;
}

export function checkStreamHeader(
  header: StreamHeaderEvent,
  host: { servesDomain(domain: string): boolean },
): HeaderProblem | undefined {
  if (header.ns !== NS.stream || header.localName !== "stream") {
    return { condition: "invalid-namespace", text: `Root element must be <stream> in ${NS.stream}` };
  }
  if (header.defaultNs !== NS.client) {
    return { condition: "invalid-namespace", text: `Content namespace must be ${NS.client}` };
  }
  // §4.7.5: no version means pre-1.0 XMPP, which we do not speak.
  const version = header.attrs.version;
  const major = version === undefined ? 0 : Number.parseInt(version.split(".")[0] ?? "", 10);
  if (!(major >= 1)) {
    return { condition: "unsupported-version", text: "Stream version 1.0 is required" };
  }
  if (major > 1) {
    return { condition: "unsupported-version", text: `Version ${version} is not supported; use 1.0` };
  }
  const to = header.attrs.to;
  if (to !== undefined && !host.servesDomain(to.toLowerCase())) {
    return { condition: "host-unknown", text: `This server does not serve ${to}` };
  }
  return undefined;
}
