// The incremental XML stream parser (RFC 6120 §4, §11) on sax in strict,
// namespace-aware mode. It turns bytes into: the stream header, one element
// tree per depth-1 child (a stanza, or a stream-level element such as
// <auth/>), whitespace keepalives, and the stream close.
//
// Restricted XML (§11.1): DOCTYPE and every other markup declaration
// (<!ENTITY>, <!ELEMENT>, <!ATTLIST>, <!NOTATION>), comments, processing
// instructions (other than the leading XML declaration) and entity references
// other than the predefined five and character references are refused with
// restricted-xml, as soon as their first characters arrive, however the bytes
// are cut into chunks (MarkupGuard below).
// Encoding (§11.6): the stream is UTF-8; invalid UTF-8, or an XML declaration
// naming another encoding, is unsupported-encoding (§4.9.3.22), never repaired.
// Limits: a stanza's size in bytes (XEP-0478 max-bytes), element depth and
// attributes per element (the stream header's included) are policy-violation.
import sax from "sax";
import { XmlElement, type Attrs, type XmlNode } from "./element.js";
import { NS } from "../xmpp/namespaces.js";
import type { StreamErrorCondition } from "../xmpp/errors.js";

export type { StreamErrorCondition };

export class StreamError extends Error {
  constructor(readonly condition: StreamErrorCondition, message: string) {
    super(message);
    this.name = "StreamError";
  }
}

export interface StreamStartInfo {
  /** Namespace and local name of the root element. */
  ns: string;
  prefix: string;
  localName: string;
  /** The default namespace the header declares: the stream's content namespace. */
  defaultNs: string | undefined;
}

export interface StreamListener {
  streamStart(attrs: Record<string, string>, info: StreamStartInfo): void;
  stanza(el: XmlElement, sizeBytes: number): void;
  streamEnd(): void;
  error(err: StreamError): void;
  keepalive?(): void;
}

export interface ParserLimits {
  maxStanzaBytes?: number;
  maxDepth?: number;
  maxAttributes?: number;
}

interface Building {
  name: string;
  ns: string;
  attrs: Attrs;
  children: XmlNode[];
}

/** RFC 6120 §11.6: UTF-8, and nothing else; invalid sequences throw (TypeError). */
function utf8Decoder(): TextDecoder {
  return new TextDecoder("utf-8", { fatal: true });
}

