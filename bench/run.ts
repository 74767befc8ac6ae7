/**
 * `pnpm bench`: what the token cache costs and what it saves, each against a baseline measured
 * in the same run, against an in-process sandbox over loopback HTTP.
 *
 * (a) a cached `IntegratorAuth.accessToken()` and a cached `TokenManager.get` against a bare
 *     `Effect.sync` Map lookup; a cached `MerchantConsent.accessToken(merchant)` against the
 *     manager's own cached path for the same key (goals: <= 1.5x and <= 1.2x);
 * (b) 10,000 concurrent callers through `IntegratorAuth` (single flight, cache) against the same
 *     10,000 calls made with raw oauth4webapi and plain `fetch`, no cache.
 * (c) the storage benchmark (`bench/storage.ts`); MOBILEPAY_BENCH_STORAGE=0 leaves it out.
 *
 * Prints a table and writes bench/results.json. Wall time comes from `performance.now()`.
 */
import { FetchHttpClient, HttpClient } from "@effect/platform"
import {
  IntegratorAuth,
  MerchantConsent,
  MobilePay,
  TokenManager,
  TokenStore
} from "@mobilepay-auth/platform"
import { Sandbox, SandboxBrowser } from "@mobilepay-auth/sandbox"
import { Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as oauth from "oauth4webapi"
import { runStorage, type StorageRow } from "./storage.js"

const CLIENT_ID = "bench-integrator"
const CLIENT_SECRET = "bench-integrator-secret"
const CACHED_OPS = Number(process.env.MOBILEPAY_BENCH_OPS ?? 200_000)
const CALLERS = 10_000

const MERCHANT_CLIENT_ID = "bench-app"
const MERCHANT_CLIENT_SECRET = "bench-app-secret"
const REDIRECT = "http://127.0.0.1:8765/callback"

const SandboxLive = Sandbox.layer({
  integratorClients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
  merchantClients: [
    {
      clientId: MERCHANT_CLIENT_ID,
      clientSecret: MERCHANT_CLIENT_SECRET,
      redirectUris: [REDIRECT],
      scopes: ["invoice"],
      rotation: "reuse"
    }
  ]
})

/** Every service over the sandbox, on an in-memory store; a fresh one per measurement (cold cache). */
const stack = Layer.unwrapEffect(
  Effect.map(Sandbox.Sandbox, (sandbox) =>
    MobilePay.layer({
      environment: sandbox.environment,
      clientId: CLIENT_ID,
      clientSecret: Redacted.make(CLIENT_SECRET)
    }).pipe(Layer.provide(TokenStore.layerMemory), Layer.provide(FetchHttpClient.layer), Layer.orDie)
  )
)

/** The same, as the merchant-consent client. */
const merchantStack = Layer.unwrapEffect(
  Effect.map(Sandbox.Sandbox, (sandbox) =>
    MobilePay.layer({
      environment: sandbox.environment,
      clientId: MERCHANT_CLIENT_ID,
      clientSecret: Redacted.make(MERCHANT_CLIENT_SECRET),
      redirectUri: REDIRECT,
      scopes: ["invoice"]
    }).pipe(Layer.provide(TokenStore.layerMemory), Layer.provide(FetchHttpClient.layer), Layer.orDie)
  )
)

/** Operations per second of `effect`, warmed first. */
const rate = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 10_000; i++) yield* effect
    const t = performance.now()
    for (let i = 0; i < CACHED_OPS; i++) yield* effect
    return opsPerSecond(CACHED_OPS, performance.now() - t)
  })

const opsPerSecond = (ops: number, millis: number) => ops / (millis / 1000)

