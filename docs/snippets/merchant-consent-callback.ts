// The redirect URI: an `@effect/platform` router, or a plain `(Request) => Promise<Response>`
// handler for any framework that speaks Web requests (Hono, Next.js route handlers, Bun, Deno).
import { HttpRouter } from "@effect/platform"
import { Effect, ManagedRuntime } from "effect"
import { ConsentCallback } from "@mobilepay-auth/platform"
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
