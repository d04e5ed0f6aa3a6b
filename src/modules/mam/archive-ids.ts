// Archive ids (the XEP-0359 stanza-ids this server gives out, which are also
// the ids of MAM results and RSM): a row's seq, encrypted. The plaintext is
// one AES block, eight zero octets then the seq (big-endian), under a key
// kept by this server (server_secrets); the id is the block in base64url, 22
// characters. So ids are unique and stable (XEP-0359 asks both), an id finds
// its row through the primary key, a forged or mistyped one decrypts to a
// block without the zero octets (a 2^-64 chance otherwise) and is unknown,
// and no one learns from their ids how many messages the server archives.
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from "node:crypto";

const ID = /^[A-Za-z0-9_-]{22}$/;

export class ArchiveIds {
  private readonly cipher: Cipher;
  private readonly decipher: Decipher;

  /** `key`: 16 octets. ECB over single blocks: the one-block permutation, stateless between calls. */
  constructor(key: Buffer) {
    if (key.length !== 16) throw new Error(`an archive id key is 16 octets, got ${key.length}`);
    this.cipher = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
    this.decipher = createDecipheriv("aes-128-ecb", key, null).setAutoPadding(false);
  }

  encode(seq: number): string {
    const block = Buffer.alloc(16);
    block.writeBigUInt64BE(BigInt(seq), 8);
    return this.cipher.update(block).toString("base64url");
  }

  /** The seq an id stands for, or undefined when it is not one of ours. */
  decode(id: string): number | undefined {
    if (!ID.test(id)) return undefined;
    const block = this.decipher.update(Buffer.from(id, "base64url"));
    if (block.length !== 16 || block.readBigUInt64BE(0) !== 0n) return undefined;
    const seq = block.readBigUInt64BE(8);
    return seq > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(seq);
  }
}
