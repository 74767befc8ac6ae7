/**
 * Attacks on the transport (RFC 9700 §4.11 "Open Redirection", §4.1 redirect URI and endpoint
 * handling; OpenID Connect Core §16.17 TLS requirements): redirects from protocol endpoints and
 * APIs, credentials sent off the API origin, URLs with credentials, and error answers that are
 * not JSON. A second server on 127.0.0.1 plays the attacker's host and records what reached it.
 */
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { AuthError } from "@mobilepay-auth/domain"
import { Cause, Effect, Option, Redacted, Runtime } from "effect"
import * as AuthHttp from "../../src/AuthHttp.js"
import * as MobilePayHttpClient from "../../src/MobilePayHttpClient.js"
import * as Hostile from "./hostile.js"

// The `fetch` bridge rejects with the fiber's failure; its cause holds our typed error.
const fiberCause = (e: unknown) =>
  Runtime.isFiberFailure(e) ? e[Runtime.FiberFailureCauseId] : Cause.fail(e)

const redirectTo = (location: string) => () => ({ status: 302, headers: { location } })

/** The attacker's host: answers 200 to everything, serving the rogue key as a JWKS. */
const attackerHost = (hostile: Hostile.Hostile) =>
  Hostile.listen(() => ({
    status: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ keys: [{ ...hostile.jwks.rogue, kid: "k1", use: "sig", alg: "RS256" }] })
  }))