// (a) The hot path: a token already in the cache, against the cheapest effectful lookup there is.
const cachedLookup = Effect.gen(function* () {
  const auth = yield* IntegratorAuth.IntegratorAuth
  yield* auth.accessToken() // warm
  const map = new Map([["integrator:none", "token"]])
  const lookup = Effect.sync(() => map.get("integrator:none"))
  // Warm both paths for the JIT before timing.
  for (let i = 0; i < 10_000; i++) {
    yield* auth.accessToken()
    yield* lookup
  }
  let t = performance.now()
  for (let i = 0; i < CACHED_OPS; i++) yield* lookup
  const baseline = opsPerSecond(CACHED_OPS, performance.now() - t)
  t = performance.now()
  for (let i = 0; i < CACHED_OPS; i++) yield* auth.accessToken()
  const cached = opsPerSecond(CACHED_OPS, performance.now() - t)
  return { ops: CACHED_OPS, mapLookupOpsPerSecond: baseline, cachedTokenOpsPerSecond: cached }
})

// (a2) The manager's own cached path, against the same Map lookup.
const cachedManager = Effect.gen(function* () {
  const manager = yield* TokenManager.TokenManager
  const auth = yield* IntegratorAuth.IntegratorAuth
  const issued = yield* auth.accessToken()
  const key = "bench:manager"
  yield* manager.install(key, { tokens: issued, attributes: {} }, { persistent: false })
  const source: TokenManager.TokenSource<never> = {
    key,
    kind: "bench",
    persistent: false,
    obtain: () => Effect.die("a cached token needs no request")
  }
  const get = manager.get(source)
  const map = new Map([[key, "token"]])
  const lookup = Effect.sync(() => map.get(key))
  const baseline = yield* rate(lookup)
  const cached = yield* rate(get)
  return { ops: CACHED_OPS, mapLookupOpsPerSecond: baseline, cachedManagerOpsPerSecond: cached }
})

// (a3) A merchant's cached token through MerchantConsent, against the manager's path for its key.
const cachedMerchant = Effect.gen(function* () {
  const consent = yield* MerchantConsent.MerchantConsent
  const manager = yield* TokenManager.TokenManager
  const sandbox = yield* Sandbox.Sandbox
  const started = yield* consent.begin({ merchantVat: "DK12345678", bindToUserAgent: false })
  const callback = yield* SandboxBrowser.consent(started.url, { redirectUri: REDIRECT }).pipe(
    Effect.provideService(HttpClient.HttpClient, sandbox.client)
  )
  if (callback._tag !== "FormPost") return yield* Effect.die("expected form_post")
  const { merchant } = yield* consent.complete(callback.request)
  const key = `merchant:${MERCHANT_CLIENT_ID}:${merchant}`
  const own = manager.get<never>({
    key,
    kind: "merchant",
    persistent: true,
    obtain: () => Effect.die("a cached token needs no request")
  })
  const managerPath = yield* rate(own)
  const consentPath = yield* rate(consent.accessToken(merchant))
  return {
    ops: CACHED_OPS,
    cachedManagerOpsPerSecond: managerPath,
    cachedMerchantConsentOpsPerSecond: consentPath
  }
})

// (b1) 10,000 callers at once through the toolkit, on a cold key.
const stampedeToolkit = Effect.gen(function* () {
  const auth = yield* IntegratorAuth.IntegratorAuth
  const sandbox = yield* Sandbox.Sandbox
  yield* sandbox.resetCounts
  const t = performance.now()
  yield* Effect.all(
    Array.from({ length: CALLERS }, () => auth.accessToken()),
    { concurrency: "unbounded", discard: true }
  )
  const wallMillis = performance.now() - t
  return { callers: CALLERS, tokenRequests: yield* sandbox.requestCount("integratorToken"), wallMillis }
})

// (b2) The same 10,000 calls with raw oauth4webapi and plain fetch: one token request per call.
const stampedeRaw = Effect.gen(function* () {
  const sandbox = yield* Sandbox.Sandbox
  yield* sandbox.resetCounts
  const as: oauth.AuthorizationServer = {
    issuer: sandbox.integratorIssuer,
    token_endpoint: sandbox.integratorTokenUrl
  }
  const client: oauth.Client = { client_id: CLIENT_ID }
  const auth = oauth.ClientSecretBasic(CLIENT_SECRET)
  const one = async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams(), {
      [oauth.allowInsecureRequests]: true
    })
    return oauth.processClientCredentialsResponse(as, client, response)
  }
  const t = performance.now()
  const results = yield* Effect.promise(() => Promise.allSettled(Array.from({ length: CALLERS }, one)))
  const wallMillis = performance.now() - t
  const failed = results.filter((r) => r.status === "rejected").length
  return {
    callers: CALLERS,
    tokenRequests: yield* sandbox.requestCount("integratorToken"),
    wallMillis,
    failed
  }
})

