/**
 * Attacks on the ID tokens of the hybrid flow (OpenID Connect Core §3.3.2.12 and §3.1.3.7 ID
 * token validation, §3.3.2.11 `c_hash`; RFC 9700 §4.5 on token injection): forged, re-signed and
 * stale tokens in the callback (front channel) and from the token endpoint (back channel). A
 * rejected front-channel token stops the flow before the code is redeemed; a rejected back-channel
 * token stops it after, and the tokens that came with it are revoked at the provider.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Hostile from "./hostile.js"

const hour = 3600
const now = () => Math.floor(Date.now() / 1000)

interface Attack {
  readonly name: string
  readonly check: string
  readonly arm: (hostile: Hostile.Hostile) => void
}

const front: ReadonlyArray<Attack> = [
  { name: "alg none", check: "signature", arm: (h) => void (h.script.frontSign = { alg: "none" }) },
  {
    name: "HS256 signed with the provider's public key (HS/RS confusion)",
    check: "signature",
    arm: (h) => void (h.script.frontSign = { alg: "HS256" })
  },
  {
    name: "the attacker's key under the provider's kid",
    check: "signature",
    arm: (h) => void (h.script.frontSign = { rogue: true })
  },
  {
    name: "a kid the JWKS does not have",
    check: "signature",
    arm: (h) => void (h.script.frontSign = { kid: "k2" })
  },
  {
    name: "a jku/jwk header pointing at the attacker's key",
    check: "signature",
    arm: (h) =>
      void (h.script.frontSign = {
        rogue: true,
        kid: "evil",
        header: { jku: "http://127.0.0.1:1/jwks", jwk: h.jwks.rogue }
      })
  },
  {
    name: "a second JWKS key with the attacker's modulus and a path-like kid",
    check: "signature",
    arm: (h) => {
      h.script.extraKeys = [{ ...h.jwks.good, kid: "../k1", use: "enc", alg: "RS256" }]
      h.script.frontSign = { rogue: true, kid: "../k1" }
    }
  },
  {
    name: "another issuer",
    check: "issuer",
    arm: (h) => void (h.script.front = (c) => void (c["iss"] = "https://evil.test"))
  },
  {
    name: "another audience",
    check: "audience",
    arm: (h) => void (h.script.front = (c) => void (c["aud"] = "someone-else"))
  },
  {
    name: "an extra audience without azp",
    check: "audience",
    arm: (h) => void (h.script.front = (c) => void (c["aud"] = [Hostile.clientId, "someone-else"]))
  },
  {
    name: "an extra audience with another azp",
    check: "audience",
    arm: (h) =>
      void (h.script.front = (c) => {
        c["aud"] = [Hostile.clientId, "someone-else"]
        c["azp"] = "someone-else"
      })
  },
  {
    name: "another nonce",
    check: "nonce",
    arm: (h) => void (h.script.front = (c) => void (c["nonce"] = "replayed-nonce"))
  },
  {
    name: "another c_hash",
    check: "c_hash",
    arm: (h) => void (h.script.front = (c) => void (c["c_hash"] = "AAAAAAAAAAAAAAAAAAAAAA"))
  },
  {
    name: "expired",
    check: "expired",
    arm: (h) => void (h.script.front = (c) => void (c["exp"] = now() - hour))
  },
  {
    name: "not yet valid (nbf)",
    check: "expired",
    arm: (h) => void (h.script.front = (c) => void (c["nbf"] = now() + hour))
  },
  {
    name: "issued an hour in the future (iat)",
    check: "expired",
    arm: (h) => void (h.script.front = (c) => void (c["iat"] = now() + hour))
  },
  {
    name: "valid for a year (exp far in the future)",
    check: "expired",
    arm: (h) => void (h.script.front = (c) => void (c["exp"] = now() + 365 * 24 * hour))
  }
]

const back: ReadonlyArray<Attack> = [
  {
    name: "signed by the attacker's key",
    check: "signature",
    arm: (h) => void (h.script.backSign = { rogue: true })
  },
  { name: "alg none", check: "signature", arm: (h) => void (h.script.backSign = { alg: "none" }) },
  { name: "HS/RS confusion", check: "signature", arm: (h) => void (h.script.backSign = { alg: "HS256" }) },
  {
    name: "another nonce",
    check: "nonce",
    arm: (h) => void (h.script.back = (c) => void (c["nonce"] = "other"))
  },
  {
    name: "another subject than the callback's",
    check: "subject",
    arm: (h) => void (h.script.back = (c) => void (c["sub"] = "user-2"))
  },
  {
    name: "issued an hour in the future (iat)",
    check: "expired",
    arm: (h) => void (h.script.back = (c) => void (c["iat"] = now() + hour))
  },
  {
    name: "valid for a year (exp far in the future)",
    check: "expired",
    arm: (h) => void (h.script.back = (c) => void (c["exp"] = now() + 365 * 24 * hour))
  }
]

describe("attacks: ID token", () => {
  describe("front channel (the callback's id_token): rejected before the code is redeemed", () => {
    for (const attack of front) {
      it.scopedLive(`${attack.name}: IdTokenRejected(${attack.check})`, () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            attack.arm(hostile)
            const { request, service } = yield* Hostile.consent(hostile)
            const error = yield* Effect.flip(service.complete(request))
            expect({ ...error }).toMatchObject({ _tag: "IdTokenRejected", check: attack.check })
            expect(hostile.received.filter((r) => r.path === "/token")).toEqual([])
            expect(yield* service.merchants).toEqual([])
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
      )
    }
  })

  describe("back channel (the token endpoint's id_token): rejected, and the issued tokens revoked", () => {
    for (const attack of back) {
      it.scopedLive(`${attack.name}: IdTokenRejected(${attack.check}), tokens revoked`, () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            attack.arm(hostile)
            const { request, service } = yield* Hostile.consent(hostile)
            const error = yield* Effect.flip(service.complete(request))
            expect({ ...error }).toMatchObject({ _tag: "IdTokenRejected", check: attack.check })
            expect(hostile.received.filter((r) => r.path === "/token")).toHaveLength(1)
            expect(hostile.revoked.map((r) => r.hint).sort()).toEqual(["access_token", "refresh_token"])
            expect(hostile.revoked.find((r) => r.hint === "refresh_token")?.token).toMatch(/^rt-/)
            expect(yield* service.merchants).toEqual([])
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
      )
    }

    it.scopedLive("a valid exchange revokes nothing and stores the grant", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          const { request, service } = yield* Hostile.consent(hostile)
          const done = yield* service.complete(request)
          expect(done.merchant).toBe("DK12345678")
          expect(hostile.revoked).toEqual([])
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )
  })
})
