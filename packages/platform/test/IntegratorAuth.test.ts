import { describe, expect, it } from "@effect/vitest"
import { AuthError, Vat } from "@mobilepay-auth/domain"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Option, Redacted, Tracer } from "effect"
import * as IntegratorAuth from "../src/IntegratorAuth.js"
import { integratorStack } from "./utils/sandboxStack.js"

const claims = (token: Redacted.Redacted<string>) =>
  JSON.parse(Buffer.from(Redacted.value(token).split(".")[1] ?? "", "base64url").toString("utf8"))

describe("IntegratorAuth against the sandbox", () => {
  it.live("gets bound and unbound tokens and caches them", () =>
    Effect.gen(function* () {
      const auth = yield* IntegratorAuth.IntegratorAuth
      const sandbox = yield* Sandbox.Sandbox
      const vat = Vat.Vat("DK12345678")
      const unbound = yield* auth.accessToken()
      const bound = yield* auth.accessToken(Option.some(vat))
      expect(claims(unbound.accessToken).merchant_vat).toBeUndefined()
      expect(claims(bound.accessToken).merchant_vat).toBe("DK12345678")
      expect(bound.expiresAt - bound.issuedAt).toBe(3_700_000)
      yield* auth.accessToken()
      yield* auth.accessToken(Option.some(vat))
      expect(yield* sandbox.requestCount("integratorToken")).toBe(2)
    }).pipe(Effect.provide(integratorStack()))
  )

  it.live("10,000 concurrent callers on a cold key make exactly one token request", () =>
    Effect.gen(function* () {
      const auth = yield* IntegratorAuth.IntegratorAuth
      const sandbox = yield* Sandbox.Sandbox
      const tokens = yield* Effect.all(
        Array.from({ length: 10_000 }, () => auth.accessToken()),
        {
          concurrency: "unbounded"
        }
      )
      expect(yield* sandbox.requestCount("integratorToken")).toBe(1)
      expect(new Set(tokens.map((t) => Redacted.value(t.accessToken))).size).toBe(1)
    }).pipe(Effect.provide(integratorStack()))
  )

  it.live(
    "1,000 keys x 10 callers make exactly 1,000 token requests",
    () =>
      Effect.gen(function* () {
        const auth = yield* IntegratorAuth.IntegratorAuth
        const sandbox = yield* Sandbox.Sandbox
        const vats = Array.from({ length: 1000 }, (_, i) => Vat.Vat(`DK${String(10_000_000 + i)}`))
        yield* Effect.all(
          vats.flatMap((vat) => Array.from({ length: 10 }, () => auth.accessToken(Option.some(vat)))),
          { concurrency: "unbounded" }
        )
        expect(yield* sandbox.requestCount("integratorToken")).toBe(1000)
      }).pipe(Effect.provide(integratorStack())),
    180_000
  )

  it.live("a wrong secret is InvalidClient, not retried, and nothing is cached", () =>
    Effect.gen(function* () {
      const auth = yield* IntegratorAuth.IntegratorAuth
      const sandbox = yield* Sandbox.Sandbox
      const error = yield* Effect.flip(auth.accessToken())
      expect(error._tag).toBe("InvalidClient")
      expect(yield* sandbox.requestCount("integratorToken")).toBe(1)
      expect(String(error)).not.toContain("wrong-secret")
    }).pipe(Effect.provide(integratorStack({ config: { clientSecret: Redacted.make("wrong-secret") } })))
  )

  const tokenCallHeaders = Effect.gen(function* () {
    const auth = yield* IntegratorAuth.IntegratorAuth
    const sandbox = yield* Sandbox.Sandbox
    yield* auth.accessToken(Option.some(Vat.Vat("DK12345678")))
    const [request] = yield* sandbox.requests("integratorToken")
    return request?.headers ?? {}
  })

  it.live("token call: Basic auth, form body; x-ibm-client-id only when configured for the token call", () =>
    Effect.gen(function* () {
      const plain = yield* tokenCallHeaders.pipe(
        Effect.provide(integratorStack({ config: { gateway: { clientId: "gw" } } }))
      )
      expect(plain.authorization).toMatch(/^Basic /)
      expect(plain["content-type"]).toContain("application/x-www-form-urlencoded")
      expect(plain["x-ibm-client-id"]).toBeUndefined()
      const withGateway = yield* tokenCallHeaders.pipe(
        Effect.provide(integratorStack({ config: { gateway: { clientId: "gw" }, gatewayOnTokenCall: true } }))
      )
      expect(withGateway["x-ibm-client-id"]).toBe("gw")
    })
  )
})

