/**
 * "Keep the client secret secret", as a test: a suite of flows runs against the sandbox while
 * every log line, every span (name, attributes, events, exit) and every error (String, JSON,
 * `util.inspect`) is captured; none of that text may hold the client secret, the gateway
 * secret, or any access token the sandbox issued.
 */
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Vat } from "@mobilepay-auth/domain"
import { Sandbox } from "@mobilepay-auth/sandbox"
import {
  Cause,
  ConfigProvider,
  Effect,
  Exit,
  Layer,
  Logger,
  LogLevel,
  Option,
  Redacted,
  Tracer
} from "effect"
import { inspect } from "node:util"
import * as IntegratorAuth from "../src/IntegratorAuth.js"
import * as MobilePayConfig from "../src/MobilePayConfig.js"
import * as MobilePayHttpClient from "../src/MobilePayHttpClient.js"
import * as VippsAccessToken from "../src/VippsAccessToken.js"
import * as VippsConfig from "../src/VippsConfig.js"
import * as VippsHttpClient from "../src/VippsHttpClient.js"
import { CLIENT_ID, CLIENT_SECRET, integratorStack } from "./utils/sandboxStack.js"
import {
  MANAGEMENT_CLIENT_ID,
  MANAGEMENT_SECRET,
  VIPPS_CLIENT_SECRET,
  VIPPS_SUBSCRIPTION_KEY,
  vippsStack
} from "./utils/vippsStack.js"

const GATEWAY_ID = "gw-secrets-id"
const GATEWAY_SECRET = "gw-secret-0c8e41f7b2"
const vat = Vat.Vat("DK12345678")

const render = (value: unknown): ReadonlyArray<string> => {
  const texts = [String(value), inspect(value, { depth: 12 })]
  try {
    texts.push(JSON.stringify(value) ?? "")
  } catch {
    // Cyclic values have no JSON rendering to check.
  }
  return texts
}

/** Everything observable: log lines, spans, errors. */
const capture = Effect.map(Effect.tracer, (native) => {
  const captured: Array<string> = []
  const spans: Array<string> = []
  const logger = Logger.make(({ logLevel, message, cause, annotations, spans: logSpans }) => {
    captured.push(
      `${logLevel.label} ${inspect(message, { depth: 12 })} ${Cause.pretty(cause)} ` +
        inspect(annotations, { depth: 12 }) +
        inspect(logSpans, { depth: 12 })
    )
  })
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      spans.push(name)
      const attribute = span.attribute.bind(span)
      const event = span.event.bind(span)
      const end = span.end.bind(span)
      span.attribute = (key, value) => {
        captured.push(`span ${name} attribute ${key}=${inspect(value, { depth: 12 })}`)
        attribute(key, value)
      }
      span.event = (eventName, time, attributes) => {
        captured.push(`span ${name} event ${eventName} ${inspect(attributes, { depth: 12 })}`)
        event(eventName, time, attributes)
      }
      span.end = (endTime, exit) => {
        captured.push(
          `span ${name} end ${inspect([...span.attributes], { depth: 12 })} ` +
            (Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "ok")
        )
        end(endTime, exit)
      }
      captured.push(`span ${name} start ${inspect(options?.attributes ?? {}, { depth: 12 })}`)
      return span
    },
    context: (f, fiber) => native.context(f, fiber)
  })
  /** Runs `effect` with the capturing logger (at every level) and tracer. */
  const observe = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(
      Effect.withTracer(tracer),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  /** A failure as a caller sees it: its renderings, and a log line. */
  const failed = <E>(label: string, error: E) =>
    Effect.gen(function* () {
      captured.push(...render(error))
      if (error instanceof Error && error.message) captured.push(error.message)
      yield* Effect.logError(label, error)
      yield* Effect.logError(Cause.fail(error))
      return error
    })
  return { captured, spans, observe, failed }
})

const pay = Effect.gen(function* () {
  const unbound = yield* MobilePayHttpClient.integrator({ merchantVat: vat, bound: false })
  const bound = yield* MobilePayHttpClient.integrator({ merchantVat: vat, bound: true })
  const statuses: Array<number> = []
  for (const client of [unbound, bound]) {
    const post = yield* client.execute(
      HttpClientRequest.post("/pos/v10/payments").pipe(HttpClientRequest.bodyUnsafeJson({ amount: 1250 }))
    )
    const created = yield* post.text
    yield* Effect.logDebug("payment", created)
    // PoS takes integrator tokens; the merchant APIs (/api/merchants/me) do not, as MobilePay.
    const id = post.status === 200 ? (JSON.parse(created) as { paymentId: string }).paymentId : "none"
    const read = yield* client.execute(HttpClientRequest.get(`/pos/v10/payments/${id}`))
    yield* Effect.logTrace("payment read", yield* read.text)
    statuses.push(post.status, read.status)
  }
  return statuses
})

