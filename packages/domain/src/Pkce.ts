/**
 * Proof Key for Code Exchange (RFC 7636) with the S256 method, the only one MobilePay
 * accepts. The verifier is a secret: it stays `Redacted` until it goes on the wire.
 *
 * @since 0.1.0
 */
import { Effect, Encoding, type ParseResult, Redacted, Schema } from "effect"
import * as SecureRandom from "./SecureRandom.js"

/**
 * A code verifier: 43 to 128 characters from the unreserved set `[A-Za-z0-9-._~]`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CodeVerifierString = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9\-._~]{43,128}$/, {
    message: () => "a PKCE code verifier is 43-128 characters of [A-Za-z0-9-._~]"
  })
)

/**
 * The verifier, redacted.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CodeVerifier = Schema.Redacted(CodeVerifierString)

/**
 * @since 0.1.0
 * @category models
 */
export type CodeVerifier = Redacted.Redacted<string>

/**
 * A verifier and its S256 challenge.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pkce {
  readonly verifier: CodeVerifier
  readonly challenge: string
  readonly method: "S256"
}

/**
 * The S256 challenge of a verifier: base64url(SHA-256(verifier)).
 *
 * @since 0.1.0
 * @category constructors
 */
export const challengeOf = (verifier: CodeVerifier): Effect.Effect<string> =>
  Effect.promise(() =>
    globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(Redacted.value(verifier)))
  ).pipe(Effect.map((digest) => Encoding.encodeBase64Url(new Uint8Array(digest))))

/**
 * A fresh verifier (32 random bytes, 43 characters) and its challenge.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate: Effect.Effect<Pkce, never> = Effect.gen(function* () {
  const verifier = Redacted.make(yield* SecureRandom.base64url(32))
  const challenge = yield* challengeOf(verifier)
  return { verifier, challenge, method: "S256" } as const
})

/**
 * A verifier from a known string, validated.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromVerifier = (verifier: string): Effect.Effect<Pkce, ParseResult.ParseError> =>
  Effect.gen(function* () {
    const checked = Redacted.make(yield* Schema.decode(CodeVerifierString)(verifier))
    const challenge = yield* challengeOf(checked)
    return { verifier: checked, challenge, method: "S256" } as const
  })