const main = Effect.gen(function* () {
  const started = performance.now()
  const cached = yield* Effect.provide(cachedLookup, stack)
  const manager = yield* Effect.provide(cachedManager, stack)
  const merchant = yield* Effect.provide(cachedMerchant, merchantStack)
  const toolkit = yield* Effect.provide(stampedeToolkit, stack)
  const raw = yield* stampedeRaw
  const storage: ReadonlyArray<StorageRow> =
    process.env.MOBILEPAY_BENCH_STORAGE === "0" ? [] : yield* runStorage

  const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
  const rows = [
    ["measurement", "figure", "baseline", "ratio"],
    [
      "(a) cached accessToken(), ops/s",
      fmt(cached.cachedTokenOpsPerSecond),
      `${fmt(cached.mapLookupOpsPerSecond)} (Effect.sync Map lookup)`,
      `${(cached.mapLookupOpsPerSecond / cached.cachedTokenOpsPerSecond).toFixed(2)}x slower (goal <= 1.5x)`
    ],
    [
      "(a) cached TokenManager.get, ops/s",
      fmt(manager.cachedManagerOpsPerSecond),
      `${fmt(manager.mapLookupOpsPerSecond)} (Effect.sync Map lookup)`,
      `${(manager.mapLookupOpsPerSecond / manager.cachedManagerOpsPerSecond).toFixed(2)}x slower (goal <= 1.5x)`
    ],
    [
      "(a) cached MerchantConsent.accessToken, ops/s",
      fmt(merchant.cachedMerchantConsentOpsPerSecond),
      `${fmt(merchant.cachedManagerOpsPerSecond)} (TokenManager.get, same key)`,
      `${(merchant.cachedManagerOpsPerSecond / merchant.cachedMerchantConsentOpsPerSecond).toFixed(2)}x slower (goal <= 1.2x)`
    ],
    [
      `(b) ${fmt(CALLERS)} callers, token requests`,
      fmt(toolkit.tokenRequests),
      `${fmt(raw.tokenRequests)} (raw oauth4webapi, no cache)`,
      `${fmt(raw.tokenRequests / Math.max(1, toolkit.tokenRequests))}x fewer`
    ],
    [
      `(b) ${fmt(CALLERS)} callers, wall ms`,
      fmt(toolkit.wallMillis),
      `${fmt(raw.wallMillis)} (raw oauth4webapi, no cache)`,
      `${(raw.wallMillis / toolkit.wallMillis).toFixed(1)}x faster`
    ],
    ...storage.map((row) => [
      `(c) storage ${row.store}`,
      `${fmt(row.readsPerSecond)} reads/s, ${fmt(row.writesPerSecond)} CAS writes/s`,
      `load ${fmt(row.grants)} grants: ${fmt(row.load100kMillis)} ms`,
      ""
    ])
  ]
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? []
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, j) => cell.padEnd(widths[j] ?? 0)).join("  "))
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "))
  }
  if (raw.failed > 0) console.warn(`raw oauth4webapi: ${raw.failed} of ${CALLERS} calls failed`)

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${Os.platform()} ${Os.arch()}`,
    cpus: Os.cpus()[0]?.model ?? "unknown",
    cachedToken: cached,
    cachedManager: manager,
    cachedMerchant: merchant,
    stampede: { toolkit, rawOauth4webapi: raw },
    storage,
    totalMillis: performance.now() - started
  }
  const file = Path.join(import.meta.dirname, "results.json")
  Fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
  console.log(`\nwritten ${Path.relative(process.cwd(), file)} (${fmt(results.totalMillis)} ms in all)`)
})

Effect.runPromise(Effect.scoped(Effect.provide(main, SandboxLive))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
