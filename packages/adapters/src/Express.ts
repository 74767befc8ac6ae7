/**
 * Merchant consent for Express 5: middleware for the begin step and the redirect URI. They work
 * whether or not the application registers `express.urlencoded()` (or any body parser) before
 * them: a body already parsed is used as it was sent.
 *
 * ```ts
 * app.get("/consent", Express.begin(mobilePay, (req) => ({ merchantVat: String(req.query.vat) })))
 * app.all("/callback", Express.callback(mobilePay, { successRedirect: "/done" }))
 * ```
 *
 * @since 0.1.0
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import * as Consent from "./Consent.js"
import { refusal, Refused, send, toWebRequest } from "./internal/node.js"

/**
 * The part of Express's request the adapters read (an Express `Request` is one).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExpressRequest extends IncomingMessage {
  readonly body?: unknown
  readonly originalUrl?: string
}

/**
 * An Express request handler.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<Req extends ExpressRequest = ExpressRequest> = (
  req: Req,
  res: ServerResponse,
  next: (error?: unknown) => void
) => Promise<void>

/**
 * The begin step: `303` to MobilePay with the binding cookie set. A consent that cannot begin is
 * passed to `next(error)` with the typed error (`InvalidVat`, `InvalidScope`, ...), for the
 * application's error handler.
 *
 * @since 0.1.0
 * @category handlers
 */
export const begin = <Req extends ExpressRequest = ExpressRequest>(
  source: Consent.Source,
  options?: Consent.BeginInput<Req>
): Handler<Req> => {
  const handlers = Consent.handlers(source)
  return async (req, res, next) => {
    try {
      const request = await toWebRequest(req, undefined, req.originalUrl)
      if (request instanceof Refused) return send(res, refusal(request))
      return await send(res, await handlers.begin(request, await Consent.beginOptions(options, req)))
    } catch (error) {
      next(error)
    }
  }
}

/**
 * The redirect URI (mount it for GET and POST, e.g. `app.all`): completes the consent from the
 * `form_post` (or relays a fragment), reading the binding cookie. Errors become pages.
 *
 * @since 0.1.0
 * @category handlers
 */
export const callback = <Req extends ExpressRequest = ExpressRequest>(
  source: Consent.Source,
  options?: Consent.CallbackOptions
): Handler<Req> => {
  const handlers = Consent.handlers(source, options)
  return async (req, res, next) => {
    try {
      const request = await toWebRequest(req, req.body, req.originalUrl)
      return await send(res, request instanceof Refused ? refusal(request) : await handlers.callback(request))
    } catch (error) {
      next(error)
    }
  }
}
