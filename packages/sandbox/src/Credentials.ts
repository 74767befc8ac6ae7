/**
 * The small cryptographic helpers the authorization server needs: random handles, PKCE S256,
 * the OpenID `c_hash`/`at_hash`, constant-time secret comparison and HTTP Basic client
 * credentials. WebCrypto only.
 *
 * @since 0.1.0
 */
import { Effect, Encoding } from "effect"

/** @internal An unguessable handle (codes, refresh tokens, pending requests), base64url. */
export const randomId = (bytes = 32) =>
  Encoding.encodeBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(bytes)))

const sha256 = (text: string) =>
  Effect.map(
    Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
    (digest) => new Uint8Array(digest)
  )

/** @internal The left half of SHA-256, base64url: `c_hash` and `at_hash` for RS256. */
export const halfHash = (text: string) =>
  Effect.map(sha256(text), (d) => Encoding.encodeBase64Url(d.slice(0, d.length / 2)))

/** @internal RFC 7636: a verifier of 43-128 unreserved characters whose S256 is the challenge. */
export const pkceMatches = (verifier: string | undefined, challenge: string) =>
  verifier === undefined || !/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)
    ? Effect.succeed(false)
    : Effect.map(sha256(verifier), (d) => Encoding.encodeBase64Url(d) === challenge)

/** @internal */
export const timingSafeEqual = (a: string, b: string) => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

const unescapeForm = (s: string) => {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "))
  } catch {
    return s
  }
}

/** @internal Client id and secret from `Authorization: Basic` (form-encoded, as RFC 6749 2.3.1 says). */
export const basicCredentials = (authorization: string | undefined) => {
  if (authorization === undefined || !/^basic /i.test(authorization)) return undefined
  const decoded = Encoding.decodeBase64String(authorization.slice(6).trim())
  if (decoded._tag === "Left") return undefined
  const at = decoded.right.indexOf(":")
  if (at < 0) return undefined
  return { id: unescapeForm(decoded.right.slice(0, at)), secret: unescapeForm(decoded.right.slice(at + 1)) }
}