describe("attacks: transport", () => {
  describe("redirects (RFC 9700 §4.11): never followed, a typed error", () => {
    it.scopedLive(
      "a JWKS that redirects to the attacker's keys: refused, the forged ID token is not accepted",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          const attacker = yield* attackerHost(hostile)
          return yield* Effect.gen(function* () {
            hostile.script.routes = { "/jwks": redirectTo(`${attacker.url}/jwks`) }
            hostile.script.frontSign = { rogue: true }
            const { request, service } = yield* Hostile.consent(hostile)
            const error = yield* Effect.flip(service.complete(request))
            expect(error).toBeInstanceOf(AuthError.InsecureEndpoint)
            expect(error).toMatchObject({ reason: "redirect" })
            expect(attacker.received).toEqual([])
            expect(yield* service.merchants).toEqual([])
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
    )

    it.scopedLive("a token endpoint that redirects: the code and verifier never reach the other host", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        const attacker = yield* attackerHost(hostile)
        return yield* Effect.gen(function* () {
          hostile.script.routes = { "/token": redirectTo(`${attacker.url}/token`) }
          const { request, service } = yield* Hostile.consent(hostile)
          const error = yield* Effect.flip(service.complete(request))
          expect({ ...error }).toMatchObject({ _tag: "InsecureEndpoint", reason: "redirect" })
          expect(attacker.received).toEqual([])
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )

    it.scopedLive("a discovery document that redirects: begin fails with InsecureEndpoint(redirect)", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        const attacker = yield* attackerHost(hostile)
        return yield* Effect.gen(function* () {
          hostile.script.routes = {
            "/.well-known/openid-configuration": redirectTo(
              `${attacker.url}/.well-known/openid-configuration`
            )
          }
          const error = yield* Effect.flip(Hostile.consent(hostile))
          expect(error).toMatchObject({ _tag: "InsecureEndpoint", reason: "redirect" })
          expect(attacker.received).toEqual([])
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )

    it.scopedLive("an API that redirects to plain http elsewhere: the gateway secret is not sent there", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        const attacker = yield* attackerHost(hostile)
        return yield* Effect.gen(function* () {
          hostile.script.routes = { "/api/payments": redirectTo(`${attacker.url}/api/payments`) }
          const client = yield* MobilePayHttpClient.make({
            token: Effect.succeed(Redacted.make("access-token")),
            invalidate: () => Effect.void,
            merchantVat: Option.none()
          })
          const error = yield* Effect.flip(client.execute(HttpClientRequest.get("/api/payments")))
          expect(error).toMatchObject({ _tag: "InsecureEndpoint", reason: "redirect" })
          expect(attacker.received).toEqual([])
          expect(hostile.received.filter((r) => r.path === "/api/payments")).toHaveLength(1)
        }).pipe(
          Effect.provide(
            Hostile.stack(hostile, { gateway: { clientId: "gw", clientSecret: Redacted.make("gw-secret") } })
          )
        )
      })
    )
  })

  describe("credentials only to the API origin", () => {
    const offSite = (port: string) => [
      `http://127.0.0.1:${port}/api/x`,
      `//127.0.0.1:${port}/api/x`,
      `\\\\127.0.0.1:${port}/api/x`,
      `/\\127.0.0.1:${port}/api/x`,
      `@127.0.0.1:${port}/api/x`,
      `http:\\\\127.0.0.1:${port}/api/x`
    ]

    it.scopedLive(
      "absolute, protocol-relative and backslash URLs to another host are refused before a token is fetched",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          const attacker = yield* attackerHost(hostile)
          return yield* Effect.gen(function* () {
            let tokens = 0
            const client = yield* MobilePayHttpClient.make({
              token: Effect.sync(() => {
                tokens++
                return Redacted.make("access-token")
              }),
              invalidate: () => Effect.void,
              merchantVat: Option.none()
            })
            const port = new URL(attacker.url).port
            for (const url of offSite(port)) {
              const error = yield* Effect.flip(client.execute(HttpClientRequest.get(url)))
              expect(error, url).toMatchObject({ _tag: "InsecureEndpoint", reason: "foreign-origin" })
            }
            expect(tokens).toBe(0)
            expect(attacker.received).toEqual([])
            // The API origin itself still works.
            const ok = yield* client.execute(HttpClientRequest.get("/api/x"))
            expect(ok.status).toBe(200)
            expect(tokens).toBe(1)
          }).pipe(
            Effect.provide(
              Hostile.stack(hostile, {
                gateway: { clientId: "gw", clientSecret: Redacted.make("gw-secret") }
              })
            )
          )
        })
    )

    it.scopedLive("a URL with a user name or password is InsecureEndpoint(credentials), not retried", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          const http = yield* AuthHttp.AuthHttp
          const url = `http://user:pass@${hostile.url.slice("http://".length)}/api/x`
          const direct = yield* Effect.flip(http.client.execute(HttpClientRequest.get(url)))
          expect(direct).toMatchObject({ _tag: "InsecureEndpoint", reason: "credentials" })
          expect(AuthError.isTransient(direct)).toBe(false)
          const fetch = yield* http.fetch
          const bridged = yield* Effect.flip(
            Effect.tryPromise({ try: () => fetch(url), catch: (e) => Cause.squash(fiberCause(e)) })
          )
          expect({ ...Object(bridged) }).toMatchObject({ _tag: "InsecureEndpoint", reason: "credentials" })
          expect(hostile.received).toEqual([])
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )
  })

  describe("error answers that are not JSON keep their meaning", () => {
    it.scopedLive("a 429 with an HTML body at the token endpoint is RateLimited with its Retry-After", () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          hostile.script.routes = {
            "/token": () => ({
              status: 429,
              headers: { "content-type": "text/html", "retry-after": "7" },
              body: "<html>slow down</html>"
            })
          }
          const { request, service } = yield* Hostile.consent(hostile)
          const error = yield* Effect.flip(service.complete(request))
          expect({ ...error }).toMatchObject({ _tag: "RateLimited", retryAfterMillis: 7000 })
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
    )

    it.scopedLive(
      "a 401 with an HTML body at the token endpoint is InvalidClient, not ProtocolViolation",
      () =>
        Effect.gen(function* () {
          const hostile = yield* Hostile.make
          return yield* Effect.gen(function* () {
            hostile.script.routes = {
              "/token": () => ({
                status: 401,
                headers: { "content-type": "text/html" },
                body: "<html>no</html>"
              })
            }
            const { request, service } = yield* Hostile.consent(hostile)
            const error = yield* Effect.flip(service.complete(request))
            expect({ ...error }).toMatchObject({ _tag: "InvalidClient", status: 401 })
          }).pipe(Effect.provide(Hostile.stack(hostile)))
        })
    )
  })
})
