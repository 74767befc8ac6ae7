/**
 * Merchant consent for Node's own `http` server: `(req, res)` handlers for the begin step and the
 * redirect URI. They work under anything that hands out Node's `IncomingMessage` and
 * `ServerResponse` (Connect, Polka, a plain `http.createServer`).
 *
 * ```ts
 * const begin = NodeHttp.begin(mobilePay)
 * const callback = NodeHttp.callback(mobilePay, { successRedirect: "/done" })
 * http.createServer((req, res) => {
 *   if (req.url === "/consent") return begin(req, res)
 *   if (req.url?.startsWith("/callback")) return callback(req, res)
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import * as Consent from "./Consent.js"
import { refusal, Refused, send, toWebRequest } from "./internal/node.js"

/**
 * The begin step: `303` to MobilePay with the binding cookie set. A consent that cannot begin
 * (a malformed VAT, a scope not configured, MobilePay unreachable) gets a short page with a 4xx
 * or 5xx status.
 *
 * @since 0.1.0
 * @category handlers
 */
export const begin =
  (source: Consent.Source, options?: Consent.BeginInput<IncomingMessage>) =>
  async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { begin } = Consent.handlers(source)
    const request = await toWebRequest(req, undefined)
    if (request instanceof Refused) return send(res, refusal(request))
    const response = await Consent.beginOptions(options, req)
      .then((opts) => begin(request, opts))
      .catch(Consent.beginErrorResponse)
    return send(res, response)
  }

/**
 * The redirect URI: GET (the fragment relay) and POST (`form_post`). Reads the binding cookie,
 * completes the consent, answers with the success redirect or page, or an error page.
 *
 * @since 0.1.0
 * @category handlers
 */
export const callback = (
  source: Consent.Source,
  options?: Consent.CallbackOptions
): ((req: IncomingMessage, res: ServerResponse) => Promise<void>) => {
  const handlers = Consent.handlers(source, options)
  return async (req, res) => {
    const request = await toWebRequest(req, undefined)
    return send(res, request instanceof Refused ? refusal(request) : await handlers.callback(request))
  }
}
