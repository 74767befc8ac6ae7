/**
 * Vipps MobilePay in the sandbox, for the migration path: standard authentication
 * (`POST /accesstoken/get`, credentials in headers, numbers sent as strings, Azure AD errors,
 * the API gateway's own 401 for a missing or wrong subscription key), specialized
 * authentication (`POST /miami/v1/token`, OAuth 2.0 client credentials with Basic), and a
 * minimal ePayment API (create and get a payment) that checks the headers Vipps MobilePay
 * checks and answers RFC 7807 problems. Transport-free, like `World` and `Api`.
 *
 * @since 0.1.0
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { basicCredentials, timingSafeEqual } from "./Credentials.js"
import type { Keys } from "./Keys.js"
import { json, type Outcome, type Params } from "./Outcome.js"

/**
 * A client with standard-authentication keys: a merchant's own (one merchant serial number)
 * or a partner's (many; the header may be left out for partner-level calls).
 *
 * @since 0.1.0
 * @category models
 */
export interface SandboxVippsClient {
  readonly clientId: string
  readonly clientSecret: string
  readonly subscriptionKey: string
  /** The API gateway's second key for the same client (for key rotation), if any. */
  readonly secondarySubscriptionKey?: string
  /** The merchants these keys may act for. */
  readonly merchantSerialNumbers: ReadonlyArray<string>
}

/**
 * A client with management or accounting keys (specialized authentication).
 *
 * @since 0.1.0
 * @category models
 */
export interface SandboxVippsSpecializedClient {
  readonly clientId: string
  readonly clientSecret: string
  /** Scopes it may ask for; default any. */
  readonly scopes?: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SandboxVippsOptions {
  readonly clients?: ReadonlyArray<SandboxVippsClient>
  readonly specializedClients?: ReadonlyArray<SandboxVippsSpecializedClient>
  /** Seconds; default 3600 (Vipps MobilePay's test environment; production gives 24 h). */
  readonly tokenLifetime?: number
  /** Seconds; default 900. */
  readonly specializedTokenLifetime?: number
  /** Fields of the standard token response sent as given (tests of a client's decoding). */
  readonly tokenResponseOverrides?: Readonly<Record<string, unknown>>
}

/**
 * The Vipps MobilePay clients the sandbox starts with when none are given: partner keys for
 * two merchants, and management keys.
 *
 * @since 0.1.0
 * @category constants
 */
export const vippsDefaults = {
  client: {
    clientId: "sandbox-vipps-partner",
    clientSecret: "sandbox-vipps-partner-secret",
    subscriptionKey: "sandbox-vipps-subscription-key",
    merchantSerialNumbers: ["123456", "654321"]
  } satisfies SandboxVippsClient,
  specializedClient: {
    clientId: "sandbox-vipps-management",
    clientSecret: "sandbox-vipps-management-secret"
  } satisfies SandboxVippsSpecializedClient
} as const

/** @internal The Vipps endpoints with counters and fault knobs. */
export type VippsEndpoint = "vippsToken" | "vippsSpecializedToken" | "vippsApi"

/** @internal */
export const paths = {
  standardToken: "/accesstoken/get",
  specializedToken: "/miami/v1/token",
  specializedTokenRenamed: "/authentication/v1/token",
  payments: "/epayment/v1/payments"
} as const

/** @internal */
export const endpointOf = (path: string): VippsEndpoint | undefined => {
  if (path === paths.standardToken) return "vippsToken"
  if (path === paths.specializedToken || path === paths.specializedTokenRenamed)
    return "vippsSpecializedToken"
  return path === paths.payments || path.startsWith(`${paths.payments}/`) ? "vippsApi" : undefined
}

const traceId = () => globalThis.crypto.randomUUID()

const keyMatches = (client: SandboxVippsClient, key: string) =>
  timingSafeEqual(client.subscriptionKey, key) ||
  (client.secondarySubscriptionKey !== undefined && timingSafeEqual(client.secondarySubscriptionKey, key))
const seconds = (ms: number) => Math.floor(ms / 1000)

/** Azure AD's error shape, as `/accesstoken/get` answers. */
const azureError = (status: number, error: string, code: number, description: string, at: number) =>
  json(status, {
    error,
    error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${traceId()}`,
    error_codes: [code],
    timestamp: new Date(at)
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d+Z$/, "Z"),
    trace_id: traceId(),
    correlation_id: traceId()
  })

/** The API gateway's own answer, before any token is looked at. */
const gatewayDenied = (why: "missing" | "invalid") =>
  json(401, {
    statusCode: 401,
    message: `Access denied due to ${why} subscription key. Make sure to include a valid subscription key when making requests to an API.`
  })

/** RFC 7807, as ePayment answers its errors. */
const problem = (
  status: number,
  title: string,
  detail: string,
  instance: string,
  extraDetails?: ReadonlyArray<{ readonly name: string; readonly reason: string }>
) =>
  json(
    status,
    {
      type: `https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/errors#${status}`,
      title,
      status,
      detail,
      instance,
      traceId: traceId().replace(/-/g, ""),
      ...(extraDetails === undefined ? {} : { extraDetails })
    },
    { "content-type": "application/problem+json" }
  )

const PaymentInput = Schema.Struct({
  amount: Schema.Struct({
    currency: Schema.Literal("NOK", "DKK", "EUR"),
    value: Schema.Int.pipe(Schema.positive())
  }),
  reference: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9-]{8,64}$/))
})
const decodePayment = Schema.decodeUnknownEither(PaymentInput, { errors: "all" })

