/**
 * The `mobilepay-auth` commands, run in process against the sandbox with settings from a
 * ConfigProvider (as from environment variables), output captured from the Console.
 */
import { describe, expect, it } from "@effect/vitest"
import { AuthError } from "@mobilepay-auth/domain"
import { Sandbox, SandboxBrowser } from "@mobilepay-auth/sandbox"
import { Effect, Fiber, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort } from "../src/internal/freePort.js"
import * as Ui from "../src/internal/ui.js"
import { captured, command, run } from "./utils/run.js"

const SECRET = "cli-test-secret-5d1e"
const KEY = `k1:${Buffer.alloc(32, 3).toString("base64")}`

const withSetup = <A, E>(
  f: (env: Record<string, string>, sandbox: Sandbox.Sandbox.Service) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    const port = yield* freePort
    const redirect = `http://127.0.0.1:${port}/callback`
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "mobilepay-cli-test-"))),
      (d) => Effect.promise(() => Fs.rm(d, { recursive: true, force: true }))
    )
    const sandbox = yield* Effect.provide(
      Sandbox.Sandbox,
      yield* Layer.build(
        Sandbox.layer({
          merchantClients: [
            {
              clientId: "cli",
              clientSecret: SECRET,
              redirectUris: [redirect],
              scopes: ["invoice"],
              rotation: "one-time"
            }
          ],
          integratorClients: [{ clientId: "cli", clientSecret: SECRET }]
        })
      )
    )
    const env = {
      MOBILEPAY_ENVIRONMENT: "custom",
      MOBILEPAY_DISCOVERY_URL: sandbox.discoveryUrl,
      MOBILEPAY_ISSUER: sandbox.issuer,
      MOBILEPAY_INTEGRATOR_TOKEN_URL: sandbox.integratorTokenUrl,
      MOBILEPAY_API_BASE_URL: sandbox.baseUrl,
      MOBILEPAY_ALLOW_INSECURE_LOOPBACK: "true",
      MOBILEPAY_CLIENT_ID: "cli",
      MOBILEPAY_CLIENT_SECRET: SECRET,
      MOBILEPAY_REDIRECT_URI: redirect,
      MOBILEPAY_SCOPES: "invoice",
      MOBILEPAY_ENCRYPTION_KEYS: KEY,
      MOBILEPAY_DATA_DIR: dir
    }
    return yield* f(env, sandbox)
  }).pipe(Effect.scoped)

