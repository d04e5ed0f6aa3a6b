// Whether a peer's TLS certificate verifies against the trust anchors (s2s.ca_file,
// else Node's bundled roots) and names a domain (RFC 6120 §13.7.1.2, XEP-0178 §2):
// an xmppAddr, an SRV-ID _xmpp-server.<domain> or a DNS-ID (RFC 6125 §6.4, §6.5),
// read from the certificate's DER (san.ts). The chain is checked here rather than
// through the TLS socket's `authorized`: a TLSSocket wrapped around an accepted
// socket (STARTTLS) does not compute it.
import { X509Certificate } from "node:crypto";
import { domainToASCII } from "node:url";
import { rootCertificates, type DetailedPeerCertificate } from "node:tls";
import { subjectAltNames } from "./san.js";

/** The certificates of a PEM bundle. */
export function parseBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

export const SYSTEM_ANCHORS: () => X509Certificate[] = (() => {
  let cached: X509Certificate[] | undefined;
  return () => (cached ??= rootCertificates.map((c) => new X509Certificate(c)));
})();

function current(c: X509Certificate, now: Date): boolean {
  return new Date(c.validFrom) <= now && now <= new Date(c.validTo);
}

/** The peer's chain as it sent it, leaf first (getPeerCertificate(true)). */
export function peerChain(peer: DetailedPeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c: DetailedPeerCertificate | undefined = peer;
  while (c && c.raw && out.length < 10) {
    const x = new X509Certificate(c.raw);
    if (out.length > 0 && out[out.length - 1]?.fingerprint256 === x.fingerprint256) break; // a self-issued root points at itself
    out.push(x);
    c = c.issuerCertificate;
  }
  return out;
}

/** The chain leads, certificate by certificate, to one of the anchors, every link current and signed by the next. */
export function chainVerifies(chain: readonly X509Certificate[], anchors: readonly X509Certificate[], now = new Date()): boolean {
  if (chain.length === 0) return false;
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i] as X509Certificate;
    if (!current(c, now)) return false;
    const anchor = anchors.find((a) => current(a, now) && c.checkIssued(a) && c.verify(a.publicKey));
    if (anchor) return i === 0 ? !c.ca : true;
    const next = chain[i + 1];
    if (!next || !next.ca || !c.checkIssued(next) || !c.verify(next.publicKey)) return false;
  }
  return false;
}

/** A domain in A-labels, lower case, without a trailing dot (RFC 6125 §6.2.1: names compare in their ASCII form); "" when it is not one. */
function ascii(name: string): string {
  return domainToASCII(name.replace(/\.$/, ""));
}

/**
 * RFC 6125 §6.4.3: a DNS-ID matches the domain exactly, or is "*.rest" whose
 * wildcard stands for exactly one whole leftmost label ("*.example.org" names
 * a.example.org, not example.org nor a.b.example.org). A wildcard over a single
 * label ("*.org") or inside a label ("a*.example.org") names nothing.
 */
export function dnsIdMatches(dnsId: string, domain: string): boolean {
  const target = ascii(domain);
  if (target === "") return false;
  if (!dnsId.startsWith("*.")) return ascii(dnsId) === target;
  const rest = ascii(dnsId.slice(2));
  if (rest === "" || !rest.includes(".") || rest.includes("*")) return false;
  const dot = target.indexOf(".");
  return dot > 0 && target.slice(dot + 1) === rest;
}

/**
 * Whether the certificate (DER) names `domain` as an XMPP server: an
 * id-on-xmppAddr of the domain (RFC 6120 §13.7.1.4), an SRV-ID
 * "_xmpp-server.<domain>" (RFC 6125 §6.5.1, no wildcards), or a DNS-ID; the
 * subject's CN only when the certificate has none of these nor another
 * subjectAltName (RFC 6125 §6.4.4). A certificate that does not parse names nothing.
 */
export function certificateNames(der: Uint8Array, domain: string): boolean {
  const target = ascii(domain);
  if (target === "") return false;
  let names;
  try {
    names = subjectAltNames(der);
  } catch {
    return false;
  }
  if (names.xmppAddr.some((a) => ascii(a) === target)) return true;
  if (names.srv.some((s) => s.toLowerCase().startsWith("_xmpp-server.") && ascii(s.slice("_xmpp-server.".length)) === target)) return true;
  if (names.dns.some((d) => dnsIdMatches(d, domain))) return true;
  if (names.dns.length + names.xmppAddr.length + names.srv.length > 0 || names.other) return false;
  const subject = new X509Certificate(der).subject;
  return subject.split("\n").some((line) => line.startsWith("CN=") && dnsIdMatches(line.slice(3), domain));
}
