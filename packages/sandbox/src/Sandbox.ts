/**
 * The offline MobilePay sandbox as an Effect service: a real HTTP server on loopback that
 * speaks MobilePay's authorization protocols (discovery, authorize with login and consent
 * pages, merchant and integrator token endpoints, revocation) and a small protected API,
 * with request counters and fault knobs for tests.
 *
 * @since 0.1.0
 */
import { Headers, type HttpClient, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Environment } from "@mobilepay-auth/domain"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import type * as jose from "jose"
import * as Admin from "./Admin.js"
import * as Api from "./Api.js"
import * as Certificate from "./Certificate.js"
import * as Discovery from "./Discovery.js"
import * as Faults from "./Faults.js"
import * as InProcess from "./InProcess.js"
import * as Keys from "./Keys.js"
import * as Merchants from "./Merchants.js"
import { type Endpoint, type Fault, resolve, type SandboxOptions } from "./Options.js"
import type { Outcome } from "./Outcome.js"
import * as Time from "./Time.js"
import * as Vipps from "./Vipps.js"
import * as World from "./World.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class Sandbox extends Context.Tag("@mobilepay-auth/sandbox/Sandbox")<Sandbox, Sandbox.Service>() {}

/**
 * @since 0.1.0
 */
export declare namespace Sandbox {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** e.g. `http://127.0.0.1:54321` (`https://` with the `https` option) */
    readonly baseUrl: string
    /**
     * With `https`: the server's certificate (PEM), for a client to trust as its only CA.
     * Undefined for plain http.
     */
    readonly certificate: string | undefined
    /**
     * The toolkit's environment for this sandbox (`offline-sandbox`): its discovery, token and API
     * URLs and both issuers. Plain http is allowed to it (loopback only); with `https`, a client
     * must trust `certificate`.
     */
    readonly environment: Environment.Environment
    readonly discoveryUrl: string
    /** The merchant issuer ID tokens carry (differs from `baseUrl`, as MobilePay's does). */
    readonly issuer: string
    readonly integratorIssuer: string
    readonly authorizeUrl: string
    readonly merchantTokenUrl: string
    readonly integratorTokenUrl: string
    readonly revocationUrl: string
    readonly jwksUrl: string
    /**
     * An `HttpClient` that hands each request for `baseUrl` straight to the sandbox, in the
     * caller's fiber: no socket, no TLS, and the sandbox reads the caller's `Clock`, so a
     * simulation on a test clock covers both sides. Counters, faults and quirks apply as over
     * the network; a dropped connection is a `RequestError`. Other origins fail with a
     * `RequestError` too (nothing leaves the process).
     */
    readonly client: HttpClient.HttpClient
    /** Requests received by an endpoint so far. */
    readonly requestCount: (endpoint: Endpoint) => Effect.Effect<number>
    /** The last 100 requests an endpoint received (method, path, headers), oldest first. */
    readonly requests: (endpoint: Endpoint) => Effect.Effect<ReadonlyArray<RecordedRequest>>
    readonly resetCounts: Effect.Effect<void>
    /** Sets the endpoint's fault, replacing any; with `times`, for the next N requests only. */
    readonly setFault: (endpoint: Endpoint, fault: Fault) => Effect.Effect<void>
    readonly clearFaults: Effect.Effect<void>
    /**
     * Revokes a merchant's consent (by merchant id or VAT), as the merchant would in the portal
     * and as `POST /admin/merchants/{id or VAT}/revoke-consent` does; how many consents ended.
     */
    readonly revokeConsent: (merchant: string) => Effect.Effect<number>
    /**
     * Moves the sandbox's clock forward by whole seconds (on top of Effect's `Clock`, so it adds
     * to a `TestClock` too), as `POST /admin/clock/advance?seconds=N` does; the new time (epoch ms).
     */
    readonly advanceClock: (seconds: number) => Effect.Effect<number>
    /** The sandbox's time (epoch ms): Effect's `Clock` plus every advance. */
    readonly now: Effect.Effect<number>
    /** Adds a signing key; the old ones stay in the JWKS. */
    readonly rotateKeys: Effect.Effect<void>
    /** Signs arbitrary claims: with a published key, or (`foreign`) one the JWKS does not hold. */
    readonly signJwt: (
      claims: jose.JWTPayload,
      options?: { readonly kid?: string; readonly foreign?: boolean }
    ) => Effect.Effect<string>
  }
}