describe("mobilepay-auth", () => {
  it.live("token integrator prints a token, --json its expiry; --vat binds it", () =>
    withSetup((env) =>
      Effect.gen(function* () {
        const plain = yield* run(env, "token", "integrator")
        expect(plain.code).toBe(0)
        expect(plain.out.trim().split(".")).toHaveLength(3)
        const json = yield* run(env, "token", "integrator", "--vat", "dk 1234 5678", "--json")
        const parsed = JSON.parse(json.out)
        expect(parsed.merchant_vat).toBe("DK12345678")
        expect(Date.parse(parsed.expires_at)).toBeGreaterThan(Date.now())
        expect(json.out).not.toContain(SECRET)
      })
    )
  )

  it.live("consent start waits for the callback; store list, token merchant, revoke; then exit code 3", () =>
    withSetup((env) =>
      Effect.gen(function* () {
        const io = captured()
        process.exitCode = 0
        const fiber = yield* Effect.fork(command(env, ["consent", "start", "--vat", "DK12345678"], io).effect)
        let url: string | undefined
        for (let i = 0; i < 100 && url === undefined; i++) {
          yield* Effect.sleep("50 millis")
          url = /https?:\/\/\S+\/account\/connect\/authorize\S+/.exec(io.out.join("\n"))?.[0]
        }
        expect(url).toBeDefined()
        const callback = yield* SandboxBrowser.consent(url ?? "", {
          redirectUri: env.MOBILEPAY_REDIRECT_URI ?? ""
        })
        expect(callback._tag).toBe("FormPost")
        if (callback._tag === "FormPost") yield* Effect.promise(() => fetch(callback.request))
        yield* Fiber.join(fiber)
        expect(io.out.join("\n")).toContain("consent stored for merchant")

        const list = yield* run(env, "store", "list")
        expect(list.out).toContain("DK12345678")
        expect(list.out).toContain("invoice")
        const merchant = list.out.split("\n")[1]?.split(/\s+/)[0] ?? ""
        const token = yield* run(env, "token", "merchant", merchant)
        expect(token.out.trim().split(".")).toHaveLength(3)
        expect(list.out).not.toContain(token.out.trim())

        const revoked = yield* run(env, "revoke", merchant)
        expect(revoked.out).toContain("grant deleted")
        const after = yield* run(env, "token", "merchant", merchant)
        expect(after.code).toBe(3)
        expect(after.err).toMatch(/^error \[ConsentRequired\]/)
        expect(after.err).toContain("hint:")
      })
    )
  )

  it.live("configuration and credential errors: one line, a hint, exit codes 2 and 4, no secret", () =>
    withSetup((env) =>
      Effect.gen(function* () {
        const { MOBILEPAY_CLIENT_ID: _, ...noClient } = env
        const missing = yield* run(noClient, "token", "integrator")
        expect(missing.code).toBe(2)
        expect(missing.err).toContain("CLIENT_ID")
        const wrong = yield* run({ ...env, MOBILEPAY_CLIENT_SECRET: "wrong-one" }, "token", "integrator")
        expect(wrong.code).toBe(4)
        expect(wrong.err).toMatch(/^error \[InvalidClient\]/)
        expect(wrong.err).not.toContain("wrong-one")
        const badVat = yield* run(env, "token", "integrator", "--vat", "SE123")
        expect(badVat.code).toBe(2)
        expect(badVat.err).toContain("InvalidVat")
      })
    )
  )

  it.live("token integrator needs no encryption keys and creates no database", () =>
    withSetup((env) =>
      Effect.gen(function* () {
        const { MOBILEPAY_ENCRYPTION_KEYS: _, ...noKeys } = env
        const plain = yield* run(noKeys, "token", "integrator")
        expect(plain.err).toBe("")
        expect(plain.code).toBe(0)
        expect(plain.out.trim().split(".")).toHaveLength(3)
        expect(yield* Effect.promise(() => Fs.readdir(env.MOBILEPAY_DATA_DIR ?? ""))).toEqual([])
      })
    )
  )

  it.live("configuration errors name each variable as typed, never <redacted>, with a hint", () =>
    Effect.gen(function* () {
      const none = yield* run({}, "token", "integrator")
      expect(none.code).toBe(2)
      expect(none.err).toMatchInlineSnapshot(`
        "error [ConfigError]: MOBILEPAY_CLIENT_ID is not set; MOBILEPAY_CLIENT_SECRET is not set
          hint: set it in the environment; \`mobilepay-auth --help\` lists every variable and docs/getting-started.md explains them"
      `)
      const custom = yield* run(
        { MOBILEPAY_ENVIRONMENT: "custom", MOBILEPAY_CLIENT_ID: "x", MOBILEPAY_REQUEST_TIMEOUT: "soon" },
        "token",
        "integrator"
      )
      expect(custom.code).toBe(2)
      expect(custom.err.split("\n")[0]).toMatchInlineSnapshot(
        `"error [ConfigError]: MOBILEPAY_ENVIRONMENT: custom needs MOBILEPAY_DISCOVERY_URL, MOBILEPAY_ISSUER, MOBILEPAY_INTEGRATOR_TOKEN_URL and MOBILEPAY_API_BASE_URL; MOBILEPAY_CLIENT_SECRET is not set; MOBILEPAY_REQUEST_TIMEOUT: expected a duration such as 10s or 10 seconds"`
      )
      expect(custom.err).not.toContain("<redacted>")
      expect(custom.err).not.toContain("MOBILEPAY.")
    })
  )

  it.live("--help lists the environment variables and exit codes, without ANSI escapes off a terminal", () =>
    Effect.gen(function* () {
      const help = yield* run({}, "--help")
      expect(help.code).toBe(0)
      expect(help.out).not.toContain(String.fromCharCode(27))
      expect(help.out).toMatchSnapshot()
      const revoke = yield* run({}, "revoke", "--help")
      expect(revoke.out).toContain("the merchant's identity as `mobilepay-auth store list` prints it")
      const keygen = yield* run({}, "keygen", "--help")
      expect(keygen.out).toContain("default k1")
    })
  )

  it("colours only on a terminal and never with NO_COLOR", () => {
    const before = process.env["NO_COLOR"]
    try {
      delete process.env["NO_COLOR"]
      expect(Ui.colours({ isTTY: true })).toBe(true)
      expect(Ui.colours({ isTTY: false })).toBe(false)
      expect(Ui.colours({})).toBe(false)
      process.env["NO_COLOR"] = "1"
      expect(Ui.colours({ isTTY: true })).toBe(false)
    } finally {
      if (before === undefined) delete process.env["NO_COLOR"]
      else process.env["NO_COLOR"] = before
    }
  })

  it.effect("logs go to stderr, so that stdout stays the command's output", () =>
    Effect.gen(function* () {
      const io = captured()
      yield* Effect.logInfo("refreshing").pipe(
        Effect.annotateLogs({ merchant: "m-1" }),
        Effect.provide(Ui.stderrLogger),
        Effect.withConsole(io.console)
      )
      expect(io.out).toEqual([])
      expect(io.err.join("\n")).toMatch(/level=INFO .*message=refreshing merchant=m-1/)
    })
  )

  it.live("a command group without its subcommand is exit 2 with the usage on stderr", () =>
    Effect.gen(function* () {
      const bare = yield* run({})
      expect(bare.code).toBe(2)
      expect(bare.out).toBe("")
      expect(bare.err).toMatchInlineSnapshot(`
        "error [Usage]: \`mobilepay-auth\` needs a command
          hint: see \`mobilepay-auth --help\`"
      `)
      const token = yield* run({}, "token")
      expect(token.code).toBe(2)
      expect(token.err.split("\n")[0]).toBe("error [Usage]: `mobilepay-auth token` needs a command")
    })
  )

  it("a declined consent is its own reason, with its own hint", () => {
    const declined = Ui.describe(
      new AuthError.ConsentRequired({ reason: "declined", merchant: "DK12345678" })
    )
    expect(declined.code).toBe(Ui.ExitCode.consentRequired)
    expect(declined.line).toMatchInlineSnapshot(`
      "error [ConsentRequired]: the merchant declined consent for merchant DK12345678
        hint: the merchant said no at MobilePay; if that was a mistake, run \`mobilepay-auth consent start\` again"
    `)
    expect(Ui.describe(new AuthError.ConsentRequired({ reason: "missing" })).line).toContain(
      "no consent is stored"
    )
  })
})
