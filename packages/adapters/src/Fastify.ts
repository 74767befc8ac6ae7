/**
 * Merchant consent for Fastify 5, as a plugin that adds the begin route and the redirect URI.
 * The plugin reads `application/x-www-form-urlencoded` (the `form_post` callback) itself, in its
 * own encapsulated context, so the application adds no content-type parser; one the application
 * registered (`@fastify/formbody`) is used instead.
 *
 * ```ts
 * await app.register(Fastify.consent(mobilePay, { callback: { successRedirect: "/done" } }))
 * ```
 *
 * @since 0.1.0
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify"
import * as Consent from "./Consent.js"
import { parts, refusal, Refused, toWebRequest } from "./internal/node.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The begin route (GET). Default `/consent`; `false` for none. */
  readonly beginPath?: string | false
  /** The redirect URI's path (GET and POST). Default `/callback`. */
  readonly callbackPath?: string
  /** The begin step's options, fixed or per request. */
  readonly begin?: Consent.BeginInput<FastifyRequest>
  readonly callback?: Consent.CallbackOptions
}

const FORM = "application/x-www-form-urlencoded"

const reply = async (to: FastifyReply, response: Response) => {
  const { body, headers, status } = await parts(response)
  return to.code(status).headers(headers).send(body)
}

/**
 * The plugin. A consent that cannot begin throws the typed error (`InvalidVat`, `InvalidScope`,
 * ...) into Fastify's error handling.
 *
 * @since 0.1.0
 * @category plugins
 */
export const consent =
  (source: Consent.Source, options: Options = {}): FastifyPluginAsync =>
  async (fastify) => {
    const handlers = Consent.handlers(source, options.callback)
    if (!fastify.hasContentTypeParser(FORM)) {
      fastify.addContentTypeParser(FORM, { parseAs: "string", bodyLimit: 64 * 1024 }, (_req, body, done) =>
        done(null, body)
      )
    }
    const toWeb = async (request: FastifyRequest) => {
      const web = await toWebRequest(request.raw, request.body, request.url)
      return web instanceof Refused ? Promise.reject(web) : web
    }
    if (options.beginPath !== false) {
      fastify.get(options.beginPath ?? "/consent", async (request, to) => {
        const web = await toWebRequest(request.raw, undefined, request.url)
        if (web instanceof Refused) return reply(to, refusal(web))
        return reply(to, await handlers.begin(web, await Consent.beginOptions(options.begin, request)))
      })
    }
    fastify.route({
      method: ["GET", "POST"],
      url: options.callbackPath ?? "/callback",
      handler: async (request, to) => {
        const web = await toWeb(request).catch((refused: Refused) => refused)
        return reply(to, web instanceof Refused ? refusal(web) : await handlers.callback(web))
      }
    })
  }