/** XML 1.0 §2.2: characters that may not appear in a document at all. */
const INVALID_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export class XmlStreamParser {
  private sax!: sax.SAXParser;
  /** Fatal: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD. */
  private decoder = utf8Decoder();
  private guard = new MarkupGuard();
  private readonly maxBytes: number;
  private readonly maxDepth: number;
  private readonly maxAttributes: number;
  /** Open elements of the current stanza; empty between stanzas. */
  private stack: Building[] = [];
  private rootOpen = false;
  private done = false;
  private seenRoot = false;
  // Byte accounting. Positions are sax's character positions in the stream.
  // `pre` holds text received before the current chunk while no stanza was
  // open, from its last '<': the start of an opening tag split across chunks.
  private chunk = "";
  private chunkStart = 0;
  private pre = "";
  /** Index in `chunk` where the open stanza's uncounted bytes begin; -1 when none opened in it. */
  private stanzaFrom = -1;
  /** Index in `chunk` just after the last stanza that closed in it. */
  private lastClose = 0;
  private stanzaBytes = 0;

  constructor(private readonly listener: StreamListener, limits: ParserLimits = {}) {
    this.maxBytes = limits.maxStanzaBytes ?? 256 * 1024;
    this.maxDepth = limits.maxDepth ?? 64;
    this.maxAttributes = limits.maxAttributes ?? 256;
    this.reset();
  }

  /** Start over for a new stream (after SASL success or STARTTLS). */
  reset(): void {
    const p = sax.parser(true, { xmlns: true, position: true });
    p.onopentag = (node) => this.openTag(node as sax.QualifiedTag);
    p.onclosetag = () => this.closeTag();
    p.ontext = (text) => this.text(text);
    p.oncdata = (text) => this.text(text);
    p.ondoctype = () => this.fail("restricted-xml", "DOCTYPE is not allowed in XMPP (RFC 6120 §11.1)");
    p.oncomment = () => this.fail("restricted-xml", "Comments are not allowed in XMPP (RFC 6120 §11.1)");
    p.onprocessinginstruction = (pi) => {
      if (pi.name === "xml" && !this.seenRoot) {
        // The XML declaration. RFC 6120 §11.6: UTF-8 only, so any other encoding is refused.
        const encoding = /\bencoding\s*=\s*(["'])([^"']*)\1/.exec(pi.body)?.[2];
        if (encoding !== undefined && encoding.toLowerCase() !== "utf-8") {
          this.fail("unsupported-encoding", `The stream must be UTF-8, not ${encoding} (RFC 6120 §11.6)`);
        }
        return;
      }
      this.fail("restricted-xml", "Processing instructions are not allowed in XMPP (RFC 6120 §11.1)");
    };
    // <!ELEMENT>, <!ATTLIST>, <!NOTATION>, <!ENTITY> outside a DOCTYPE (MarkupGuard refuses them first).
    p.onsgmldeclaration = (decl) => this.fail("restricted-xml", `Markup declarations (<!${decl.split(/\s/)[0] ?? ""}>) are not allowed in XMPP (RFC 6120 §11.1)`);
    p.onerror = (err) => this.saxError(err);
    this.sax = p;
    this.decoder = utf8Decoder();
    this.guard = new MarkupGuard();
    this.stack = [];
    this.rootOpen = false;
    this.seenRoot = false;
    this.done = false;
    this.chunk = "";
    this.chunkStart = 0;
    this.pre = "";
    this.stanzaFrom = -1;
    this.lastClose = 0;
    this.stanzaBytes = 0;
  }

  write(data: Buffer | string): void {
    if (this.done) return;
    let text: string;
    if (typeof data === "string") {
      text = data;
    } else {
      try {
        // stream: a character split across two reads is completed by the next one.
        text = this.decoder.decode(data, { stream: true });
      } catch {
        this.fail("unsupported-encoding", "The stream is not valid UTF-8 (RFC 6120 §11.6)");
        return;
      }
    }
    if (text === "") return;
    if (INVALID_CHARS.test(text)) {
      this.fail("not-well-formed", "The stream contains characters that XML does not allow");
      return;
    }
    const restricted = this.guard.scan(text);
    if (restricted) {
      this.fail(restricted.condition, restricted.message);
      return;
    }
    this.chunk = text;
    this.chunkStart = this.sax.position;
    this.lastClose = 0;
    try {
      this.sax.write(text);
    } catch (err) {
      this.fail("not-well-formed", `Malformed XML: ${(err as Error).message.split("\n")[0]}`);
      return;
    }
    if (this.done) return;
    if (this.stack.length > 0) {
      // A stanza still open at the end of the chunk: count what arrived of it.
      const from = this.stanzaFrom >= 0 ? this.stanzaFrom : 0;
      this.stanzaBytes += Buffer.byteLength(this.chunk.slice(from));
      this.stanzaFrom = -1;
      this.pre = "";
      if (this.stanzaBytes > this.maxBytes) this.tooLarge();
      return;
    }
    // Between stanzas: keep a possibly incomplete opening tag for the next chunk.
    const tail = this.lastClose > 0 ? this.chunk.slice(this.lastClose) : this.pre + this.chunk;
    const lt = tail.lastIndexOf("<");
    this.pre = lt < 0 ? "" : tail.slice(lt);
    if (Buffer.byteLength(this.pre) > this.maxBytes) this.tooLarge();
  }

  private fail(condition: StreamErrorCondition, message: string): void {
    if (this.done) return;
    this.done = true;
    this.stack = [];
    this.listener.error(new StreamError(condition, message));
  }

  private saxError(err: Error): void {
    const first = err.message.split("\n")[0] ?? "";
    if (/entity/i.test(first)) {
      this.fail("restricted-xml", `Only the predefined entities are allowed (RFC 6120 §11.1): ${first}`);
    } else {
      this.fail("not-well-formed", `Malformed XML: ${first}`);
    }
  }

  private tooLarge(): void {
    this.fail("policy-violation", `A stanza may not exceed ${this.maxBytes} bytes (XEP-0478 max-bytes)`);
  }

  private openTag(node: sax.QualifiedTag): void {
    if (this.done) return;
    if (!this.rootOpen) {
      this.seenRoot = true;
      if (node.uri !== NS.stream || node.local !== "stream") {
        this.fail("invalid-namespace", `The root element must be <stream:stream> in ${NS.stream}`);
        return;
      }
      this.rootOpen = true;
      const attrs: Record<string, string> = {};
      let count = 0;
      for (const k in node.attributes) {
        if (++count > this.maxAttributes) {
          this.fail("policy-violation", `The stream header may not carry more than ${this.maxAttributes} attributes`);
          return;
        }
        const a = node.attributes[k] as sax.QualifiedAttribute;
        if (a.prefix === "xmlns" || a.name === "xmlns") continue;
        attrs[a.name] = a.value;
      }
      this.listener.streamStart(attrs, {
        ns: node.uri, prefix: node.prefix, localName: node.local, defaultNs: node.ns[""],
      });
      return;
    }
    if (this.stack.length >= this.maxDepth) {
      this.fail("policy-violation", `Elements may not nest deeper than ${this.maxDepth}`);
      return;
    }
    const attrs: Attrs = {};
    let count = 0;
    for (const k in node.attributes) {
      if (++count > this.maxAttributes) {
        this.fail("policy-violation", `An element may not carry more than ${this.maxAttributes} attributes`);
        return;
      }
      const a = node.attributes[k] as sax.QualifiedAttribute;
      if (a.name === "xmlns") continue;
      if (a.prefix === "xmlns") {
        // Kept only where a prefixed attribute needs it (see below).
        continue;
      }
      attrs[a.name] = a.value;
      if (a.prefix !== "" && a.prefix !== "xml") {
        // A namespaced attribute keeps its prefix and that prefix's declaration.
        attrs[`xmlns:${a.prefix}`] = a.uri;
      }
    }
    if (this.stack.length === 0) {
      // A stanza starts: its bytes count from its '<', which may lie in an earlier chunk.
      const here = this.sax.position - this.chunkStart;
      const lt = this.sax.startTagPosition - 1 - this.chunkStart;
      const openTag = lt >= 0
        ? this.chunk.slice(lt, here)
        : this.pre.slice(Math.max(0, this.pre.length + lt)) + this.chunk.slice(0, here);
      this.stanzaBytes = Buffer.byteLength(openTag);
      this.stanzaFrom = here;
    }
    this.stack.push({ name: node.local, ns: node.uri, attrs, children: [] });
  }

  private closeTag(): void {
    if (this.done) return;
    const top = this.stack.pop();
    if (!top) {
      // The root closes: </stream:stream>.
      this.rootOpen = false;
      this.done = true;
      this.listener.streamEnd();
      return;
    }
    const el = new XmlElement(top.name, top.ns, top.attrs, top.children);
    const parent = this.stack[this.stack.length - 1];
    if (parent) {
      parent.children.push(el);
      return;
    }
    const from = this.stanzaFrom >= 0 ? this.stanzaFrom : 0;
    const end = this.sax.position - this.chunkStart;
    this.stanzaBytes += Buffer.byteLength(this.chunk.slice(from, end));
    this.stanzaFrom = -1;
    this.lastClose = end;
    const size = this.stanzaBytes;
    this.stanzaBytes = 0;
    if (size > this.maxBytes) {
      this.tooLarge();
      return;
    }
    this.listener.stanza(el, size);
  }

  private text(text: string): void {
    if (this.done) return;
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      if (!this.rootOpen) return; // whitespace around the root (sax rejects the rest)
      if (/^\s*$/.test(text)) {
        this.listener.keepalive?.();
        return;
      }
      this.fail("not-well-formed", "Text is not allowed between stanzas");
      return;
    }
    const last = top.children.length - 1;
    if (last >= 0 && typeof top.children[last] === "string") top.children[last] += text;
    else top.children.push(text);
  }
}

/**
 * Restricted XML (RFC 6120 §11.1) as the characters arrive, whatever the
 * chunking: `<!` may only open a CDATA section, and `<?` only the XML
 * declaration before the root. Everything else that starts with `<!` (DOCTYPE,
 * ENTITY, ELEMENT, ATTLIST, NOTATION, comments) or `<?` is refused as soon as
 * its first characters are seen, before sax buffers any of it: sax reports
 * these only once they are complete, and holds everything until then.
 */
class MarkupGuard {
  private state: "text" | "lt" | "bang" | "keyword" | "cdata" | "pi" | "xmldecl" = "text";
  private collected = "";
  private elementSeen = false;

  /** The first restricted construct in `text`, given what came before; undefined if none. */
  scan(text: string): StreamError | undefined {
    let i = 0;
    while (i < text.length) {
      switch (this.state) {
        case "text": {
          const lt = text.indexOf("<", i);
          if (lt < 0) return undefined;
          this.state = "lt";
          i = lt + 1;
          break;
        }
        case "lt": {
          const c = text[i] as string;
          if (c === "!") {
            this.state = "bang";
            this.collected = "";
            i++;
          } else if (c === "?") {
            this.state = "pi";
            this.collected = "";
            i++;
          } else {
            if (c !== "/") this.elementSeen = true;
            this.state = "text";
          }
          break;
        }
        case "bang": {
          this.collected += text[i] as string;
          i++;
          if (this.collected === CDATA_OPEN) {
            this.state = "cdata";
            this.collected = "";
          } else if (!CDATA_OPEN.startsWith(this.collected)) {
            if (this.collected.startsWith("-")) {
              return new StreamError("restricted-xml", "Comments are not allowed in XMPP (RFC 6120 §11.1)");
            }
            if (!/^[A-Za-z]$/.test(this.collected)) {
              return new StreamError("not-well-formed", "Malformed XML: '<!' must open a CDATA section");
            }
            this.state = "keyword";
          }
          break;
        }
        case "keyword": {
          // Only to name what was refused: DOCTYPE, ENTITY, ELEMENT, ATTLIST, NOTATION.
          const c = text[i] as string;
          if (/[A-Za-z]/.test(c) && this.collected.length < 8) {
            this.collected += c;
            i++;
            break;
          }
          return restrictedDeclaration(this.collected);
        }
        case "cdata": {
          // The section ends at the first "]]>", which may straddle chunks: keep its last two characters.
          const s = this.collected + text.slice(i);
          const end = s.indexOf("]]>");
          if (end < 0) {
            this.collected = s.slice(-2);
            return undefined;
          }
          i += end - this.collected.length + 3;
          this.collected = "";
          this.state = "text";
          break;
        }
        case "pi": {
          const c = text[i] as string;
          if (/[\s?]/.test(c)) {
            if (this.collected.toLowerCase() === "xml" && !this.elementSeen) {
              this.state = "xmldecl";
              this.collected = "";
              break;
            }
            return new StreamError("restricted-xml", "Processing instructions are not allowed in XMPP (RFC 6120 §11.1)");
          }
          if (this.collected.length > 3) {
            return new StreamError("restricted-xml", "Processing instructions are not allowed in XMPP (RFC 6120 §11.1)");
          }
          this.collected += c;
          i++;
          break;
        }
        case "xmldecl": {
          // XML 1.0 §2.8: the declaration holds pseudo-attributes only, never '<'.
          const s = this.collected + text.slice(i);
          const end = s.indexOf("?>");
          const lt = s.indexOf("<");
          if (lt >= 0 && (end < 0 || lt < end)) {
            return new StreamError("not-well-formed", "Malformed XML: '<' inside the XML declaration");
          }
          if (end < 0) {
            this.collected = s.slice(-1);
            return undefined;
          }
          i += end - this.collected.length + 2;
          this.collected = "";
          this.state = "text";
          break;
        }
      }
    }
    // Refused now, not after the next read: sax would otherwise see the keyword first and may call it malformed.
    if (this.state === "keyword") return restrictedDeclaration(this.collected);
    return undefined;
  }
}

const CDATA_OPEN = "[CDATA[";

function restrictedDeclaration(keyword: string): StreamError {
  // The keyword may be cut short by the end of a read: its first letters name it.
  const upper = keyword.toUpperCase();
  const is = (full: string): boolean => upper.length >= 2 && full.startsWith(upper);
  if (is("DOCTYPE")) return new StreamError("restricted-xml", "DOCTYPE is not allowed in XMPP (RFC 6120 §11.1)");
  if (is("ENTITY")) return new StreamError("restricted-xml", "Entity declarations are not allowed in XMPP (RFC 6120 §11.1)");
  return new StreamError("restricted-xml", `Markup declarations (<!${keyword}>) are not allowed in XMPP (RFC 6120 §11.1)`);
}