/**
 * A request as the sandbox saw it, for tests that check what a client sends.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
}

const paths = {
  discovery: "/account/.well-known/openid-configuration",
  // The second location MobilePay documents for the same document.
  discoveryAlt: "/merchant-authentication-openidconnect/.well-known/openid-configuration",
  jwks: "/account/.well-known/openid-configuration/jwks",
  authorize: "/account/connect/authorize",
  login: "/account/login",
  consent: "/account/consent",
  merchantToken: "/merchant-authentication-openidconnect/connect/token",
  revocation: "/merchant-authentication-openidconnect/connect/revocation",
  integratorToken: "/integrator-authentication/connect/token",
  merchantsMe: "/api/merchants/me",
  payments: "/pos/v10/payments"
} as const

const endpointOf = (path: string): Endpoint | undefined => {
  switch (path) {
    case paths.discovery:
    case paths.discoveryAlt:
      return "discovery"
    case paths.jwks:
      return "jwks"
    case paths.authorize:
    case paths.login:
    case paths.consent:
      return "authorize"
    case paths.merchantToken:
      return "merchantToken"
    case paths.revocation:
      return "revocation"
    case paths.integratorToken:
      return "integratorToken"
    default:
      return path.startsWith("/api/") || path.startsWith("/pos/") ? "api" : Vipps.endpointOf(path)
  }
}

const respond = (outcome: Outcome): HttpServerResponse.HttpServerResponse => {
  switch (outcome._tag) {
    case "Json":
      return HttpServerResponse.unsafeJson(outcome.body, {
        status: outcome.status,
        headers: { "cache-control": "no-store", ...outcome.headers }
      })
    case "Html":
      return HttpServerResponse.html(outcome.html).pipe(HttpServerResponse.setStatus(outcome.status))
    case "Redirect":
      return HttpServerResponse.redirect(outcome.location, { status: 302 })
    case "Text":
      return HttpServerResponse.text(outcome.text, {
        status: outcome.status,
        ...(outcome.headers === undefined ? {} : { headers: outcome.headers })
      })
  }
}

/**
 * Serves the sandbox on the `HttpServer` in context for the life of the scope. `layer` provides
 * one on loopback; with `make` on your own server, pass `https` as the key and certificate the
 * server uses (with `https: true` here, `certificate` stays undefined).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: SandboxOptions = {}) =>
  Effect.gen(function* () {
    const resolved = resolve(options)
    const keys = yield* Keys.make
    const merchants = Merchants.make(resolved.merchants)
    const time = Time.make(resolved.clockOffset)
    const vipps = Vipps.make(options.vipps, keys, time.now)
    const world = World.make(resolved, keys, merchants, time)
    const api = Api.make(resolved, keys, merchants, world.grants, time)
    const counts = new Map<Endpoint, number>()
    const recorded = new Map<Endpoint, Array<RecordedRequest>>()
    const faults = Faults.make()
    const resetCounts = Effect.sync(() => {
      counts.clear()
      recorded.clear()
    })
    const admin = Admin.make({
      advanceClock: time.advance,
      clockOffset: time.offset,
      revokeConsent: world.revokeConsent,
      setFault: faults.set,
      clearFaults: faults.clear,
      faults: faults.list,
      counters: Effect.sync(() => Object.fromEntries(Faults.endpoints.map((e) => [e, counts.get(e) ?? 0]))),
      resetCounts,
      rotateKeys: keys.rotate
    })
    let baseUrl = ""

    // The real handlers, after counters and faults.
    const answer = (request: HttpServerRequest.HttpServerRequest, url: URL) =>
      Effect.gen(function* () {
        const path = url.pathname
        const headers = request.headers
        const query = Object.fromEntries(url.searchParams)
        const form = () =>
          Effect.map(
            Effect.orElseSucceed(request.text, () => ""),
            (text): Record<string, string> => Object.fromEntries(new URLSearchParams(text))
          )
        const route = `${request.method} ${path}`
        switch (route) {
          case `GET ${paths.discovery}`:
          case `GET ${paths.discoveryAlt}`:
            return respond({
              _tag: "Json",
              status: 200,
              body: Discovery.document(resolved.issuer, baseUrl, paths)
            })
          case `GET ${paths.jwks}`:
            return respond({ _tag: "Json", status: 200, body: keys.jwks() })
          case `GET ${paths.authorize}`:
            return respond(yield* world.authorize(query))
          case `POST ${paths.login}`:
            return respond(yield* world.login(yield* form()))
          case `POST ${paths.consent}`:
            return respond(yield* world.consentDecision(yield* form()))
          case `POST ${paths.merchantToken}`:
            return respond(yield* world.merchantToken(yield* form(), headers.authorization))
          case `POST ${paths.integratorToken}`:
            return respond(yield* world.integratorToken(yield* form(), headers))
          case `POST ${paths.revocation}`:
            return respond(yield* world.revocation(yield* form(), headers.authorization))
          case `GET ${paths.merchantsMe}`:
            return respond(yield* api.merchantsMe(headers))
          case `POST ${paths.payments}`: {
            const body = yield* Effect.orElseSucceed(request.json, () => null)
            return respond(yield* api.payment(headers, body))
          }
        }
        const paymentId = /^\/pos\/v10\/payments\/([^/]+)$/.exec(path)?.[1]
        if (request.method === "GET" && paymentId !== undefined) {
          return respond(yield* api.getPayment(headers, decodeURIComponent(paymentId)))
        }
        if (path.startsWith("/admin")) {
          const params = request.method === "GET" ? query : { ...query, ...(yield* form()) }
          const adminAnswer = yield* admin.route(request.method, path, params)
          if (adminAnswer !== undefined) return respond(adminAnswer)
        }
        // Vipps MobilePay (the migration path): its token endpoints and the ePayment API.
        const vippsAnswer = yield* vipps.route(
          request.method,
          path,
          headers,
          Effect.orElseSucceed(request.text, () => "")
        )
        if (vippsAnswer !== undefined) return respond(vippsAnswer)
        return HttpServerResponse.text("Not Found", { status: 404 })
      })

    const handle: Effect.Effect<
      HttpServerResponse.HttpServerResponse | typeof Faults.dropped,
      never,
      HttpServerRequest.HttpServerRequest
    > = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = new URL(request.url, "http://sandbox.invalid")
      const path = url.pathname
      const endpoint = endpointOf(path)
      if (endpoint !== undefined) {
        const n = (counts.get(endpoint) ?? 0) + 1
        counts.set(endpoint, n)
        const log = recorded.get(endpoint) ?? []
        log.push({ method: request.method, path, headers: { ...request.headers } })
        if (log.length > 100) log.shift()
        recorded.set(endpoint, log)
        const fault = yield* faults.injected(endpoint)
        // The work is done (a token issued, a refresh token rotated) even if the client has gone;
        // then the answer is lost, as when a response dies on the way back.
        if (fault === Faults.lost)
          return yield* Effect.as(Effect.uninterruptible(answer(request, url)), Faults.dropped)
        if (fault !== undefined) return fault
      }
      return yield* answer(request, url)
    })

    const server = yield* HttpServer.HttpServer
    // Server spans record request headers: the gateway secret must be redacted like authorization.
    yield* server
      .serve(
        Effect.flatMap(handle, (response) =>
          response === Faults.dropped
            ? Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
                NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
                return HttpServerResponse.empty({ status: 500 })
              })
            : Effect.succeed(response)
        )
      )
      .pipe(
        Effect.locallyWith(Headers.currentRedactedNames, (names) => [
          ...names,
          "x-ibm-client-secret",
          "client_secret",
          "ocp-apim-subscription-key"
        ])
      )
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.die("sandbox: expected a TCP address")
    const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
    baseUrl = `${options.https ? "https" : "http"}://${host}:${address.port}`
    const client = InProcess.client(new URL(baseUrl).origin, handle)

    return Sandbox.of({
      baseUrl,
      certificate: typeof options.https === "object" ? options.https.cert : undefined,
      environment: Environment.custom({
        name: "offline-sandbox",
        discoveryUrl: `${baseUrl}${paths.discovery}`,
        issuer: resolved.issuer,
        integratorTokenUrl: `${baseUrl}${paths.integratorToken}`,
        integratorIssuer: resolved.integratorIssuer,
        apiBaseUrl: baseUrl,
        allowInsecureLoopback: !options.https
      }),
      discoveryUrl: `${baseUrl}${paths.discovery}`,
      issuer: resolved.issuer,
      integratorIssuer: resolved.integratorIssuer,
      authorizeUrl: `${baseUrl}${paths.authorize}`,
      merchantTokenUrl: `${baseUrl}${paths.merchantToken}`,
      integratorTokenUrl: `${baseUrl}${paths.integratorToken}`,
      revocationUrl: `${baseUrl}${paths.revocation}`,
      jwksUrl: `${baseUrl}${paths.jwks}`,
      client,
      requestCount: (endpoint) => Effect.sync(() => counts.get(endpoint) ?? 0),
      requests: (endpoint) => Effect.sync(() => [...(recorded.get(endpoint) ?? [])]),
      resetCounts,
      setFault: faults.set,
      clearFaults: faults.clear,
      revokeConsent: world.revokeConsent,
      advanceClock: time.advance,
      now: time.now,
      rotateKeys: keys.rotate,
      signJwt: keys.sign
    })
  })

const loopback = new Set(["127.0.0.1", "::1", "localhost"])

/**
 * The sandbox for the life of the layer's scope, on `options.host` (default 127.0.0.1) and
 * `options.port` (default: a free port); with `https: true`, behind a certificate generated now.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: SandboxOptions = {}): Layer.Layer<Sandbox> =>
  Layer.unwrapEffect(
    Effect.map(options.https === true ? Certificate.selfSigned : Effect.succeed(options.https), (https) => {
      if (!loopback.has(options.host ?? "127.0.0.1")) {
        const refusal = `sandbox: host ${options.host}: it serves on loopback only (127.0.0.1, ::1, localhost)`
        return Layer.effect(Sandbox, Effect.dieMessage(refusal))
      }
      const listen = { host: options.host ?? "127.0.0.1", port: options.port ?? 0 }
      const server =
        typeof https === "object"
          ? NodeHttpServer.layer(() => createHttpsServer({ key: https.key, cert: https.cert }), listen)
          : NodeHttpServer.layer(() => createServer(), listen)
      const resolved: SandboxOptions = https === undefined ? options : { ...options, https }
      return Layer.scoped(Sandbox, make(resolved)).pipe(Layer.provide(Layer.orDie(server)))
    })
  )
