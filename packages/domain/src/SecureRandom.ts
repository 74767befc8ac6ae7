/**
 * The source of randomness for secrets (PKCE verifiers, state, nonces, encryption IVs).
 * WebCrypto by default; a seeded, deterministic source for tests. Never Effect's `Random`,
 * which is not cryptographic.
 *
 * @since 0.1.0
 */
import { Context, Effect, Encoding, Layer } from "effect"

const webCrypto: SecureRandom.Service = {
  bytes: (size) => Effect.sync(() => globalThis.crypto.getRandomValues(new Uint8Array(size)))
}

/**
 * The randomness source. A `Context.Reference` whose default is WebCrypto, so nothing needs
 * providing it; tests override it with {@link layerSeeded}.
 *
 * @since 0.1.0
 * @category tags
 */
export class SecureRandom extends Context.Reference<SecureRandom>()("@mobilepay-auth/domain/SecureRandom", {
  defaultValue: (): SecureRandom.Service => webCrypto
}) {}

/**
 * @since 0.1.0
 */
export declare namespace SecureRandom {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** `size` random bytes. */
    readonly bytes: (size: number) => Effect.Effect<Uint8Array<ArrayBuffer>>
  }
}

/**
 * Randomness from WebCrypto's `crypto.getRandomValues`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWebCrypto: Layer.Layer<SecureRandom> = Layer.succeed(SecureRandom, webCrypto)

/**
 * A deterministic source for tests: the same seed gives the same bytes. Never use it for
 * real secrets.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSeeded = (seed: number): Layer.Layer<SecureRandom> =>
  Layer.sync(SecureRandom, () => {
    // mulberry32: small, fast, deterministic; good enough for reproducible tests.
    let a = seed >>> 0
    const next = () => {
      a = (a + 0x6d2b79f5) >>> 0
      let t = a
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return (t ^ (t >>> 14)) >>> 0
    }
    return {
      bytes: (size) =>
        Effect.sync(() => {
          const out = new Uint8Array(size)
          for (let i = 0; i < size; i++) out[i] = next() & 0xff
          return out
        })
    }
  })

/**
 * `size` random bytes as base64url without padding.
 *
 * @since 0.1.0
 * @category utils
 */
export const base64url = (size: number): Effect.Effect<string> =>
  Effect.flatMap(SecureRandom, (random) => Effect.map(random.bytes(size), Encoding.encodeBase64Url))
