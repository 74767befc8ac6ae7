// The redirect URI: an `@effect/platform` router, or a plain `(Request) => Promise<Response>`
// handler for any framework that speaks Web requests (Hono, Next.js route handlers, Bun, Deno).
import { HttpRouter } from "../../packages/platform/node_modules/@effect/platform/dist/dts/index.js"
import { Effect, ManagedRuntime } from "../../packages/platform/node_modules/effect/dist/dts/index.js"
import { ConsentCallback } from "../../packages/platform/src/index.js"
import { MerchantConsentLive } from "./merchant-consent-layers.js"

// Effect HTTP server: mount the callback route next to your own routes.
export const router = HttpRouter.empty.pipe(
  HttpRouter.concat(
    ConsentCallback.router("/mobilepay/callback", {
      successRedirect: (consented) =>
        `/settings/mobilepay?merchant=${encodeURIComponent(consented.merchant)}`,
      onComplete: (outcome) =>
        outcome._tag === "Success"
          ? Effect.logInfo(`consent stored for ${outcome.consented.merchant}`)
          : Effect.logWarning(`consent callback failed: ${outcome.error.message}`)
    })
  )
)

// Any Web-standard framework: one runtime for the application, one handler for the route.
const runtime = ManagedRuntime.make(MerchantConsentLive)
export const handleCallback: (request: Request) => Promise<Response> = ConsentCallback.toWebHandler(runtime, {
  successRedirect: "/settings/mobilepay"
})
