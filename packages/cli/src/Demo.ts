/**
 * `pnpm demo`: every flow end to end against the in-process sandbox, on the embedded
 * defaults (SQLite in a temporary data directory, secrets encrypted), each step printed with
 * its outcome and time, then a summary and `demo: N/N flows ok`. Offline, seconds, no secret
 * printed, nothing left behind.
 *
 * @since 0.1.0
 */
import { FetchHttpClient, type HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SecureRandom, Vat } from "@mobilepay-auth/domain"
import {
  ConsentCallback,
  IntegratorAuth,
  MerchantConsent,
  MobilePay,
  MobilePayHttpClient,
  TokenCipher,
  TokenManager,
  TokenVault,
  VippsAccessToken,
  VippsConfig,
  VippsHttpClient
} from "@mobilepay-auth/platform"
import { Sandbox, SandboxBrowser, vippsDefaults } from "@mobilepay-auth/sandbox"
import { SqliteTokenStore } from "@mobilepay-auth/sql-sqlite"
import { Console, Duration, Effect, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs/promises"
import { createServer } from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort } from "./internal/freePort.js"
import * as ShiftableClock from "./internal/shiftableClock.js"

const CLIENT_ID = "demo-client"
const CLIENT_SECRET = "demo-client-secret"
const MERCHANT_VAT = "DK12345678"
const UNBOUND_VAT = "DK87654321"

interface Outcome {
  readonly step: string
  readonly ok: boolean
  readonly detail: string
  readonly millis: number
}

const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "mobilepay-auth-demo-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

const describeError = (e: unknown) =>
  typeof e === "object" && e !== null && "_tag" in e
    ? `${String(e._tag)}: ${e instanceof Error ? e.message : ""}`
    : String(e)

/**
 * The demo program. Prints as it goes; succeeds with the outcomes of every step.
 *
 * @since 0.1.0
 * @category programs
 */