const fast = {
  baseBackoff: "1 millis",
  maxBackoff: "5 millis",
  maxRetries: 2
} as const

const stack = (clientSecret = CLIENT_SECRET) =>
  integratorStack({
    http: fast,
    sandbox: { gateway: { clientId: GATEWAY_ID, clientSecret: GATEWAY_SECRET } },
    config: {
      clientSecret: Redacted.make(clientSecret),
      gateway: { clientId: GATEWAY_ID, clientSecret: Redacted.make(GATEWAY_SECRET) },
      gatewayOnTokenCall: true,
      requestTimeout: "300 millis"
    }
  })

/** Fails naming which secret (by index) appears in which captured line, the secret masked. */
const expectNoSecret = (captured: ReadonlyArray<string>, secrets: ReadonlyArray<string>) => {
  const text = captured.join("\n")
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThan(8)
    const where = captured
      .filter((line) => line.includes(secret))
      .map((line) => line.split(secret).join("<secret>").slice(0, 160))
    expect(where, `secret #${secrets.indexOf(secret)} appears in captured text`).toEqual([])
    // A JWT's signature alone is as good as the token for a replay: check it on its own too.
    const signature = secret.split(".")[2]
    if (signature !== undefined) expect(text.includes(signature)).toBe(false)
  }
}

const epayment = (reference: string, value = 2500) =>
  HttpClientRequest.post("/epayment/v1/payments").pipe(
    HttpClientRequest.bodyUnsafeJson({ amount: { currency: "DKK", value }, reference })
  )

