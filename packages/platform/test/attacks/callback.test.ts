/**
 * Attacks on the callback (RFC 9700 §4.7 CSRF, §4.4 mix-up, §4.5 authorization code injection,
 * §4.2 replay; OAuth 2.0 Form Post Response Mode): a callback completed from another browser
 * (login CSRF), replayed, in a response mode that was not asked for, naming another issuer, or
 * too large to read.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import * as ConsentCallback from "../../src/ConsentCallback.js"
import * as MerchantConsent from "../../src/MerchantConsent.js"
import * as Hostile from "./hostile.js"

describe("attacks: callback", () => {
  describe("login CSRF (RFC 9700 §4.7): the callback must come from the browser that began", () => {
    it.scopedLive(
      "the attacker's own callback replayed from the victim's browser is StateMismatch(binding)",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            // The attacker begins in their own browser and stops before their callback is delivered.
            const attacker = yield* Hostile.consent(hostile)
            // The victim's browser has its own binding (from a consent of its own), or none at all.
            const victim = yield* Hostile.consent(hostile)
            const fromVictim = yield* Effect.flip(
              attacker.service.complete(Hostile.formPost(attacker.params, victim.binding))
            )
            expect({ ...fromVictim }).toMatchObject({ _tag: "StateMismatch", reason: "binding" })
            const second = yield* Hostile.consent(hostile)
            const noCookie = yield* Effect.flip(second.service.complete(Hostile.formPost(second.params)))
            expect({ ...noCookie }).toMatchObject({ _tag: "StateMismatch", reason: "binding" })
            expect(yield* attacker.service.merchants).toEqual([])
            expect(hostile.received.filter((r) => r.path === "/token")).toEqual([])
            // The refused state is used up: even the right browser cannot complete it afterwards.
            const late = yield* Effect.flip(attacker.service.complete(attacker.request))
            expect({ ...late }).toMatchObject({ _tag: "StateMismatch", reason: "replayed" })
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
    )

    it.scopedLive(
      "ConsentCallback.begin sets a __Host- HttpOnly Secure SameSite=None cookie; the handler checks it",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            const handler = ConsentCallback.toWebHandler(
              yield* Effect.runtime<MerchantConsent.MerchantConsent>()
            )
            const began = yield* ConsentCallback.begin({ merchantVat: "DK12345678" })
            expect(began.status).toBe(303)
            const cookie = began.headers.get("set-cookie") ?? ""
            expect(cookie).toMatch(/^__Host-mobilepay-consent=[A-Za-z0-9_-]{43}; /)
            for (const attribute of ["Path=/", "HttpOnly", "Secure", "SameSite=None"]) {
              expect(cookie.split("; ")).toContain(attribute)
            }
            // As long as the pending authorization (10 minutes).
            expect(cookie).toMatch(/; Max-Age=(599|600);/)
            expect(cookie).not.toMatch(/Domain=/i)
            const params = yield* hostile.authorize(began.headers.get("location") ?? "")
            const withoutCookie = yield* Effect.promise(() => handler(Hostile.formPost(params)))
            expect(withoutCookie.status).toBe(400)
            const again = yield* ConsentCallback.begin({ merchantVat: "DK12345678" })
            const binding = (again.headers.get("set-cookie") ?? "").split(";")[0]?.split("=")[1] ?? ""
            const answer = yield* hostile.authorize(again.headers.get("location") ?? "")
            const ok = yield* Effect.promise(() => handler(Hostile.formPost(answer, Redacted.make(binding))))
            expect(ok.status).toBe(200)
            expect(ok.headers.get("set-cookie")).toContain("__Host-mobilepay-consent=; Path=/; Max-Age=0")
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
    )

    it.scopedLive(
      "bindToUserAgent: false (a CLI's loopback listener) is the explicit opt-out: no binding asked",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            const { params, service, started } = yield* Hostile.consent(hostile, { bindToUserAgent: false })
            expect(Option.isNone(started.binding)).toBe(true)
            const done = yield* service.complete(Hostile.formPost(params))
            expect(done.merchant).toBe("DK12345678")
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
    )
  })

  describe("replay and mix-up (RFC 9700 §4.2, §4.4)", () => {
    it.scopedLive(
      "a callback delivered twice: the second is StateMismatch(replayed), one code exchange",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            const { params, binding, service } = yield* Hostile.consent(hostile)
            yield* service.complete(Hostile.formPost(params, binding))
            const replay = yield* Effect.flip(service.complete(Hostile.formPost(params, binding)))
            expect({ ...replay }).toMatchObject({ _tag: "StateMismatch", reason: "replayed" })
            expect(hostile.received.filter((r) => r.path === "/token")).toHaveLength(1)
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
    )

    it.scopedLive(
      "a callback naming another issuer (iss parameter) is refused before the code is redeemed",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            const { params, binding, service } = yield* Hostile.consent(hostile)
            params.set("iss", "https://attacker.example/merchant")
            const error = yield* Effect.flip(service.complete(Hostile.formPost(params, binding)))
            expect({ ...error }).toMatchObject({ _tag: "IdTokenRejected", check: "issuer" })
            expect(hostile.received.filter((r) => r.path === "/token")).toEqual([])
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
    )
  })

  describe("response mode: only the mode that was asked for", () => {
    it.scopedLive(
      "a form_post consent completed through a GET query is InvalidRequest(invalid_response_mode)",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            const { binding, params, service } = yield* Hostile.consent(hostile)
            const get = new Request(`${Hostile.redirectUri}?${params}`, {
              headers: {
                cookie: `${MerchantConsent.bindingCookieName}=${binding ? Redacted.value(binding) : ""}`
              }
            })
            const error = yield* Effect.flip(service.complete(get))
            expect({ ...error }).toMatchObject({ _tag: "InvalidRequest", code: "invalid_response_mode" })
            const fragment = yield* Hostile.consent(hostile)
            const viaFragment = yield* Effect.flip(
              fragment.service.complete(`${Hostile.redirectUri}#${fragment.params}`, {
                binding: fragment.binding
              })
            )
            expect({ ...viaFragment }).toMatchObject({
              _tag: "InvalidRequest",
              code: "invalid_response_mode"
            })
            expect(hostile.received.filter((r) => r.path === "/token")).toEqual([])
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
    )

    it.scopedLive("a fragment consent completes from its URL and from the relay page's POST", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          const viaUrl = yield* Hostile.consent(hostile, { responseMode: "fragment" })
          yield* viaUrl.service.complete(`${Hostile.redirectUri}#${viaUrl.params}`, {
            binding: viaUrl.binding
          })
          const viaRelay = yield* Hostile.consent(hostile, { responseMode: "fragment" })
          const done = yield* viaRelay.service.complete(viaRelay.request)
          expect(done.merchant).toBe("DK12345678")
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )
  })

  describe("size: bounded reads", () => {
    it.scopedLive("a 64 MiB form_post body is refused after at most 64 KiB, never read whole", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          const { binding, service } = yield* Hostile.consent(hostile)
          let pulled = 0
          const chunk = new TextEncoder().encode(`state=${"a".repeat(65_530)}&`)
          const body = new ReadableStream<Uint8Array>({
            pull(controller) {
              if (pulled >= 64 * 1024 * 1024) return controller.close()
              pulled += chunk.length
              controller.enqueue(chunk)
            }
          })
          const huge = new Request(Hostile.redirectUri, {
            method: "POST",
            headers: {
              "content-type": "application/x-www-form-urlencoded",
              cookie: `${MerchantConsent.bindingCookieName}=${binding ? Redacted.value(binding) : ""}`
            },
            body,
            duplex: "half"
          } as RequestInit)
          const error = yield* Effect.flip(service.complete(huge))
          expect({ ...error }).toMatchObject({ _tag: "InvalidRequest", code: "invalid_callback" })
          expect(pulled).toBeLessThan(1024 * 1024)
          const declared = new Request(Hostile.redirectUri, {
            method: "POST",
            headers: {
              "content-type": "application/x-www-form-urlencoded",
              "content-length": String(2 ** 26)
            },
            body: "state=x"
          })
          expect({ ...(yield* Effect.flip(service.complete(declared))) }).toMatchObject({
            _tag: "InvalidRequest"
          })
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )
  })
})