// Each failed input once, as ePayment's `extraDetails` names it: a path and a reason.
const extraDetailsOf = (error: ParseResult.ParseError) => {
  const byName = new Map<string, string>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const name = issue.path.join(".") || "body"
    if (!byName.has(name)) byName.set(name, issue.message)
  }
  return [...byName].map(([name, reason]) => ({ name, reason }))
}

interface Payment {
  readonly reference: string
  readonly msn: string
  readonly amount: { readonly currency: string; readonly value: number }
  readonly createdAt: number
}

/** @internal */
export const make = (options: SandboxVippsOptions = {}, keys: Keys, now: Effect.Effect<number>) => {
  const clients: ReadonlyArray<SandboxVippsClient> = options.clients ?? [vippsDefaults.client]
  const specializedClients: ReadonlyArray<SandboxVippsSpecializedClient> = options.specializedClients ?? [
    vippsDefaults.specializedClient
  ]
  const lifetime = options.tokenLifetime ?? 3600
  const specializedLifetime = options.specializedTokenLifetime ?? 900
  const payments = new Map<string, Payment>()
  const idempotent = new Map<string, { readonly outcome: Outcome; readonly at: number }>()

  const standardToken = (headers: Params): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const at = yield* now
      // The gateway checks the subscription key first, then Azure AD the client.
      const key = headers["ocp-apim-subscription-key"]
      if (key === undefined || key === "") return gatewayDenied("missing")
      if (!clients.some((c) => keyMatches(c, key))) return gatewayDenied("invalid")
      const client = clients.find((c) => c.clientId === headers.client_id)
      if (client === undefined) {
        return azureError(400, "unauthorized_client", 700016, "Application not found in the directory.", at)
      }
      if (!timingSafeEqual(client.clientSecret, headers.client_secret ?? "")) {
        return azureError(401, "invalid_client", 7000215, "Invalid client secret provided.", at)
      }
      if (!keyMatches(client, key)) return gatewayDenied("invalid")
      const msn = headers["merchant-serial-number"]
      if (msn !== undefined && !client.merchantSerialNumbers.includes(msn)) {
        return azureError(
          400,
          "invalid_request",
          900023,
          "Merchant-Serial-Number is not one of this client's.",
          at
        )
      }
      const token = yield* keys.sign({
        iss: "https://sts.windows.net/sandbox-tenant/",
        aud: "vipps-api",
        appid: client.clientId,
        vipps_auth: "standard",
        ...(msn === undefined ? {} : { msn }),
        jti: globalThis.crypto.randomUUID(),
        iat: seconds(at),
        nbf: seconds(at),
        exp: seconds(at) + lifetime
      })
      // Every number is a string, as Vipps MobilePay sends them.
      return json(200, {
        token_type: "Bearer",
        expires_in: String(lifetime),
        ext_expires_in: String(lifetime),
        expires_on: String(seconds(at) + lifetime),
        not_before: String(seconds(at)),
        resource: "00000002-0000-0000-c000-000000000000",
        access_token: token,
        ...options.tokenResponseOverrides
      })
    })

  const specializedToken = (form: Params, headers: Params): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const basic = basicCredentials(headers.authorization)
      const client = specializedClients.find((c) => c.clientId === basic?.id)
      if (
        client === undefined ||
        basic === undefined ||
        !timingSafeEqual(client.clientSecret, basic.secret)
      ) {
        return json(401, { error: "invalid_client", error_description: "client authentication failed" })
      }
      // Vipps MobilePay answers a missing grant_type as invalid_client, not unsupported_grant_type.
      if (form.grant_type !== "client_credentials") {
        return json(400, {
          error: "invalid_client",
          error_description: "grant_type=client_credentials is required"
        })
      }
      const scope = form.scope
      if (
        scope !== undefined &&
        client.scopes !== undefined &&
        !scope.split(" ").every((s) => client.scopes?.includes(s))
      ) {
        return json(400, { error: "invalid_scope", error_description: "a requested scope is not allowed" })
      }
      const at = yield* now
      const token = yield* keys.sign({
        iss: "https://sandbox.invalid/miami",
        aud: "vipps-management-api",
        client_id: client.clientId,
        vipps_auth: "specialized",
        ...(scope === undefined ? {} : { scope }),
        jti: globalThis.crypto.randomUUID(),
        iat: seconds(at),
        exp: seconds(at) + specializedLifetime
      })
      return json(200, {
        access_token: token,
        token_type: "Bearer",
        expires_in: specializedLifetime,
        ...(scope === undefined ? {} : { scope })
      })
    })

  /** The ePayment checks, in the gateway's order; the merchant a call acts for, or the answer. */
  const authorize = (headers: Params, instance: string) =>
    Effect.gen(function* () {
      const key = headers["ocp-apim-subscription-key"]
      if (key === undefined || key === "") return { denied: gatewayDenied("missing") } as const
      const authorization = headers.authorization
      const claims =
        authorization === undefined || !/^bearer /i.test(authorization)
          ? undefined
          : yield* keys.verify(authorization.slice(7).trim(), yield* now)
      const client = clients.find((c) => c.clientId === claims?.appid)
      if (claims === undefined || claims.vipps_auth !== "standard" || client === undefined) {
        return {
          denied: problem(401, "Unauthorized", "The access token is missing, invalid or expired.", instance)
        } as const
      }
      if (!keyMatches(client, key)) return { denied: gatewayDenied("invalid") } as const
      const header = headers["merchant-serial-number"]
      const bound = typeof claims.msn === "string" ? claims.msn : undefined
      const msn = header ?? bound
      if (msn === undefined) {
        return {
          denied: problem(400, "Bad Request", "Merchant-Serial-Number is required.", instance, [
            { name: "Merchant-Serial-Number", reason: "Required" }
          ])
        } as const
      }
      if ((bound !== undefined && bound !== msn) || !client.merchantSerialNumbers.includes(msn)) {
        return {
          denied: problem(403, "Forbidden", "The keys may not act for this merchant.", instance)
        } as const
      }
      return { msn, clientId: client.clientId } as const
    })

  const createPayment = (headers: Params, text: string): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const access = yield* authorize(headers, paths.payments)
      if ("denied" in access) return access.denied
      const key = headers["idempotency-key"]
      if (key === undefined || key.length === 0 || key.length > 50) {
        return problem(400, "Bad Request", "Idempotency-Key is required on this call.", paths.payments, [
          { name: "Idempotency-Key", reason: "Required, at most 50 characters" }
        ])
      }
      const at = yield* now
      const scope = `${access.clientId}:${access.msn}:${key}`
      const previous = idempotent.get(scope)
      if (previous !== undefined && at - previous.at < 24 * 3600 * 1000) return previous.outcome
      const decoded = decodePayment(Either.getOrUndefined(Either.try(() => JSON.parse(text) as unknown)))
      if (Either.isLeft(decoded)) {
        return problem(
          400,
          "Bad Request",
          "Input validation failed.",
          paths.payments,
          extraDetailsOf(decoded.left)
        )
      }
      const input = decoded.right
      if (payments.has(input.reference)) {
        return problem(409, "Conflict", "A payment with this reference exists.", paths.payments)
      }
      payments.set(input.reference, { ...input, msn: access.msn, createdAt: at })
      const outcome = json(201, {
        reference: input.reference,
        redirectUrl: `https://landing.sandbox.invalid/?reference=${encodeURIComponent(input.reference)}`
      })
      idempotent.set(scope, { outcome, at })
      return outcome
    })

  const getPayment = (headers: Params, reference: string): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const instance = `${paths.payments}/${reference}`
      const access = yield* authorize(headers, instance)
      if ("denied" in access) return access.denied
      const payment = payments.get(reference)
      // Another merchant's payment is as unknown as a missing one.
      if (payment === undefined || payment.msn !== access.msn) {
        return problem(404, "Not Found", "No payment with this reference.", instance)
      }
      return json(200, {
        reference: payment.reference,
        state: "CREATED",
        amount: payment.amount,
        aggregate: {
          authorizedAmount: { currency: payment.amount.currency, value: 0 },
          capturedAmount: { currency: payment.amount.currency, value: 0 }
        },
        pspReference: payment.reference
      })
    })

  /** The answer to a Vipps route, or undefined when the route is not one of these. */
  const route = (
    method: string,
    path: string,
    headers: Params,
    body: Effect.Effect<string>
  ): Effect.Effect<Outcome | undefined> =>
    Effect.gen(function* () {
      if (method === "POST" && path === paths.standardToken) return yield* standardToken(headers)
      if (method === "POST" && (path === paths.specializedToken || path === paths.specializedTokenRenamed)) {
        const form = Object.fromEntries(new URLSearchParams(yield* body))
        return yield* specializedToken(form, headers)
      }
      if (method === "POST" && path === paths.payments) return yield* createPayment(headers, yield* body)
      const get = /^\/epayment\/v1\/payments\/([^/]+)$/.exec(path)
      if (method === "GET" && get?.[1] !== undefined)
        return yield* getPayment(headers, decodeURIComponent(get[1]))
      return undefined
    })

  return { route }
}
