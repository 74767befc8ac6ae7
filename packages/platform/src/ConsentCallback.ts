/**
 * The redirect URI endpoint of merchant consent, for any web framework: a plain
 * `(request: Request) => Promise<Response>` handler, and an `@effect/platform` `HttpRouter`.
 * A `form_post` POST is completed directly; a bare GET (fragment mode, where the browser keeps the
 * parameters in the `#fragment`) gets a tiny page that posts the fragment back as a form; a GET
 * with a query is refused (we never ask for query mode). The browser must present the binding
 * cookie that {@link begin} (or {@link bindingCookie}) set; every answer clears it.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Exit, Option, Redacted, Runtime } from "effect"
import {
  type Authorization,
  type BeginError,
  type BeginOptions,
  bindingCookieName,
  type CompleteError,
  type Consented,
  MerchantConsent
} from "./MerchantConsent.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Where to send the browser after a completed consent. Default: a short confirmation page. */
  readonly successRedirect?: string | ((consented: Consented) => string)
  /** Build the answer to a failed callback. Default: a vague page with a status per error. */
  readonly onError?: (error: CompleteError) => Response
  /**
   * Observe the outcome (log it, record an audit event, keep the merchant in your records). Never
   * handed a secret. If it fails (or dies) on a success, the consent is undone (revoked at the
   * provider, deleted here) and the browser gets an error page to start again: a consent is
   * either complete with its hook, or not there at all. A failure on a failure is logged.
   */
  readonly onComplete?: (
    outcome:
      | { readonly _tag: "Success"; readonly consented: Consented }
      | { readonly _tag: "Failure"; readonly error: CompleteError }
  ) => Effect.Effect<void, unknown>
}

const securityHeaders = {
  "cache-control": "no-store",
  pragma: "no-cache",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY"
}

const page = (status: number, title: string, body: string, extraHeaders: Record<string, string> = {}) =>
  new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`,
    { status, headers: { ...securityHeaders, "content-type": "text/html; charset=utf-8", ...extraHeaders } }
  )

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * The HTTP status a failed callback answers with.
 *
 * @since 0.1.0
 * @category utils
 */
export const statusOf = (error: CompleteError): number => {
  switch (error._tag) {
    case "StateMismatch":
    case "InvalidRequest":
    case "InvalidScope":
      return 400
    case "ConsentRequired":
      return 403
    case "StoreFailure":
      return 500
    case "RateLimited":
      return 503
    default:
      return 502
  }
}

/**
 * The default error page: what a merchant can do, nothing about why (the error is for logs).
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultErrorResponse = (error: CompleteError): Response => {
  const hint =
    error._tag === "ConsentRequired"
      ? "Consent was not given."
      : error._tag === "StateMismatch"
        ? "This consent link has expired or was already used. Please start again."
        : "Consent could not be completed. Please start again."
  return page(statusOf(error), "MobilePay consent", `<p>${hint}</p>`)
}

// Relays the fragment (which browsers never send to servers) as a form_post to this same URL.
// No user data is interpolated: the script reads location.hash itself.
const fragmentRelay = page(
  200,
  "MobilePay consent",
  `<noscript>JavaScript is needed to finish the consent.</noscript><form id="f" method="post"></form><script>