describe("no secret or token in logs, spans or errors", () => {
  it.live(
    "integrator tokens, API calls, faults, a wrong secret and a failing config",
    () =>
      Effect.gen(function* () {
        const { captured, spans, observe, failed } = yield* capture
        const issued = new Set<string>()

        const flows = Effect.gen(function* () {
          const auth = yield* IntegratorAuth.IntegratorAuth
          const sandbox = yield* Sandbox.Sandbox
          const collect = Effect.gen(function* () {
            for (const request of yield* sandbox.requests("api")) {
              const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1]
              if (token !== undefined) issued.add(token)
            }
            yield* sandbox.resetCounts
          })

          // Tokens, bound and unbound: the token sets themselves render redacted.
          const unbound = yield* auth.accessToken()
          const bound = yield* auth.accessToken(Option.some(vat))
          yield* Effect.logInfo("tokens", unbound, bound)
          captured.push(...render(unbound), ...render(bound))
          issued.add(Redacted.value(unbound.accessToken)).add(Redacted.value(bound.accessToken))

          expect(yield* pay).toEqual([200, 200, 200, 200])
          yield* collect

          // A 401 is retried once with a fresh token; a persistent one is Unauthorized.
          yield* sandbox.setFault("api", { unauthorizedCount: 1 })
          expect(yield* pay).toEqual([200, 200, 200, 200])
          yield* collect
          yield* sandbox.setFault("api", { unauthorizedCount: 10 })
          yield* failed("unauthorized", yield* Effect.flip(pay))
          yield* collect
          yield* sandbox.setFault("api", { errorRate: 1 })
          const status = (yield* pay)[0]
          expect(status).toBe(503)
          yield* collect
          yield* sandbox.clearFaults

          // Token endpoint faults, each on a cold key (a new merchant) so it reaches the endpoint.
          const faults = [
            [{ errorRate: 1 }, "Transport"],
            [{ status429: { retryAfterSeconds: 0 } }, "RateLimited"],
            [{ malformedBody: "json" }, "ProtocolViolation"],
            [{ malformedBody: "html" }, "ProtocolViolation"],
            [{ dropConnection: true }, "Transport"],
            [{ latencyMs: 1000 }, "Transport"]
          ] as const
          let n = 0
          for (const [fault, tag] of faults) {
            yield* sandbox.setFault("integratorToken", fault)
            const error = yield* Effect.flip(auth.accessToken(Option.some(Vat.Vat(`DK${20_000_000 + n++}`))))
            expect(error._tag).toBe(tag)
            yield* failed(`token endpoint ${tag}`, error)
          }
          yield* sandbox.clearFaults
          yield* collect
        }).pipe(Effect.provide(stack()))

        const wrongSecret = Effect.gen(function* () {
          const auth = yield* IntegratorAuth.IntegratorAuth
          const error = yield* Effect.flip(auth.accessToken())
          expect(error._tag).toBe("InvalidClient")
          yield* failed("wrong secret", error)
        }).pipe(Effect.provide(stack("wrong-secret-3a61d9c0")))

        const badConfig = Effect.gen(function* () {
          const env = new Map([
            ["MOBILEPAY_CLIENT_ID", "pos"],
            ["MOBILEPAY_CLIENT_SECRET", CLIENT_SECRET],
            ["MOBILEPAY_GATEWAY_CLIENT_ID", GATEWAY_ID],
            ["MOBILEPAY_GATEWAY_CLIENT_SECRET", GATEWAY_SECRET],
            ["MOBILEPAY_SCOPES", "invoice superuser"]
          ])
          const error = yield* Effect.flip(
            Effect.provide(
              MobilePayConfig.MobilePayConfig,
              MobilePayConfig.layerConfig().pipe(
                Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(env, { pathDelim: "_" })))
              )
            )
          )
          yield* failed("config", error)
          const good = yield* Effect.provide(
            MobilePayConfig.MobilePayConfig,
            MobilePayConfig.layerConfig().pipe(
              Layer.provide(
                Layer.setConfigProvider(
                  ConfigProvider.fromMap(new Map([...env].filter(([k]) => k !== "MOBILEPAY_SCOPES")), {
                    pathDelim: "_"
                  })
                )
              )
            )
          )
          yield* Effect.logInfo("config", good)
          captured.push(...render(good))
        })

        yield* observe(Effect.all([flows, wrongSecret, badConfig], { discard: true }))

        // The capture saw the flows: spans of the toolkit and of HTTP, log lines, errors.
        expect(spans).toContain("mobilepay_auth.integrator_token")
        expect(spans).toContain("mobilepay_auth.refresh")
        expect(spans.some((s) => s.startsWith("http.client"))).toBe(true)
        expect(captured.some((line) => line.includes("RateLimited"))).toBe(true)
        expect(issued.size).toBeGreaterThanOrEqual(3)

        const text = captured.join("\n")
        const secrets = [
          CLIENT_SECRET,
          GATEWAY_SECRET,
          "wrong-secret-3a61d9c0",
          // The Basic credential of the token call, as it goes on the wire.
          Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64"),
          ...issued
        ]
        for (const secret of secrets) {
          expect(secret.length).toBeGreaterThan(8)
          // Report where it leaked, with the secret masked.
          const where = captured
            .filter((line) => line.includes(secret))
            .map((line) => line.split(secret).join("<secret>").slice(0, 160))
          expect(where, `secret #${secrets.indexOf(secret)} appears in captured text`).toEqual([])
          // A JWT's signature alone is as good as the token for a replay: check it on its own too.
          const signature = secret.split(".")[2]
          if (signature !== undefined) expect(text.includes(signature)).toBe(false)
        }
      }),
    30_000
  )

  it.live(
    "Vipps MobilePay: standard and specialized tokens, API calls, 401s, problems, faults, wrong keys, a failing config",
    () =>
      Effect.gen(function* () {
        const { captured, failed, observe, spans } = yield* capture
        const issued = new Set<string>()
        const collect = Effect.gen(function* () {
          const sandbox = yield* Sandbox.Sandbox
          for (const request of yield* sandbox.requests("vippsApi")) {
            const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1]
            if (token !== undefined) issued.add(token)
          }
          yield* sandbox.resetCounts
        })

        const flows = Effect.gen(function* () {
          const tokens = yield* VippsAccessToken.VippsAccessToken
          const sandbox = yield* Sandbox.Sandbox
          // Partner tokens per merchant and partner-level: the token sets render redacted.
          for (const merchantSerialNumber of ["123456", "654321", null]) {
            const set = yield* tokens.accessToken(VippsAccessToken.standard({ merchantSerialNumber }))
            yield* Effect.logInfo("vipps token", set)
            captured.push(...render(set))
            issued.add(Redacted.value(set.accessToken))
          }
          // API calls with the subscription key, then a 401 retried once, then one that stays 401.
          const api = yield* VippsHttpClient.make()
          const created = yield* api.execute(epayment("secrets-order-1"))
          yield* Effect.logDebug("created", yield* created.text)
          yield* sandbox.setFault("vippsApi", { unauthorizedCount: 1 })
          yield* Effect.logTrace("read", yield* (yield* api.execute(epayment("secrets-order-2"))).text)
          yield* sandbox.setFault("vippsApi", { unauthorizedCount: 10 })
          yield* failed("vipps unauthorized", yield* Effect.flip(api.execute(epayment("secrets-order-3"))))
          yield* sandbox.clearFaults
          // A problem answer: ApiProblem with its trace id, and its log line.
          const problem = yield* Effect.flip(api.execute(epayment("bad", -1)))
          expect(problem._tag).toBe("ApiProblem")
          yield* failed("vipps problem", problem)
          yield* collect

          // Token endpoint faults, each on a cold key (another merchant).
          const faults = [
            [{ errorRate: 1 }, "Transport"],
            [{ status429: { retryAfterSeconds: 0 } }, "RateLimited"],
            [{ malformedBody: "json" }, "ProtocolViolation"],
            [{ malformedBody: "html" }, "ProtocolViolation"],
            [{ dropConnection: true }, "Transport"],
            [{ latencyMs: 1000 }, "Transport"]
          ] as const
          let n = 0
          for (const [fault, tag] of faults) {
            yield* sandbox.setFault("vippsToken", fault)
            const msn = String(700_000 + n++)
            const error = yield* Effect.flip(
              tokens.accessToken(VippsAccessToken.standard({ merchantSerialNumber: msn }))
            )
            expect(error._tag, `fault ${JSON.stringify(fault)}: ${error.message}`).toBe(tag)
            yield* failed(`vipps token endpoint ${tag}`, error)
          }
          yield* sandbox.clearFaults
        }).pipe(
          // The Vipps stack takes AuthHttp's options directly: the 300 ms timeout is set here.
          Effect.provide(vippsStack({ http: { ...fast, timeout: "300 millis" } }))
        )

        const wrongKeys = Effect.gen(function* () {
          const error = yield* Effect.flip((yield* VippsAccessToken.VippsAccessToken).accessToken())
          expect(error._tag).toBe("InvalidClient")
          yield* failed("vipps wrong secret", error)
        }).pipe(
          Effect.provide(vippsStack({ config: { clientSecret: Redacted.make("wrong-vipps-secret-71b2") } }))
        )

        const wrongSubscriptionKey = Effect.gen(function* () {
          const error = yield* Effect.flip((yield* VippsAccessToken.VippsAccessToken).accessToken())
          expect(error._tag).toBe("InvalidClient")
          yield* failed("vipps wrong subscription key", error)
        }).pipe(
          Effect.provide(
            vippsStack({ config: { subscriptionKey: Redacted.make("wrong-subscription-key-5e") } })
          )
        )

        const specialized = Effect.gen(function* () {
          const tokens = yield* VippsAccessToken.VippsAccessToken
          const set = yield* tokens.accessToken(VippsAccessToken.specialized({ scope: "management" }))
          yield* Effect.logInfo("management token", set)
          captured.push(...render(set))
          issued.add(Redacted.value(set.accessToken))
        }).pipe(
          Effect.provide(
            vippsStack({
              withoutSubscriptionKey: true,
              config: { clientId: MANAGEMENT_CLIENT_ID, clientSecret: Redacted.make(MANAGEMENT_SECRET) }
            })
          )
        )

        const badConfig = Effect.gen(function* () {
          const env = new Map([
            ["VIPPS_CLIENT_ID", "partner"],
            ["VIPPS_CLIENT_SECRET", VIPPS_CLIENT_SECRET],
            ["VIPPS_SUBSCRIPTION_KEY", VIPPS_SUBSCRIPTION_KEY],
            ["VIPPS_MERCHANT_SERIAL_NUMBER", "MSN-12"]
          ])
          const load = (entries: Map<string, string>) =>
            Effect.provide(
              VippsConfig.VippsConfig,
              VippsConfig.layerConfig().pipe(
                Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(entries, { pathDelim: "_" })))
              )
            )
          yield* failed("vipps config", yield* Effect.flip(load(env)))
          const good = yield* load(new Map([...env].filter(([k]) => k !== "VIPPS_MERCHANT_SERIAL_NUMBER")))
          yield* Effect.logInfo("vipps config", good)
          captured.push(...render(good))
        })

        yield* observe(
          Effect.all([flows, wrongKeys, wrongSubscriptionKey, specialized, badConfig], { discard: true })
        )

        expect(spans).toContain("mobilepay_auth.vipps_token")
        expect(spans.some((s) => s.startsWith("http.client"))).toBe(true)
        expect(captured.some((line) => line.includes("ApiProblem"))).toBe(true)
        expect(issued.size).toBeGreaterThanOrEqual(5)
        expectNoSecret(captured, [
          VIPPS_CLIENT_SECRET,
          VIPPS_SUBSCRIPTION_KEY,
          MANAGEMENT_SECRET,
          "wrong-vipps-secret-71b2",
          "wrong-subscription-key-5e",
          // The specialized token call's Basic credential, as it goes on the wire.
          Buffer.from(
            `${encodeURIComponent(MANAGEMENT_CLIENT_ID)}:${encodeURIComponent(MANAGEMENT_SECRET)}`
          ).toString("base64"),
          ...issued
        ])
      }),
    30_000
  )
})
