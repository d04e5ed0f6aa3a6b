// Certificates made by openssl for the federation tests: a throw-away CA and
// leaf certificates from it with the subjectAltName entries a test asks for
// (DNS-ID, xmppAddr, SRV-ID; RFC 6120 §13.7.1.2), usable as a server's
// certificate and as its TLS client certificate.
import os from "node:os";
import path from "node:path";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";

/** OpenSSL's spelling of the SAN entries: `DNS:a.test`, `otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-server.a.test`... */
// FORMAT:UTF8: the value is UTF-8 already (without it OpenSSL reads it as Latin-1 and encodes it again).
export const xmppAddr = (domain: string) => `otherName:1.3.6.1.5.5.7.8.5;FORMAT:UTF8,UTF8:${domain}`;
export const srvId = (name: string) => `otherName:1.3.6.1.5.5.7.8.7;IA5STRING:${name}`;
export const dnsId = (name: string) => `DNS:${name}`;

export interface TestCa {
  readonly dir: string;
  /** The CA's certificate (PEM file), for s2s.ca_file. */
  readonly ca: string;
  /** A leaf certificate signed by the CA: `sans` as OpenSSL writes them, none for a certificate with only a subject CN. */
  issue(name: string, cn: string, sans: readonly string[]): { cert: string; key: string; der: Buffer };
  remove(): void;
}

export function testCa(): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-s2s-ca-"));
  const run = (...args: string[]) => {
    const r = spawnSync("openssl", args, { encoding: "utf8", cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-keyout", "ca.key", "-out", "ca.crt",
    "-subj", "/CN=Parley Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  return {
    dir,
    ca: path.join(dir, "ca.crt"),
    issue(name, cn, sans) {
      // A config section (not -addext) so that values may hold UTF-8 and commas.
      const lines = sans.map((s, i) => {
        const colon = s.indexOf(":");
        return `${s.slice(0, colon)}.${i} = ${s.slice(colon + 1)}`;
      });
      writeFileSync(path.join(dir, `${name}.ext`), ["[ext]", "extendedKeyUsage = serverAuth,clientAuth", "basicConstraints = CA:FALSE",
        ...(sans.length > 0 ? ["subjectAltName = @alt", "[alt]", ...lines] : [])].join("\n") + "\n");
      run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
      run("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", `${name}.crt`,
        "-extfile", `${name}.ext`, "-extensions", "ext");
      run("x509", "-in", `${name}.crt`, "-outform", "DER", "-out", `${name}.der`);
      return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`), der: readFileSync(path.join(dir, `${name}.der`)) };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
