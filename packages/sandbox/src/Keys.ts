/**
 * The sandbox's signing keys: RS256 through jose. Rotation adds a new current key and keeps
 * the old ones in the JWKS, so tokens signed before a rotation still verify.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as jose from "jose"

interface SigningKey {
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly publicJwk: jose.JWK
}

/** @internal */
export interface Keys {
  readonly jwks: () => { readonly keys: ReadonlyArray<jose.JWK> }
  readonly sign: (
    claims: jose.JWTPayload,
    options?: { readonly kid?: string; readonly foreign?: boolean }
  ) => Effect.Effect<string>
  /** Verifies signature and expiry at `now` (epoch ms); the payload, or undefined. */
  readonly verify: (token: string, now: number) => Effect.Effect<jose.JWTPayload | undefined>
  readonly rotate: Effect.Effect<void>
}

const generate = (kid: string) =>
  Effect.promise(async (): Promise<SigningKey> => {
    const { privateKey, publicKey } = await jose.generateKeyPair("RS256", { extractable: true })
    const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg: "RS256", use: "sig" }
    return { kid, privateKey, publicJwk }
  })

/** @internal */
export const make: Effect.Effect<Keys> = Effect.gen(function* () {
  let current = yield* generate("sandbox-key-1")
  const keys: Array<SigningKey> = [current]
  // Signs tokens the sandbox never published: for tests of signature checks.
  const foreign = yield* generate("sandbox-key-1")
  // One key set until the next rotation: it imports each public key once, not per request.
  const keySet = () => jose.createLocalJWKSet({ keys: keys.map((k) => k.publicJwk) })
  let verifier = keySet()

  return {
    jwks: () => ({ keys: keys.map((k) => k.publicJwk) }),
    sign: (claims, options = {}) =>
      Effect.promise(() => {
        const key = options.foreign ? foreign : (keys.find((k) => k.kid === options.kid) ?? current)
        return new jose.SignJWT(claims)
          .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
          .sign(key.privateKey)
      }),
    verify: (token, now) =>
      Effect.promise(async () => {
        try {
          const { payload } = await jose.jwtVerify(token, verifier, {
            algorithms: ["RS256"],
            currentDate: new Date(now),
            clockTolerance: 0
          })
          return payload
        } catch {
          return undefined
        }
      }),
    rotate: Effect.flatMap(
      Effect.suspend(() => generate(`sandbox-key-${keys.length + 1}`)),
      (key) =>
        Effect.sync(() => {
          keys.push(key)
          current = key
          verifier = keySet()
        })
    )
  }
})
