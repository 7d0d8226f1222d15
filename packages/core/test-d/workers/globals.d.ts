// `@cloudflare/workers-types` declares `crypto` with `declare const`, which TypeScript does not put on
// `typeof globalThis`; core's `randomUuid` reads `globalThis.crypto` (present in workerd at run time).
declare var crypto: Crypto;
