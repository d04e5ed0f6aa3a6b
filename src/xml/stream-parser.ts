// The incremental XML stream parser (RFC 6120 §4, §11) on sax in strict,
// namespace-aware mode. It turns bytes into: the stream header, one element
// tree per depth-1 child (a stanza, or a stream-level element such as
// <auth/>), whitespace keepalives, and the stream close.
//
// Restricted XML (§11.1): DOCTYPE, comments, processing instructions (other
// than the leading XML declaration) and entity references other than the
// predefined five and character references are refused with restricted-xml.
// Limits: a stanza's size in bytes (XEP-0478 max-bytes), element depth and
// attributes per element are policy-violation.
import sax from "sax";
import { StringDecoder } from "node:string_decoder";
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

/** XML 1.0 §2.2: characters that may not appear in a document at all. */
const INVALID_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export class XmlStreamParser {
  private sax!: sax.SAXParser;
  private decoder = new StringDecoder("utf8");
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
      if (pi.name === "xml" && !this.seenRoot) return; // the XML declaration
      this.fail("restricted-xml", "Processing instructions are not allowed in XMPP (RFC 6120 §11.1)");
    };
    p.onerror = (err) => this.saxError(err);
    this.sax = p;
    this.decoder = new StringDecoder("utf8");
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
    const text = typeof data === "string" ? data : this.decoder.write(data);
    if (text === "") return;
    if (INVALID_CHARS.test(text)) {
      this.fail("not-well-formed", "The stream contains characters that XML does not allow");
      return;
    }
    if (/<!ENTITY/i.test(text)) {
      this.fail("restricted-xml", "Entity declarations are not allowed in XMPP (RFC 6120 §11.1)");
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
      for (const k in node.attributes) {
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
