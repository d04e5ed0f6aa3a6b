// Whether a peer's TLS certificate verifies against the trust anchors (s2s.ca_file,
// else Node's bundled roots) and names a domain (RFC 6125 DNS-ID, as RFC 6120
// §13.7.1.2 allows; XEP-0178 §2). The chain is checked here rather than through
// the TLS socket's `authorized`: a TLSSocket wrapped around an accepted socket
// (STARTTLS) does not compute it.
import { X509Certificate } from "node:crypto";
import { checkServerIdentity, rootCertificates, type DetailedPeerCertificate, type PeerCertificate } from "node:tls";

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

export function certificateNames(peer: PeerCertificate, domain: string): boolean {
  return checkServerIdentity(domain, peer) === undefined;
}
