// The subjectAltName entries of an X.509 certificate (RFC 5280 §4.2.1.6), read
// from its DER. Node prints them as one string ("othername:XmppAddr:a.test,
// DNS:b.test"), quoting as JSON any value with a comma or a quote; the names
// a server is identified by (RFC 6120 §13.7.1.4 xmppAddr; RFC 6125 DNS-ID,
// SRV-ID) are read here from the bytes instead, so that no value can pass for
// a separator, with a minimal DER reader (X.690 §8.1, §10).

export interface SubjectAltNames {
  /** dNSName entries (IA5String), as written. */
  readonly dns: string[];
  /** id-on-xmppAddr otherNames (1.3.6.1.5.5.7.8.5, UTF8String). */
  readonly xmppAddr: string[];
  /** id-on-dnsSRV otherNames (1.3.6.1.5.5.7.8.7, IA5String), e.g. "_xmpp-server.example.org". */
  readonly srv: string[];
  /** Whether the extension had any other kind of entry (URI, IP, another otherName). */
  readonly other: boolean;
}

export class DerError extends Error {
  constructor(message: string) {
    super(`certificate DER: ${message}`);
    this.name = "DerError";
  }
}

interface Tlv {
  readonly tag: number;
  /** The content's first byte and one past its last. */
  readonly start: number;
  readonly end: number;
}

/** One tag-length-value at `at`, within `limit` (X.690 §8.1: single-byte tags are all X.509 uses here). */
function tlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new DerError(`truncated element at byte ${at}`);
  const tag = der[at] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at byte ${at}`);
  let length = der[at + 1] as number;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new DerError(`length of ${bytes} bytes at byte ${at}`);
    if (start + bytes > limit) throw new DerError(`truncated length at byte ${at}`);
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[start + i] as number);
    start += bytes;
  }
  const end = start + length;
  if (end > limit) throw new DerError(`element at byte ${at} runs past its container (${end} > ${limit})`);
  return { tag, start, end };
}

/** The elements inside a constructed one. */
function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const c = tlv(der, at, parent.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined || t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got ${t === undefined ? "nothing" : `0x${t.tag.toString(16)}`}`);
  return t;
}

const SEQUENCE = 0x30;
const OID = 0x06;
const OCTET_STRING = 0x04;
const UTF8_STRING = 0x0c;
const IA5_STRING = 0x16;
/** [3] EXPLICIT extensions in TBSCertificate; [0] otherName and [2] dNSName in GeneralName (RFC 5280 §4.1, §4.2.1.6). */
const EXTENSIONS = 0xa3;
const OTHER_NAME = 0xa0;
const EXPLICIT_0 = 0xa0;
const DNS_NAME = 0x82;

const hex = (der: Uint8Array, t: Tlv) => Buffer.from(der.subarray(t.start, t.end)).toString("hex");
/** 2.5.29.17, 1.3.6.1.5.5.7.8.5 and 1.3.6.1.5.5.7.8.7, as DER content bytes. */
const OID_SAN = "551d11";
const OID_XMPP_ADDR = "2b06010505070805";
const OID_DNS_SRV = "2b06010505070807";

/** The subjectAltName entries of a DER certificate; empty lists when it has no such extension. Throws DerError when malformed. */
export function subjectAltNames(der: Uint8Array): SubjectAltNames {
  const names = { dns: [] as string[], xmppAddr: [] as string[], srv: [] as string[], other: false };
  const cert = expect(tlv(der, 0, der.length), SEQUENCE, "Certificate");
  const tbs = expect(children(der, cert)[0], SEQUENCE, "TBSCertificate");
  const wrapper = children(der, tbs).find((t) => t.tag === EXTENSIONS);
  if (!wrapper) return names;
  const extensions = expect(children(der, wrapper)[0], SEQUENCE, "Extensions");
  for (const ext of children(der, extensions)) {
    const parts = children(der, expect(ext, SEQUENCE, "Extension"));
    if (hex(der, expect(parts[0], OID, "extnID")) !== OID_SAN) continue;
    const value = expect(parts[parts.length - 1], OCTET_STRING, "extnValue");
    const general = expect(tlv(der, value.start, value.end), SEQUENCE, "GeneralNames");
    for (const name of children(der, general)) {
      if (name.tag === DNS_NAME) {
        names.dns.push(Buffer.from(der.subarray(name.start, name.end)).toString("latin1"));
        continue;
      }
      if (name.tag !== OTHER_NAME) {
        names.other = true;
        continue;
      }
      const [typeId, explicit] = children(der, name);
      const type = hex(der, expect(typeId, OID, "otherName type-id"));
      const inner = tlv(der, expect(explicit, EXPLICIT_0, "otherName value").start, (explicit as Tlv).end);
      const text = (tag: number, encoding: BufferEncoding) => Buffer.from(der.subarray(expect(inner, tag, "otherName value").start, inner.end)).toString(encoding);
      if (type === OID_XMPP_ADDR) names.xmppAddr.push(text(UTF8_STRING, "utf8"));
      else if (type === OID_DNS_SRV) names.srv.push(text(IA5_STRING, "latin1"));
      else names.other = true;
    }
  }
  return names;
}
