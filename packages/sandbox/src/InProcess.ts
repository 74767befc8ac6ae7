/**
 * The sandbox as an `HttpClient` that never opens a socket: each request for the sandbox's origin
 * runs its handler in the caller's fiber, so the sandbox reads the caller's `Clock` (a simulation on a
 * `TestClock` covers both sides). Anything else, and a dropped connection, is a `RequestError`.
 *
 * @since 0.1.0
 */
import {
  HttpClient,
  HttpClientError,
  type HttpClientRequest,
  HttpClientResponse,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { Chunk, Effect, Stream } from "effect"
import * as Faults from "./Faults.js"

// The body of a client request as a WHATWG body.
const webBody = (
  body: HttpClientRequest.HttpClientRequest["body"]
): Effect.Effect<string | Uint8Array<ArrayBuffer> | FormData | null, unknown> => {
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(null)
    case "Uint8Array":
      return Effect.succeed(new Uint8Array(body.body))
    case "Raw":
      return Effect.succeed(
        typeof body.body === "string"
          ? body.body
          : body.body instanceof Uint8Array
            ? new Uint8Array(body.body)
            : String(body.body)
      )
    case "FormData":
      return Effect.succeed(body.formData)
    case "Stream":
      return Effect.map(
        Stream.runCollect(body.stream),
        (chunks) => new Uint8Array(Buffer.concat(Chunk.toReadonlyArray(chunks)))
      )
  }
}

/** @internal */
export const client = (
  origin: string,
  handle: Effect.Effect<
    HttpServerResponse.HttpServerResponse | typeof Faults.dropped,
    never,
    HttpServerRequest.HttpServerRequest
  >
): HttpClient.HttpClient =>
  HttpClient.make((request, url, signal) =>
    Effect.gen(function* () {
      const failure = (description: string) =>
        new HttpClientError.RequestError({ request, reason: "Transport", description })
      if (url.origin !== origin) {
        return yield* Effect.fail(failure(`sandbox client: ${url.origin} is not the sandbox (${origin})`))
      }
      const headers = new globalThis.Headers(request.headers)
      const contentType = request.body._tag === "Empty" ? undefined : request.body.contentType
      if (contentType !== undefined && !headers.has("content-type")) headers.set("content-type", contentType)
      const body = yield* Effect.mapError(
        webBody(request.body),
        (cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause })
      )
      const incoming = yield* Effect.try({
        try: () => new Request(url, { method: request.method, headers, body, signal }),
        catch: (cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause })
      })
      const response = yield* Effect.provideService(
        handle,
        HttpServerRequest.HttpServerRequest,
        HttpServerRequest.fromWeb(incoming)
      )
      if (response === Faults.dropped) return yield* Effect.fail(failure("sandbox: connection dropped"))
      return HttpClientResponse.fromWeb(request, HttpServerResponse.toWeb(response))
    })
  )
