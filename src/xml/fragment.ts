// Parse one stored stanza back into an element (offline messages, stored
// subscription requests). It is written by us, so it is trusted input, but
// it still goes through the same strict parser as the network.
import { XmlStreamParser } from "./stream-parser.js";
import type { XmlElement } from "./element.js";

const WRAP_OPEN = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

export function parseFragment(xml: string): XmlElement | undefined {
  let result: XmlElement | undefined;
  const parser = new XmlStreamParser({
    streamStart() {},
    stanza(el) { result ??= el; },
    streamEnd() {},
    error() {},
  }, { maxStanzaBytes: Number.MAX_SAFE_INTEGER, maxDepth: 1000 });
  parser.write(WRAP_OPEN + xml + "</stream:stream>");
  return result;
}
