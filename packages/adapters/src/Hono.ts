/**
 * Merchant consent for Hono (any runtime): Hono speaks Web `Request`/`Response`, so each step is
 * one line.
 *
 * ```ts
 * app.get("/consent", Hono.begin(mobilePay))
 * app.on(["GET", "POST"], "/callback", Hono.callback(mobilePay, { successRedirect: "/done" }))
 * ```
 *
 * @since 0.1.0
 */
import * as Consent from "./Consent.js"

/**
 * The part of Hono's `Context` the adapters read (a Hono `Context` is one).
 *
 * @since 0.1.0
 * @category models
 */
export interface HonoContext {
  readonly req: { readonly raw: Request }
}

/**
 * The begin step: `303` to MobilePay with the binding cookie set. A consent that cannot begin
 * throws the typed error, for `app.onError`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const begin = <C extends HonoContext = HonoContext>(
  source: Consent.Source,
  options?: Consent.BeginInput<C>
): ((c: C) => Promise<Response>) => {
  const handlers = Consent.handlers(source)
  return async (c) => handlers.begin(c.req.raw, await Consent.beginOptions(options, c))
}

/**
 * The redirect URI (GET and POST): completes the consent, reading the binding cookie.
 *
 * @since 0.1.0
 * @category handlers
 */
export const callback = <C extends HonoContext = HonoContext>(
  source: Consent.Source,
  options?: Consent.CallbackOptions
): ((c: C) => Promise<Response>) => {
  const handlers = Consent.handlers(source, options)
  return (c) => handlers.callback(c.req.raw)
}
