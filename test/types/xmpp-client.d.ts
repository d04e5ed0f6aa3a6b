// The part of @xmpp/client (a JavaScript package without type declarations)
// that the real-client tests use.
declare module "@xmpp/client" {
  import type { EventEmitter } from "node:events";

  export interface Element {
    name: string;
    attrs: Record<string, string>;
    children: (Element | string)[];
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    is(name: string, xmlns?: string): boolean;
    toString(): string;
  }

  export function xml(name: string, attrs?: Record<string, string>, ...children: (Element | string)[]): Element;

  export interface Client extends EventEmitter {
    start(): Promise<unknown>;
    stop(): Promise<void>;
    send(element: Element): Promise<void>;
    iqCaller: { request(element: Element, timeout?: number): Promise<Element> };
    jid: { toString(): string } | null;
    /** XEP-0198 (@xmpp/stream-management), enabled by <enabled/>, in <bound/> with Bind2. */
    streamManagement: { enabled: boolean };
    /** XEP-0484 FAST (client-core/src/fast): where the token is kept. */
    fast: {
      mechanism: string | null;
      saveToken(token: FastToken): Promise<void>;
      fetchToken(): Promise<FastToken | null | undefined>;
    };
  }

  export interface FastToken {
    mechanism: string;
    token: string;
    expiry: string;
  }

  export function client(options: {
    service: string;
    domain: string;
    resource?: string;
    username: string;
    password: string;
    /** XEP-0388 <user-agent id=…/>; a random id by default. */
    userAgent?: Element;
  }): Client;
}
