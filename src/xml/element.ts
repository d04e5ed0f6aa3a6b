// The in-memory form of an XML element: what the stream parser produces and
// what every stanza handler reads and builds.
//
// Namespaces are resolved at parse time: `ns` is the element's namespace URI,
// whatever prefix the sender used. Serialisation writes a default-namespace
// declaration (`xmlns='…'`) only where an element's namespace differs from its
// parent's, so prefixes are normalised away; that is equivalent XML.
//
// Elements are treated as immutable once built: to change attributes for one
// recipient, use `withAttrs`, which shares the children with the original.

export type XmlNode = XmlElement | string;
export type Attrs = Record<string, string>;

export class XmlElement {
  constructor(
    readonly name: string,
    readonly ns: string,
    readonly attrs: Attrs = {},
    readonly children: XmlNode[] = [],
  ) {}

  /** Value of an attribute, or undefined when absent. */
  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  is(name: string, ns?: string): boolean {
    return this.name === name && (ns === undefined || this.ns === ns);
  }

  /** First child element with this name (and namespace, when given). */
  getChild(name: string, ns?: string): XmlElement | undefined {
    for (const c of this.children) {
      if (typeof c !== "string" && c.name === name && (ns === undefined || c.ns === ns)) return c;
    }
    return undefined;
  }

  /** First child element in this namespace, whatever its name. */
  getChildByNs(ns: string): XmlElement | undefined {
    for (const c of this.children) {
      if (typeof c !== "string" && c.ns === ns) return c;
    }
    return undefined;
  }

  getChildren(name?: string, ns?: string): XmlElement[] {
    const out: XmlElement[] = [];
    for (const c of this.children) {
      if (typeof c === "string") continue;
      if (name !== undefined && c.name !== name) continue;
      if (ns !== undefined && c.ns !== ns) continue;
      out.push(c);
    }
    return out;
  }

  /** The first child element, ignoring text (the payload of an IQ). */
  firstElement(): XmlElement | undefined {
    for (const c of this.children) if (typeof c !== "string") return c;
    return undefined;
  }

  /** Concatenated text content of the direct text children. */
  text(): string {
    let s = "";
    for (const c of this.children) if (typeof c === "string") s += c;
    return s;
  }

  getChildText(name: string, ns?: string): string | undefined {
    return this.getChild(name, ns)?.text();
  }

  /** A copy with some attributes replaced (undefined removes one); children are shared. */
  withAttrs(changes: Record<string, string | undefined>): XmlElement {
    const attrs: Attrs = { ...this.attrs };
    for (const k in changes) {
      const v = changes[k];
      if (v === undefined) delete attrs[k];
      else attrs[k] = v;
    }
    return new XmlElement(this.name, this.ns, attrs, this.children);
  }

  /** A copy with extra children appended; the original children are shared. */
  withChildren(...extra: XmlNode[]): XmlElement {
    return new XmlElement(this.name, this.ns, this.attrs, [...this.children, ...extra]);
  }

  /** A copy without the child elements that match the predicate. */
  withoutChildren(drop: (child: XmlElement) => boolean): XmlElement {
    return new XmlElement(
      this.name,
      this.ns,
      this.attrs,
      this.children.filter((c) => typeof c === "string" || !drop(c)),
    );
  }
}

/**
 * Build an element. `attrs` values that are undefined are left out, so
 * optional attributes can be written inline.
 */
export function el(
  name: string,
  ns: string,
  attrs: Record<string, string | undefined> = {},
  ...children: (XmlNode | undefined | null | false)[]
): XmlElement {
  const clean: Attrs = {};
  for (const k in attrs) {
    const v = attrs[k];
    if (v !== undefined) clean[k] = v;
  }
  const kids: XmlNode[] = [];
  for (const c of children) if (c !== undefined && c !== null && c !== false) kids.push(c);
  return new XmlElement(name, ns, clean, kids);
}
