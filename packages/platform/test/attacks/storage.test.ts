/**
 * Attacks on storage (RFC 9700 §4.14 refresh token protection; MobilePay: store tokens in a
 * database): a corrupted row, a sealed row moved under another merchant's key, a merchant
 * identity crafted as an injection, and answers built to bloat or poison the store.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, HashMap, Logger, Option } from "effect"
import * as MerchantConsent from "../../src/MerchantConsent.js"
import { grantKey } from "../../src/TokenManager.js"
import * as TokenStore from "../../src/TokenStore.js"
import * as Hostile from "./hostile.js"

type AuthErrorLike = { readonly _tag: string }

const keyOf = (merchant: string) => grantKey(`merchant:${Hostile.clientId}:${merchant}`)

const consentFor = (hostile: Hostile.Hostile, merchantVat: string) =>
  Effect.flatMap(Hostile.consent(hostile, { merchantVat }), ({ request, service }) =>
    service.complete(request)
  )

describe("attacks: storage", () => {
  // Two merchants consent; then `tamper` edits the shared store, and another process (a fresh
  // stack on the same store, nothing cached) reads it.
  const afterTampering = <A, E>(
    tamper: (store: TokenStore.TokenStore.Service, a: string, b: string) => Effect.Effect<void, E>,
    check: (a: string, b: string) => Effect.Effect<A, E | AuthErrorLike, MerchantConsent.MerchantConsent>
  ) =>
    Effect.gen(function* () {
      const hostile = yield* Hostile.make
      const store = yield* TokenStore.makeMemory
      const [a, b] = yield* Effect.all([
        consentFor(hostile, "DK12345678"),
        consentFor(hostile, "DK87654321")
      ]).pipe(Effect.provide(Hostile.stack(hostile, { store })))
      yield* tamper(store, a.merchant, b.merchant)
      return yield* check(a.merchant, b.merchant).pipe(Effect.provide(Hostile.stack(hostile, { store })))
    })

  it.scopedLive("one corrupted row is skipped (and reported); every other merchant is still listed", () =>
    afterTampering(
      (store, a) =>
        Effect.gen(function* () {
          const version = Option.getOrThrow(yield* store.get(keyOf(a))).version
          yield* store.put(keyOf(a), "v1.k.not-a-sealed-record", { expectedVersion: version })
        }),
      (a, b) =>
        Effect.gen(function* () {
          const service = yield* MerchantConsent.MerchantConsent
          const logged: Array<string> = []
          const capture = Logger.make(({ annotations, logLevel, message }) => {
            logged.push(
              `${logLevel.label} ${String(message)} ${JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations)))}`
            )
          })
          const listed = yield* service.merchants.pipe(
            Effect.provide(Logger.replace(Logger.defaultLogger, capture))
          )
          expect(listed.map((m) => m.merchant)).toEqual([b])
          expect(logged).toHaveLength(1)
          expect(logged[0]).toContain("WARN")
          expect(logged[0]).toContain(keyOf(a))
          // The corrupted merchant itself fails typed, not as a defect.
          const error = yield* Effect.flip(service.accessToken(a))
          expect(error._tag).toBe("StoreFailure")
        })
    )
  )

  it.scopedLive(
    "a sealed row swapped under another merchant's key does not open (the key is associated data)",
    () =>
      afterTampering(
        (store, a, b) =>
          Effect.gen(function* () {
            const sealedA = Option.getOrThrow(yield* store.get(keyOf(a))).value
            const versionB = Option.getOrThrow(yield* store.get(keyOf(b))).version
            yield* store.put(keyOf(b), sealedA, { expectedVersion: versionB })
          }),
        (a, b) =>
          Effect.gen(function* () {
            const service = yield* MerchantConsent.MerchantConsent
            expect((yield* service.merchants).map((m) => m.merchant)).toEqual([a])
            expect({ ...(yield* Effect.flip(service.accessToken(b))) }).toMatchObject({
              _tag: "StoreFailure",
              reason: "decrypt"
            })
          })
      )
  )

  it.scopedLive("a merchant identity crafted as SQL or a path is refused before any store access", () =>
    Effect.gen(function* () {
      const hostile = yield* Hostile.make
      return yield* Effect.gen(function* () {
        const { service } = yield* Hostile.consent(hostile)
        for (const merchant of ["x' OR '1'='1", "../grant:other", "a%00b", "m\nn", ""]) {
          expect({ ...(yield* Effect.flip(service.accessToken(merchant))) }, merchant).toMatchObject({
            _tag: "InvalidRequest",
            code: "invalid_merchant"
          })
          expect({ ...(yield* Effect.flip(service.revoke(merchant))) }, merchant).toMatchObject({
            _tag: "InvalidRequest"
          })
        }
      }).pipe(Effect.provide(Hostile.stack(hostile)))
    })
  )

  describe("bounded fields", () => {
    it.scopedLive("a 100 KB refresh token is a ProtocolViolation: nothing stored, the tokens revoked", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          hostile.script.tokens = (body) => void (body["refresh_token"] = "r".repeat(100_000))
          const { request, service } = yield* Hostile.consent(hostile)
          const error = yield* Effect.flip(service.complete(request))
          expect({ ...error }).toMatchObject({ _tag: "ProtocolViolation", reason: "token-response" })
          expect(yield* service.merchants).toEqual([])
          expect(hostile.revoked.map((r) => r.hint).sort()).toEqual(["access_token", "refresh_token"])
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )

    it.scopedLive("a 10 MB token response is refused at 1 MiB, before it is parsed", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          hostile.script.tokens = (body) => void (body["refresh_token"] = "r".repeat(10_000_000))
          const { request, service } = yield* Hostile.consent(hostile)
          const error = yield* Effect.flip(service.complete(request))
          expect({ ...error }).toMatchObject({ _tag: "ProtocolViolation", reason: "response-too-large" })
          expect(yield* service.merchants).toEqual([])
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )

    it.scopedLive("expires_in: 1e300 is clamped to 24 hours; listing keeps working", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          hostile.script.tokens = (body) => void (body["expires_in"] = 1e300)
          const before = Date.now()
          const { request, service } = yield* Hostile.consent(hostile)
          const done = yield* service.complete(request)
          expect(done.expiresAt - before).toBeLessThanOrEqual(24 * 3600 * 1000 + 60_000)
          expect(done.expiresAt - before).toBeGreaterThan(23 * 3600 * 1000)
          const listed = yield* service.merchants
          expect(listed.map((m) => m.accessTokenExpiresAt)).toEqual([done.expiresAt])
          expect(JSON.parse(JSON.stringify(listed))[0].accessTokenExpiresAt).toBe(done.expiresAt)
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )
  })
})
