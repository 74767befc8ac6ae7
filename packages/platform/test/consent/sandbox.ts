/**
 * Merchant consent against the offline sandbox over real loopback HTTP: the platform stack
 * pointed at a sandbox that is started inside the test (so both read the test's `Clock`), a
 * merchant's browser walked through the sandbox's login and consent pages, and a few direct
 * calls to the sandbox's API and token endpoint, as a third party would make them.
 */
import { FetchHttpClient } from "@effect/platform"
import { Environment } from "@mobilepay-auth/domain"
import {
  defaults,
  Sandbox,
  SandboxBrowser,
  type SandboxClientConfig,
  type SandboxOptions
} from "@mobilepay-auth/sandbox"
import { Clock, Duration, Effect, Encoding, Layer, Option, Redacted } from "effect"
import * as MerchantConsent from "../../src/MerchantConsent.js"
import * as TokenManager from "../../src/TokenManager.js"
import { stack } from "./stack.js"

export const clientId = defaults.merchantClient.clientId
export const clientSecret = defaults.merchantClient.clientSecret
export const redirectUri = "http://127.0.0.1:8765/callback"

/** One of the sandbox's known merchants; its access tokens name it by `merchant_id`. */
export const cafe = {
  vat: "DK12345678",
  merchantId: "8c2c6d4e-1f0a-4d8e-9a51-1b3f0d6a7e01",
  name: "Sandbox Café ApS"
} as const

export interface Options {
  readonly sandbox?: Omit<SandboxOptions, "merchantClients">
  /** Changes to the sandbox's default merchant client (rotation, verifier on refresh). */
  readonly client?: Partial<SandboxClientConfig>
  readonly sendVerifierOnRefresh?: boolean
  /** The issuer the platform is configured to expect; default: the sandbox's. */
  readonly issuer?: (sandbox: Sandbox.Sandbox.Service) => string
}

/** The sandbox's environment, optionally expecting another issuer than the one it signs with. */
export const environmentOf = (
  sandbox: Sandbox.Sandbox.Service,
  issuer: string = sandbox.issuer
): Environment.Environment => ({ ...sandbox.environment, issuer })

/** Sandbox + MerchantConsent and everything below it (fetch over loopback), as one layer. */
export const layer = (options: Options = {}) =>
  Layer.unwrapEffect(
    Effect.map(Sandbox.Sandbox, (sandbox) =>
      stack(FetchHttpClient.layer, {
        environment: environmentOf(sandbox, options.issuer?.(sandbox)),
        clientId,
        clientSecret,
        redirectUri,
        ...(options.sendVerifierOnRefresh === undefined
          ? {}
          : { sendVerifierOnRefresh: options.sendVerifierOnRefresh })
      })
    )
  ).pipe(
    Layer.provideMerge(
      Sandbox.layer({
        ...options.sandbox,
        merchantClients: [{ ...defaults.merchantClient, ...options.client }]
      })
    )
  )

/** What reached the redirect URI: the `form_post` body (readable many times), or the redirect URL. */
export type Callback =
  | { readonly _tag: "FormPost"; readonly action: string; readonly body: URLSearchParams }
  | { readonly _tag: "Redirect"; readonly url: string }

/** `begin`, then the merchant's browser through login and consent, up to the callback. */
export const authorize = (
  options: MerchantConsent.BeginOptions = {},
  walk: Omit<SandboxBrowser.Options, "redirectUri"> = {}
) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    // These tests are about the exchange with the provider, so they begin without a user-agent
    // binding (the scripted browser keeps no cookies); the binding has its own tests in attacks/.
    const started = yield* consent.begin({ merchantVat: cafe.vat, bindToUserAgent: false, ...options })
    const reached = yield* SandboxBrowser.consent(started.url, { ...walk, redirectUri })
    const callback: Callback =
      reached._tag === "FormPost"
        ? {
            _tag: "FormPost",
            action: reached.request.url,
            body: new URLSearchParams(yield* Effect.promise(() => reached.request.text()))
          }
        : reached
    return { started, callback }
  })

/** A `form_post` callback carrying `params`, as the browser would POST it. */
const formPostTo = (action: string, params: URLSearchParams): Request =>
  new Request(action, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: params.toString()
  })

/** What the browser delivers: the `form_post` POST as a `Request`, or the full redirect URL. */
export const deliver = (callback: Callback): MerchantConsent.CallbackInput =>
  callback._tag === "FormPost" ? formPostTo(callback.action, callback.body) : callback.url

/** The authorization response parameters a callback carries. */
export const paramsOf = (callback: Callback): URLSearchParams =>
  callback._tag === "FormPost"
    ? new URLSearchParams(callback.body)
    : new URLSearchParams(new URL(callback.url).hash.slice(1))

/** A `form_post` callback carrying `params`. */
export const formPost = (params: URLSearchParams): Request => formPostTo(redirectUri, params)

/** A JWT's payload, decoded and not verified. */
export const claimsOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"))

/** OpenID's `c_hash` / `at_hash` of a value (RS256: left half of its SHA-256, base64url). */
export const halfHash = (value: string) =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(value))).pipe(
    Effect.map((digest) => Encoding.encodeBase64Url(new Uint8Array(digest).slice(0, 16)))
  )

/** `GET {baseUrl}/api/merchants/me` with a bearer token. */
export const merchantsMe = (token: Redacted.Redacted<string> | string) =>
  Effect.flatMap(Sandbox.Sandbox, (sandbox) =>
    Effect.promise(async () => {
      const response = await fetch(`${sandbox.baseUrl}/api/merchants/me`, {
        headers: { authorization: `Bearer ${Redacted.isRedacted(token) ? Redacted.value(token) : token}` }
      })
      const text = await response.text()
      return { status: response.status, body: response.status === 200 ? JSON.parse(text) : text }
    })
  )

/** A grant at the token endpoint, sent by hand (as a leaked code or refresh token would be). */
export const tokenRequest = (params: Record<string, string>) =>
  Effect.flatMap(Sandbox.Sandbox, (sandbox) =>
    Effect.promise(async () => {
      const response = await fetch(sandbox.merchantTokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret, ...params }).toString()
      })
      const body: unknown = await response.json()
      return { status: response.status, body }
    })
  )

/** The refresh token stored for a merchant, if any. */
export const storedRefreshToken = (merchant: string) =>
  Effect.flatMap(TokenManager.TokenManager, (manager) =>
    Effect.map(manager.stored(`merchant:${clientId}:${merchant}`), (grant) =>
      Option.getOrUndefined(
        Option.flatMap(grant, (g) => Option.map(g.tokens.refreshToken, (t) => Redacted.value(t)))
      )
    )
  )

/**
 * A clock that, like `TestClock`, stands still until the test moves it, for runs of thousands of
 * steps: `TestClock.adjust` costs a few real milliseconds per call (it waits, over several
 * `setTimeout` turns, for every fiber to suspend, and once more for each timer it passes, and
 * interrupted sleeps such as finished request timeouts stay among its timers). Sleeps (request
 * timeouts, backoff) run on the real clock, so none fires because simulated time jumped.
 */
export const simulatedClock = () => {
  const live = Clock.make()
  let now = 0
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (duration) => live.sleep(duration)
  }
  const advance = (duration: Duration.DurationInput) =>
    Effect.sync(() => {
      now += Duration.toMillis(duration)
    })
  return { clock, advance }
}
