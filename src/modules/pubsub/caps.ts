// XEP-0115 Entity Capabilities, as PEP needs them (XEP-0163 §4.3.1): which
// `<node>+notify` features each online resource announced. A caps hash is
// verified (§5.1, §5.4) before it is cached for everyone who announces it;
// an unverifiable answer still counts for the resource that gave it.

export { NS_CAPS, NS_DISCO_INFO, capsHash } from "../../xmpp/caps.js";

export class CapsCache {
  private readonly entries = new Map<string, ReadonlySet<string>>();
  constructor(private readonly size: number) {}

  get(key: string): ReadonlySet<string> | undefined {
    const v = this.entries.get(key);
    if (v) { this.entries.delete(key); this.entries.set(key, v); } // most recently used last
    return v;
  }

  set(key: string, features: ReadonlySet<string>): void {
    this.entries.delete(key);
    this.entries.set(key, features);
    while (this.entries.size > this.size) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

/** The nodes a set of features asks notifications of (XEP-0163 §4.3.1: `<node>+notify`). */
export function notifyNodes(features: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const f of features) if (f.endsWith("+notify")) out.add(f.slice(0, -"+notify".length));
  return out;
}