(function(){var p=new URLSearchParams(location.hash.slice(1));var f=document.getElementById("f");
p.forEach(function(v,k){var i=document.createElement("input");i.type="hidden";i.name=k;i.value=v;f.appendChild(i)});
history.replaceState(null,"",location.pathname+location.search);if(p.has("state"))f.submit();})();
</script>`,
  { "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; form-action 'self'" }
)

/**
 * The `Set-Cookie` value that keeps an authorization's user-agent binding in the browser that
 * begins it: `__Host-` (host-only, `Path=/`, `Secure`), `HttpOnly` (no script reads it), and
 * `SameSite=None`, because the `form_post` callback is a cross-site POST from MobilePay's page,
 * which a `Lax` cookie would not join. `maxAgeSeconds` should be the authorization's lifetime.
 * `undefined` when the authorization was begun without a binding.
 *
 * @since 0.1.0
 * @category cookies
 */
export const bindingCookie = (authorization: Authorization, maxAgeSeconds: number): string | undefined =>
  Option.match(authorization.binding, {
    onNone: () => undefined,
    onSome: (binding) =>
      `${bindingCookieName}=${Redacted.value(binding)}; Path=/; Max-Age=${Math.max(0, Math.ceil(maxAgeSeconds))}; HttpOnly; Secure; SameSite=None`
  })

/**
 * The `Set-Cookie` value that removes the binding cookie (sent with every callback answer: a
 * binding is single use, like the state it protects).
 *
 * @since 0.1.0
 * @category cookies
 */
export const clearBindingCookie = `${bindingCookieName}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=None`

/**
 * The begin step as a Web `Response`: begins an authorization and answers `303 See Other` to the
 * authorize URL, setting the binding cookie in the same answer, so the browser that goes to
 * MobilePay is the one that carries the binding back to the callback.
 *
 * @since 0.1.0
 * @category handlers
 */
export const begin = (options: BeginOptions = {}): Effect.Effect<Response, BeginError, MerchantConsent> =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent
    const authorization = yield* consent.begin(options)
    const now = yield* Clock.currentTimeMillis
    const cookie = bindingCookie(authorization, (authorization.expiresAt - now) / 1000)
    const headers = new Headers({ ...securityHeaders, location: authorization.url })
    if (cookie !== undefined) headers.append("set-cookie", cookie)
    return new Response(null, { status: 303, headers })
  })

const withClearedBinding = (response: Response): Response => {
  const headers = new Headers(response.headers)
  headers.append("set-cookie", clearBindingCookie)
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
}

/**
 * The callback as an Effect from a Web `Request` to a Web `Response`. Never fails: errors become
 * responses (see {@link Options.onError}).
 *
 * @since 0.1.0
 * @category handlers
 */
export const handle = (
  request: Request,
  options: Options = {}
): Effect.Effect<Response, never, MerchantConsent> =>
  Effect.gen(function* () {
    const url = new URL(request.url)
    if (request.method === "GET" && url.search === "") return fragmentRelay.clone()
    if (request.method !== "GET" && request.method !== "POST") {
      return page(405, "Method not allowed", "<p>Method not allowed.</p>", { allow: "GET, POST" })
    }
    const consent = yield* MerchantConsent
    // `complete` reads the binding cookie from the request; the answer clears it either way.
    const outcome = yield* Effect.either(consent.complete(request))
    const onComplete = options.onComplete ?? (() => Effect.void)
    if (outcome._tag === "Left") {
      yield* Effect.catchAllCause(onComplete({ _tag: "Failure", error: outcome.left }), (cause) =>
        Effect.logWarning("the consent callback's onComplete hook failed", cause)
      )
      return withClearedBinding((options.onError ?? defaultErrorResponse)(outcome.left))
    }
    const consented = outcome.right
    const hooked = yield* Effect.exit(onComplete({ _tag: "Success", consented }))
    if (Exit.isFailure(hooked)) {
      // Undo the consent rather than keep a grant the application does not know about.
      yield* Effect.logWarning("the consent callback's onComplete hook failed: the consent is revoked").pipe(
        Effect.annotateLogs({ merchant: consented.merchant })
      )
      yield* Effect.ignore(consent.revoke(consented.merchant))
      return withClearedBinding(
        page(500, "MobilePay consent", "<p>Consent could not be completed. Please start again.</p>")
      )
    }
    const target =
      typeof options.successRedirect === "function"
        ? options.successRedirect(consented)
        : options.successRedirect
    return withClearedBinding(
      target === undefined
        ? page(
            200,
            "MobilePay consent",
            `<p>Consent received for merchant ${escapeHtml(consented.merchant)}.</p>`
          )
        : new Response(null, { status: 303, headers: { ...securityHeaders, location: target } })
    )
  })

/**
 * Something that runs Effects needing {@link MerchantConsent}: a `ManagedRuntime` (anything
 * with `runPromise`) or a `Runtime`.
 *
 * @since 0.1.0
 * @category models
 */
export type Runner =
  | Runtime.Runtime<MerchantConsent>
  | {
      readonly runPromise: <A, E>(effect: Effect.Effect<A, E, MerchantConsent>) => Promise<A>
    }

/**
 * A framework-neutral handler, `(request: Request) => Promise<Response>`, running on `runtime`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const toWebHandler = (
  runtime: Runner,
  options: Options = {}
): ((request: Request) => Promise<Response>) => {
  const run =
    "runPromise" in runtime
      ? (effect: Effect.Effect<Response, never, MerchantConsent>) => runtime.runPromise(effect)
      : Runtime.runPromise(runtime)
  return (request) => run(handle(request, options))
}

/**
 * The handler as an `@effect/platform` route handler.
 *
 * @since 0.1.0
 * @category handlers
 */
export const httpApp = (
  options: Options = {}
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  MerchantConsent | HttpServerRequest.HttpServerRequest
> =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    return yield* HttpServerRequest.toWeb(request).pipe(
      Effect.flatMap((web) => handle(web, options)),
      Effect.catchTag("RequestError", () => Effect.succeed(page(400, "Bad request", "<p>Bad request.</p>"))),
      Effect.map(HttpServerResponse.fromWeb)
    )
  })

/**
 * A router answering GET and POST on `path` (default `/callback`).
 *
 * @since 0.1.0
 * @category routers
 */
export const router = (
  path: HttpRouter.PathInput = "/callback",
  options: Options = {}
): HttpRouter.HttpRouter<never, MerchantConsent> =>
  HttpRouter.empty.pipe(HttpRouter.get(path, httpApp(options)), HttpRouter.post(path, httpApp(options)))
