/**
 * The framework-neutral core of the adapters: the begin step and the callback of merchant consent
 * as Web `Request` -> `Response` functions, over either the Promise API
 * (`createMobilePayAuth(...)`) or the Effect `MerchantConsent` service. The framework modules
 * only translate their request and reply to and from these.
 *
 * @since 0.1.0
 */
import { AuthError } from "@mobilepay-auth/domain"
import { ConsentCallback, MerchantConsent, MobilePayAuth } from "@mobilepay-auth/platform"
import { Cause, Effect, Exit } from "effect"

/**
 * What the adapters run consent on: the Promise API, or the Effect `MerchantConsent` service
 * (for example `yield* MerchantConsent.MerchantConsent` in an Effect application that serves
 * some routes from Express).
 *
 * @since 0.1.0
 * @category models
 */
export type Source = MobilePayAuth.MobilePayAuth | MerchantConsent.MerchantConsent.Service

/**
 * The begin step's options: fixed, or computed per request (the merchant's VAT from a form, a
 * session), by a plain or async function of the framework's request.
 *
 * @since 0.1.0
 * @category models
 */
export type BeginInput<Req> =
  | MerchantConsent.BeginOptions
  | ((request: Req) => MerchantConsent.BeginOptions | PromiseLike<MerchantConsent.BeginOptions>)

/**
 * The callback's options: where to go after success, the error page, and a plain or async
 * `onComplete` hook (a failing hook undoes the consent; see `MobilePayAuth.CallbackOptions`).
 *
 * @since 0.1.0
 * @category models
 */
export type CallbackOptions = MobilePayAuth.CallbackOptions

/**
 * @since 0.1.0
 * @category models
 */
export interface Handlers {
  /**
   * Begins a consent: `303 See Other` to MobilePay, with the user-agent binding cookie set.
   * Rejects with the typed error (`InvalidVat`, `InvalidScope`, ...) when it cannot begin.
   */
  readonly begin: (request: Request, options: MerchantConsent.BeginOptions) => Promise<Response>
  /**
   * Completes a consent from the redirect URI's request (reading the binding cookie); errors
   * become pages, and the binding cookie is cleared on every answer.
   */
  readonly callback: (request: Request) => Promise<Response>
}

const isPromiseApi = (source: Source): source is MobilePayAuth.MobilePayAuth => "callbackHandler" in source

// Rejects with the typed error itself, as the Promise API does.
const run = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

/**
 * The begin step and the callback of `source` as Web handlers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handlers = (source: Source, options: CallbackOptions = {}): Handlers => {
  if (isPromiseApi(source)) {
    const callback = source.callbackHandler(options)
    return { begin: (request, begin) => source.beginHandler(begin)(request), callback }
  }
  const callbackOptions = MobilePayAuth.toConsentCallbackOptions(options)
  const provide = Effect.provideService(MerchantConsent.MerchantConsent, source)
  return {
    begin: (_, begin) => run(provide(ConsentCallback.begin(begin))),
    callback: (request) => run(provide(ConsentCallback.handle(request, callbackOptions)))
  }
}

/**
 * The begin options for one request.
 *
 * @since 0.1.0
 * @category utils
 */
export const beginOptions = <Req>(
  input: BeginInput<Req> | undefined,
  request: Req
): Promise<MerchantConsent.BeginOptions> =>
  Promise.resolve(typeof input === "function" ? input(request) : (input ?? {}))

/**
 * The answer to a begin step that could not begin, for adapters without an error pipeline of
 * their own (Node's `(req, res)`): what the merchant can do, nothing about why.
 *
 * @since 0.1.0
 * @category utils
 */
export const beginErrorResponse = (error: unknown): Response => {
  const status =
    error instanceof AuthError.InvalidVat ||
    error instanceof AuthError.InvalidScope ||
    error instanceof AuthError.InvalidRequest
      ? 400
      : error instanceof AuthError.RateLimited
        ? 503
        : 502
  return new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>MobilePay consent</title></head><body><p>The consent could not be started. Please try again.</p></body></html>`,
    {
      status,
      headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }
    }
  )
}