describe("IntegratorAuth transient faults", () => {
  const faulty = (
    fault: Parameters<Sandbox.Sandbox.Service["setFault"]>[1],
    expected: string,
    attempts: number
  ) =>
    Effect.gen(function* () {
      const auth = yield* IntegratorAuth.IntegratorAuth
      const sandbox = yield* Sandbox.Sandbox
      yield* sandbox.setFault("integratorToken", fault)
      const error = yield* Effect.flip(auth.accessToken())
      expect(error._tag).toBe(expected)
      expect(yield* sandbox.requestCount("integratorToken")).toBe(attempts)
      // Nothing was cached from the failure: with the fault gone, the next call asks again.
      yield* sandbox.clearFaults
      yield* sandbox.resetCounts
      return { auth, sandbox }
    })

  const fast = {
    http: { baseBackoff: "1 millis", maxBackoff: "5 millis", maxRetries: 2 },
    config: { requestTimeout: "300 millis" }
  } as const

  it.live("5xx: retried twice by the HTTP layer, then Transport", () =>
    faulty({ errorRate: 1 }, "Transport", 3).pipe(Effect.provide(integratorStack(fast)))
  )

  it.live("429 with Retry-After: honoured, then RateLimited", () =>
    faulty({ status429: { retryAfterSeconds: 0 } }, "RateLimited", 3).pipe(
      Effect.provide(integratorStack(fast))
    )
  )

  it.live("a dropped connection: retried, then Transport", () =>
    faulty({ dropConnection: true }, "Transport", 3).pipe(Effect.provide(integratorStack(fast)))
  )

  it.live("a timeout: retried, then Transport", () =>
    faulty({ latencyMs: 1_000 }, "Transport", 3).pipe(Effect.provide(integratorStack(fast)))
  )

  it.live("a malformed JSON body is ProtocolViolation, not retried", () =>
    faulty({ malformedBody: "json" }, "ProtocolViolation", 1).pipe(Effect.provide(integratorStack(fast)))
  )

  it.live("an HTML body is ProtocolViolation; callers fail fast while the key cools down, then recover", () =>
    Effect.gen(function* () {
      const { auth, sandbox } = yield* faulty({ malformedBody: "html" }, "ProtocolViolation", 1)
      // Cooling down (1 s after one failure): fail fast, no request.
      expect((yield* Effect.flip(auth.accessToken()))._tag).toBe("ProtocolViolation")
      expect(yield* sandbox.requestCount("integratorToken")).toBe(0)
      yield* Effect.sleep("1100 millis")
      const token = yield* auth.accessToken()
      expect(Redacted.value(token.accessToken).split(".")).toHaveLength(3)
      expect(yield* sandbox.requestCount("integratorToken")).toBe(1)
    }).pipe(Effect.provide(integratorStack(fast)))
  )

  it.live("a 5xx burst shorter than the retries is invisible to the caller", () =>
    Effect.gen(function* () {
      const auth = yield* IntegratorAuth.IntegratorAuth
      const sandbox = yield* Sandbox.Sandbox
      yield* sandbox.setFault("integratorToken", { errorRate: 0.5 })
      const token = yield* auth.accessToken()
      expect(Redacted.value(token.accessToken).length).toBeGreaterThan(20)
      expect(yield* sandbox.requestCount("integratorToken")).toBe(2)
    }).pipe(Effect.provide(integratorStack(fast)))
  )

  it.live("errors never carry the client secret", () =>
    Effect.gen(function* () {
      const auth = yield* IntegratorAuth.IntegratorAuth
      const sandbox = yield* Sandbox.Sandbox
      yield* sandbox.setFault("integratorToken", { malformedBody: "html" })
      const error: AuthError.AuthError = yield* Effect.flip(auth.accessToken())
      for (const text of [String(error), JSON.stringify(error), error.message]) {
        expect(text).not.toContain("it-client-secret")
      }
    }).pipe(Effect.provide(integratorStack(fast)))
  )
})

describe("IntegratorAuth tracing", () => {
  // Records every span the caller's tracer starts: name, parent, attributes.
  const recording = Effect.map(Effect.tracer, (native) => {
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = native.span(name, parent, context, links, startTime, kind, options)
        spans.push(span)
        return span
      },
      context: (f, fiber) => native.context(f, fiber)
    })
    return { spans, tracer }
  })
  const ancestry = (span: Tracer.Span): Array<string> => {
    const names: Array<string> = []
    let parent = span.parent
    while (Option.isSome(parent) && parent.value._tag === "Span") {
      names.push(parent.value.name)
      parent = parent.value.parent
    }
    return names
  }

  it.live(
    "the token request's http.client span is a child of mobilepay_auth.refresh, on the caller's tracer",
    () =>
      Effect.gen(function* () {
        const auth = yield* IntegratorAuth.IntegratorAuth
        const { spans, tracer } = yield* recording
        yield* auth
          .accessToken()
          .pipe(Effect.withSpan("caller"), Effect.annotateSpans("tenant", "t-1"), Effect.withTracer(tracer))
        const requests = spans.filter((s) => s.name.startsWith("http.client"))
        expect(requests).toHaveLength(1)
        const [request] = requests
        expect(request === undefined ? [] : ancestry(request)).toEqual([
          "mobilepay_auth.integrator_token",
          "mobilepay_auth.refresh",
          "caller"
        ])
        // The caller's span annotations reach the request's span too.
        expect(request?.attributes.get("tenant")).toBe("t-1")
      }).pipe(Effect.provide(integratorStack()))
  )
})