export const run = Effect.gen(function* () {
  const clock = ShiftableClock.make()
  return yield* Effect.withClock(clock.clock)(
    Effect.scoped(
      Effect.gen(function* () {
        const dataDir = yield* tempDir
        const callbackPort = yield* freePort
        const redirectUri = `http://127.0.0.1:${callbackPort}/callback`

        yield* Console.log("mobilepay-auth demo: every flow against the offline sandbox\n")
        const sb = yield* Effect.provide(
          Sandbox.Sandbox,
          yield* Layer.build(
            Sandbox.layer({
              merchantClients: [
                {
                  clientId: CLIENT_ID,
                  clientSecret: CLIENT_SECRET,
                  redirectUris: [redirectUri],
                  scopes: ["subscriptions", "invoice", "webhooks"],
                  rotation: "one-time"
                }
              ],
              integratorClients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }]
            })
          )
        )
        const environment = sb.environment
        const key = yield* TokenCipher.generateKey
        const dbFile = Path.join(dataDir, "tokens.db")
        const stack = MobilePay.layer({
          environment,
          clientId: CLIENT_ID,
          clientSecret: Redacted.make(CLIENT_SECRET),
          redirectUri,
          scopes: ["subscriptions", "invoice"],
          clientSystemVersion: "1.0.0",
          encryptionKeys: [{ id: "demo-1", secret: key }]
        }).pipe(
          Layer.provideMerge(SqliteTokenStore.layer({ filename: dbFile })),
          Layer.provide(FetchHttpClient.layer)
        )
        const context = yield* Layer.build(stack)
        yield* Console.log(
          `  sandbox ${sb.baseUrl}, store ${dbFile} (SQLite, AES-256-GCM), callback ${redirectUri}\n`
        )

        const outcomes: Array<Outcome> = []
        const step = <A, E>(name: string, effect: Effect.Effect<A, E, never>, detail: (a: A) => string) =>
          Effect.gen(function* () {
            yield* Console.log(`▶ ${outcomes.length + 1}. ${name}`)
            const started = performance.now()
            const result = yield* Effect.either(effect)
            const millis = Math.round(performance.now() - started)
            const outcome: Outcome =
              result._tag === "Right"
                ? { step: name, ok: true, detail: detail(result.right), millis }
                : { step: name, ok: false, detail: describeError(result.left), millis }
            outcomes.push(outcome)
            yield* Console.log(`  ${outcome.ok ? "✓" : "✗"} ${outcome.detail} (${millis} ms)\n`)
            return result
          })

        const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, context)

        // 1. Integrator tokens on a PoS-style call.
        yield* step(
          "integrator tokens on PoS payments (bound, and unbound with the VAT header)",
          provided(
            Effect.gen(function* () {
              const auth = yield* IntegratorAuth.IntegratorAuth
              const vat = yield* Vat.parse(MERCHANT_VAT)
              const other = yield* Vat.parse(UNBOUND_VAT)
              const bound = yield* MobilePayHttpClient.integrator({ merchantVat: vat, bound: true })
              const unbound = yield* MobilePayHttpClient.integrator({ merchantVat: other, bound: false })
              const payment = (client: HttpClient.HttpClient.With<unknown>, amount: number) =>
                client
                  .execute(
                    HttpClientRequest.post("/pos/v10/payments").pipe(
                      HttpClientRequest.bodyUnsafeJson({ amount })
                    )
                  )
                  .pipe(Effect.flatMap((r) => Effect.map(r.json, (body) => ({ status: r.status, body }))))
              const first = yield* payment(bound, 100)
              const second = yield* payment(unbound, 250)
              yield* auth.accessToken(Option.some(vat))
              const requests = yield* sb.requestCount("integratorToken")
              return { first, second, requests }
            })
          ),
          ({ first, requests, second }) =>
            `bound: HTTP ${first.status}, unbound + x-mobilepay-merchant-vat-number: HTTP ${second.status}; ${requests} token requests for 3 uses`
        )

        // 2. Merchant consent in form_post mode, pages driven as a browser would.
        const consented = yield* step(
          "merchant consent (form_post): login and consent pages, callback, grant stored",
          provided(
            Effect.gen(function* () {
              const consent = yield* MerchantConsent.MerchantConsent
              // Our callback listener on the redirect URI, as an integrator's web app would have.
              yield* Layer.build(
                HttpServer.serve(ConsentCallback.router("/callback")).pipe(
                  Layer.provide(
                    NodeHttpServer.layer(() => createServer(), { host: "127.0.0.1", port: callbackPort })
                  ),
                  Layer.provide(Layer.succeed(MerchantConsent.MerchantConsent, consent))
                )
              )
              const authorization = yield* consent.begin({
                merchantVat: MERCHANT_VAT,
                responseMode: "form_post"
              })
              // The merchant's browser: login and consent pages, then the auto-submitting form_post
              // page delivers the response to our callback listener.
              const callback = yield* SandboxBrowser.consent(authorization.url, {
                redirectUri,
                username: "demo"
              })
              // The browser that began the consent carries its binding cookie (a web app sets it with
              // ConsentCallback.begin; this scripted browser is handed it).
              const done =
                callback._tag === "FormPost"
                  ? yield* Effect.promise(async () => {
                      const headers = new Headers(callback.request.headers)
                      const binding = Option.getOrUndefined(authorization.binding)
                      if (binding !== undefined) {
                        headers.set(
                          "cookie",
                          `${MerchantConsent.bindingCookieName}=${Redacted.value(binding)}`
                        )
                      }
                      const body = await callback.request.text()
                      return fetch(callback.request.url, { method: "POST", headers, body })
                    })
                  : yield* Effect.fail(
                      new SandboxBrowser.BrowserError({ step: "callback", detail: "expected form_post" })
                    )
              const merchants = yield* consent.merchants
              const stored = merchants.find((m) => Option.getOrUndefined(m.merchantVat) === MERCHANT_VAT)
              if (done.status !== 200 || stored === undefined) {
                return yield* Effect.fail(
                  new SandboxBrowser.BrowserError({ step: "callback", detail: `HTTP ${done.status}` })
                )
              }
              return stored
            }).pipe(Effect.scoped)
          ),
          (m) =>
            `merchant ${m.merchant} (${Option.getOrElse(m.merchantVat, () => "-")}), scopes ${m.scopes.join(" ")}`
        )
        const merchant = consented._tag === "Right" ? consented.right.merchant : MERCHANT_VAT

        // 3. API call, time past expiry, refresh with rotation, the call again.
        yield* step(
          "API call as the merchant; an hour later: refresh with rotation; the call again",
          provided(
            Effect.gen(function* () {
              const manager = yield* TokenManager.TokenManager
              const api = yield* MobilePayHttpClient.merchant(merchant)
              const me = () =>
                Effect.flatMap(api.execute(HttpClientRequest.get("/api/merchants/me")), (r) => r.json)
              const before = yield* me()
              const key = `merchant:${CLIENT_ID}:${merchant}`
              const rtBefore = yield* manager.stored(key)
              yield* clock.advance(Duration.hours(1))
              const tokenRequests = yield* sb.requestCount("merchantToken")
              const after = yield* me()
              const rtAfter = yield* manager.stored(key)
              const rotated =
                Option.isSome(rtBefore) &&
                Option.isSome(rtAfter) &&
                Redacted.value(Option.getOrThrow(rtBefore.value.tokens.refreshToken)) !==
                  Redacted.value(Option.getOrThrow(rtAfter.value.tokens.refreshToken))
              return {
                same: JSON.stringify(before) === JSON.stringify(after),
                refreshes: (yield* sb.requestCount("merchantToken")) - tokenRequests,
                rotated
              }
            })
          ),
          (r) =>
            `GET /api/merchants/me before and after: ${r.same ? "same merchant" : "DIFFERENT"}; ${r.refreshes} refresh; refresh token ${r.rotated ? "rotated and stored" : "NOT rotated"}`
        )

        // 4. The merchant revokes consent.
        yield* step(
          "the merchant revokes consent: the next refresh is ConsentRequired, the grant is deleted",
          provided(
            Effect.gen(function* () {
              const consent = yield* MerchantConsent.MerchantConsent
              yield* sb.revokeConsent(MERCHANT_VAT)
              yield* clock.advance(Duration.hours(1))
              const error = yield* Effect.flip(consent.accessToken(merchant))
              const left = yield* consent.merchants
              const vault = yield* TokenVault.TokenVault
              const keys = yield* vault.store.list("grant:")
              if (
                error._tag !== "ConsentRequired" ||
                left.some((m) => m.merchant === merchant) ||
                keys.length > 0
              ) {
                return yield* Effect.fail(
                  new SandboxBrowser.BrowserError({ step: "revoke", detail: `got ${error._tag}` })
                )
              }
              return error._tag
            })
          ),
          (tag) => `${tag}; no grant left in the store`
        )

        // 5. The migration path: Vipps MobilePay partner keys on the same token manager and HTTP client.
        yield* step(
          "Vipps MobilePay: partner tokens per merchant serial number, ePayment calls, repeats from cache",
          Effect.gen(function* () {
            const vipps = yield* Layer.build(
              VippsAccessToken.layer.pipe(
                Layer.provideMerge(
                  VippsConfig.layer({
                    environment: VippsConfig.custom({ baseUrl: sb.baseUrl, allowInsecureLoopback: true }),
                    clientId: vippsDefaults.client.clientId,
                    clientSecret: Redacted.make(vippsDefaults.client.clientSecret),
                    subscriptionKey: Redacted.make(vippsDefaults.client.subscriptionKey),
                    system: { name: "mobilepay-auth-demo", version: "0.1.0" }
                  })
                ),
                Layer.provideMerge(SecureRandom.layerWebCrypto),
                Layer.provide(Layer.succeedContext(context))
              )
            )
            return yield* Effect.gen(function* () {
              const statuses: Array<number> = []
              for (const merchantSerialNumber of vippsDefaults.client.merchantSerialNumbers) {
                const api = yield* VippsHttpClient.make(VippsAccessToken.standard({ merchantSerialNumber }))
                const reference = `demo-order-${merchantSerialNumber}`
                const created = yield* api.execute(
                  HttpClientRequest.post("/epayment/v1/payments").pipe(
                    HttpClientRequest.bodyUnsafeJson({ amount: { currency: "DKK", value: 4900 }, reference })
                  )
                )
                // The second call finds the merchant's token in the cache: no token request.
                const read = yield* api.execute(HttpClientRequest.get(`/epayment/v1/payments/${reference}`))
                statuses.push(created.status, read.status)
              }
              const [sent] = yield* sb.requests("vippsApi")
              const headers = [
                "authorization",
                "ocp-apim-subscription-key",
                "merchant-serial-number",
                "idempotency-key",
                "vipps-system-name"
              ].filter((h) => sent?.headers[h] !== undefined)
              return { statuses, tokenRequests: yield* sb.requestCount("vippsToken"), headers }
            }).pipe(Effect.provide(vipps))
          }).pipe(Effect.provide(context), Effect.scoped),
          ({ headers, statuses, tokenRequests }) =>
            `merchants ${vippsDefaults.client.merchantSerialNumbers.join(", ")}: HTTP ${statuses.join(", ")}; ` +
            `${tokenRequests} token requests for ${statuses.length} calls; sent ${headers.join(", ")}`
        )

        return outcomes
      })
    )
  )
})

/**
 * Prints the summary table and the last line; the exit code to use.
 *
 * @since 0.1.0
 * @category programs
 */
export const summarize = (outcomes: ReadonlyArray<Outcome>) =>
  Effect.gen(function* () {
    const width = Math.max(...outcomes.map((o) => o.step.length), 4)
    yield* Console.log(`${"step".padEnd(width)}  result  time`)
    for (const o of outcomes) {
      yield* Console.log(`${o.step.padEnd(width)}  ${(o.ok ? "ok" : "FAILED").padEnd(6)}  ${o.millis} ms`)
    }
    const ok = outcomes.filter((o) => o.ok).length
    const failed = outcomes.find((o) => !o.ok)
    if (failed !== undefined) yield* Console.log(`\nfailed: ${failed.step}: ${failed.detail}`)
    yield* Console.log(`demo: ${ok}/${outcomes.length} flows ok`)
    return ok === outcomes.length ? 0 : 1
  })
