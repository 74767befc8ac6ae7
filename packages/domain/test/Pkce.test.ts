import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import * as util from "node:util"
import { Nonce, Pkce, SecureRandom, State } from "../src/index.js"

// RFC 7636, Appendix B
const rfcVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
const rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

const unreserved43 = /^[A-Za-z0-9\-._~]{43}$/
const base64url43 = /^[A-Za-z0-9_-]{43}$/

describe("Pkce", () => {
  it.effect("fromVerifier gives the RFC 7636 Appendix B challenge", () =>
    Effect.gen(function* () {
      const pkce = yield* Pkce.fromVerifier(rfcVerifier)
      expect(pkce.challenge).toBe(rfcChallenge)
      expect(pkce.method).toBe("S256")
      expect(Redacted.value(pkce.verifier)).toBe(rfcVerifier)
    })
  )

  it.effect("challengeOf gives the RFC 7636 Appendix B challenge", () =>
    Effect.gen(function* () {
      expect(yield* Pkce.challengeOf(Redacted.make(rfcVerifier))).toBe(rfcChallenge)
    })
  )

  it.effect("fromVerifier rejects short, long and out-of-alphabet verifiers", () =>
    Effect.gen(function* () {
      for (const bad of [
        "",
        "a".repeat(42),
        "a".repeat(129),
        `${"a".repeat(42)}+`,
        `${"a".repeat(42)}/`,
        `${"a".repeat(42)} `
      ]) {
        const exit = yield* Effect.exit(Pkce.fromVerifier(bad))
        expect(Exit.isFailure(exit), bad).toBe(true)
      }
      for (const good of ["a".repeat(43), "a".repeat(128), `${"A".repeat(39)}-._~`]) {
        const exit = yield* Effect.exit(Pkce.fromVerifier(good))
        expect(Exit.isSuccess(exit), good).toBe(true)
      }
    })
  )

  it.effect("generate: a 43-character unreserved verifier whose challenge matches", () =>
    Effect.gen(function* () {
      for (let i = 0; i < 50; i++) {
        const pkce = yield* Pkce.generate
        expect(Redacted.value(pkce.verifier)).toMatch(unreserved43)
        expect(pkce.challenge).toBe(yield* Pkce.challengeOf(pkce.verifier))
        expect(pkce.challenge).toMatch(base64url43)
      }
    }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
  )

  it.effect("the seeded layer is deterministic: same seed same verifier, different seeds differ", () =>
    Effect.gen(function* () {
      const verifierWith = (seed: number) =>
        Pkce.generate.pipe(
          Effect.map((p) => Redacted.value(p.verifier)),
          Effect.provide(SecureRandom.layerSeeded(seed))
        )
      const a1 = yield* verifierWith(42)
      const a2 = yield* verifierWith(42)
      const b = yield* verifierWith(43)
      expect(a1).toMatch(unreserved43)
      expect(a1).toBe(a2)
      expect(b).not.toBe(a1)
      // Successive draws from one layer differ.
      const [x, y] = yield* Effect.all([Pkce.generate, Pkce.generate]).pipe(
        Effect.provide(SecureRandom.layerSeeded(42))
      )
      expect(Redacted.value(x.verifier)).toBe(a1)
      expect(Redacted.value(y.verifier)).not.toBe(a1)
    })
  )

  it.effect("the WebCrypto layer gives distinct values", () =>
    Effect.gen(function* () {
      const seen = new Set<string>()
      for (let i = 0; i < 200; i++) seen.add(yield* SecureRandom.base64url(32))
      expect(seen.size).toBe(200)
      const bytes = yield* Effect.flatMap(SecureRandom.SecureRandom, (r) => r.bytes(16))
      expect(bytes).toHaveLength(16)
    }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
  )

  it.effect("State and Nonce are 43 base64url characters, fresh every time", () =>
    Effect.gen(function* () {
      const states = yield* Effect.all(Array.from({ length: 20 }, () => State.generate))
      const nonces = yield* Effect.all(Array.from({ length: 20 }, () => Nonce.generate))
      for (const value of [...states, ...nonces]) expect(value).toMatch(base64url43)
      expect(new Set([...states, ...nonces]).size).toBe(40)
    }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
  )

  it.effect("the verifier never shows in String, JSON or inspect", () =>
    Effect.gen(function* () {
      const pkce = yield* Pkce.fromVerifier(rfcVerifier)
      for (const text of [
        String(pkce.verifier),
        `${pkce.verifier}`,
        JSON.stringify(pkce),
        JSON.stringify(pkce.verifier),
        util.inspect(pkce, { depth: 10 }),
        util.inspect(pkce.verifier)
      ]) {
        expect(text).not.toContain(rfcVerifier)
        expect(text).not.toContain(rfcVerifier.slice(0, 12))
      }
    })
  )
})
