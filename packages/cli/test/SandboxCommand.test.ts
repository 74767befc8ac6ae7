/**
 * `mobilepay-auth sandbox` in process: the printout, `--dotenv` feeding the other commands, every
 * knob from flags and `MOBILEPAY_SANDBOX_*` variables, gateway keys by default, a busy port as one
 * line with a hint, and `--help` naming each default.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { command, run } from "./utils/run.js"

/** Starts `sandbox` with these arguments for the scope; its printout once it serves. */
const serving = (env: Record<string, string>, ...args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { effect, io } = command(env, ["sandbox", "--port", "0", ...args])
    yield* Effect.forkScoped(effect)
    for (let i = 0; i < 200 && !io.out.join("\n").includes("Ctrl-C stops it."); i++) {
      yield* Effect.sleep("25 millis")
    }
    const out = io.out.join("\n")
    expect({ out, err: io.err.join("\n") }).toMatchObject({
      out: expect.stringContaining("Ctrl-C stops it.")
    })
    const baseUrl = /on (http:\/\/\S+)/.exec(out)?.[1] ?? ""
    return { out, baseUrl }
  })

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "mobilepay-cli-sandbox-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const readDotenv = (file: string) =>
  Object.fromEntries(
    Fs.readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)])
  )

const fetchJson = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    const text = await response.text()
    return { status: response.status, text, headers: response.headers }
  })

describe("mobilepay-auth sandbox", () => {
  it.live("prints what a client needs; --dotenv writes it, and the other commands run on it alone", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "sandbox.env")
      const { baseUrl, out } = yield* serving({}, "--dotenv", file)
      for (const needed of [
        "sandbox-merchant-client / sandbox-merchant-secret, rotation one-time",
        "sandbox-integrator-client / sandbox-integrator-secret",
        "redirect URI http://127.0.0.1:8765/callback",
        "redirect URI http://localhost:8765/callback",
        "DK12345678  8c2c6d4e-1f0a-4d8e-9a51-1b3f0d6a7e01  Sandbox Café ApS",
        `merchant token     ${baseUrl}/merchant-authentication-openidconnect/connect/token`,
        `integrator token   ${baseUrl}/integrator-authentication/connect/token`,
        `POST ${baseUrl}/pos/v10/payments`,
        `GET ${baseUrl}/api/merchants/me`,
        "accepts any user name and password",
        `set -a; . ${file}; set +a`
      ]) {
        expect(out).toContain(needed)
      }
      const settings = readDotenv(file)
      expect(settings).toMatchObject({
        MOBILEPAY_ENVIRONMENT: "custom",
        MOBILEPAY_ALLOW_INSECURE_LOOPBACK: "true",
        MOBILEPAY_API_BASE_URL: baseUrl,
        MOBILEPAY_GATEWAY_CLIENT_ID: "sandbox-gateway-client",
        MOBILEPAY_CLIENT_ID: "sandbox-merchant-client",
        MOBILEPAY_INTEGRATOR_CLIENT_ID: "sandbox-integrator-client",
        MOBILEPAY_REDIRECT_URI: "http://127.0.0.1:8765/callback"
      })
      expect(settings.MOBILEPAY_ENCRYPTION_KEYS).toMatch(/^k1:[A-Za-z0-9+/]{43}=$/)
      expect(Fs.statSync(file).mode & 0o077).toBe(0)
      // Nothing but the file: a token with the same settings a shell would load from it.
      const token = yield* run({ ...settings, MOBILEPAY_DATA_DIR: dir }, "token", "integrator", "--json")
      expect(token.err).toBe("")
      expect(JSON.parse(token.out).token_type).toBe("Bearer")
    }).pipe(Effect.scoped)
  )

  it.live("gateway keys are required by default: a PoS call without x-ibm-client-id gets 401", () =>
    Effect.gen(function* () {
      const { baseUrl } = yield* serving({})
      const issued = yield* fetchJson(`${baseUrl}/integrator-authentication/connect/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${btoa("sandbox-integrator-client:sandbox-integrator-secret")}`,
          "content-type": "application/x-www-form-urlencoded"
        },
        body: "grant_type=client_credentials&merchant_vat=DK12345678"
      })
      const pay = (headers: Record<string, string>) =>
        fetchJson(`${baseUrl}/pos/v10/payments`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${String(JSON.parse(issued.text).access_token)}`,
            "content-type": "application/json",
            "x-mobilepay-client-system-version": "1.0.0",
            "x-mobilepay-idempotency-key": crypto.randomUUID(),
            ...headers
          },
          body: "{}"
        })
      expect((yield* pay({})).status).toBe(401)
      const gateway = {
        "x-ibm-client-id": "sandbox-gateway-client",
        "x-ibm-client-secret": "sandbox-gateway-secret"
      }
      expect((yield* pay(gateway)).status).toBe(200)
    }).pipe(Effect.scoped)
  )

  it.live("every knob from a flag or a MOBILEPAY_SANDBOX_* variable; the flag wins", () =>
    Effect.gen(function* () {
      const env = {
        MOBILEPAY_SANDBOX_CLOCK_OFFSET: "3600",
        MOBILEPAY_SANDBOX_ROTATION: "reuse",
        MOBILEPAY_SANDBOX_ACCESS_TOKEN_LIFETIME: "999",
        MOBILEPAY_SANDBOX_FAULTS: "integratorToken:503,times=1;jwks:429=9",
        MOBILEPAY_SANDBOX_NO_GATEWAY: "true"
      }
      const { baseUrl, out } = yield* serving(
        env,
        "--access-token-lifetime",
        "60",
        "--merchant",
        "DK11111111=Test Shop ApS",
        "--quirk",
        "failed-code-exchange-burns-code",
        "--quirk",
        "single-use-nonce=false",
        "--redirect-uri",
        "http://127.0.0.1:9999/cb"
      )
      expect(out).toContain("rotation reuse")
      expect(out).toContain("access token 60 s")
      expect(out).toContain("DK11111111")
      expect(out).toContain("Test Shop ApS")
      expect(out).not.toContain("Sandbox Café ApS")
      expect(out).toContain("failedCodeExchangeBurnsCode=true, singleUseNonce=false")
      expect(out).toContain("redirect URI http://127.0.0.1:9999/cb")
      expect(out).toContain("gateway keys       not required")
      const clock = JSON.parse((yield* fetchJson(`${baseUrl}/admin/clock`)).text)
      expect(clock.offsetSeconds).toBe(3600)
      expect(JSON.parse((yield* fetchJson(`${baseUrl}/admin/faults`)).text)).toMatchObject({
        integratorToken: { errorRate: 1, times: 1 },
        jwks: { status429: { retryAfterSeconds: 9 } }
      })
      const token = () =>
        fetchJson(`${baseUrl}/integrator-authentication/connect/token`, {
          method: "POST",
          headers: {
            authorization: `Basic ${btoa("sandbox-integrator-client:sandbox-integrator-secret")}`,
            "content-type": "application/x-www-form-urlencoded"
          },
          body: "grant_type=client_credentials"
        })
      expect((yield* token()).status).toBe(503)
      const issued = JSON.parse((yield* token()).text)
      const claims = JSON.parse(
        Buffer.from(String(issued.access_token).split(".")[1] ?? "", "base64url").toString()
      )
      expect(claims.iat).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 3590)
    }).pipe(Effect.scoped)
  )

  it.live("a bad knob is a usage error that names it", () =>
    Effect.gen(function* () {
      const fault = yield* run({}, "sandbox", "--port", "0", "--fault", "tokens:503")
      expect(fault.code).toBe(2)
      expect(fault.err).toMatch(/^error \[InvalidRequest\]: .*fault "tokens:503"/)
      const quirk = yield* run({ MOBILEPAY_SANDBOX_QUIRKS: "lenient" }, "sandbox", "--port", "0")
      expect(quirk.code).toBe(2)
      expect(quirk.err).toContain('quirk "lenient"')
      const host = yield* run({}, "sandbox", "--host", "0.0.0.0")
      expect(host.code).toBe(2)
      expect(host.err).toContain("loopback only")
    })
  )

  it.live("a busy port is one line with a hint, exit code 2", () =>
    Effect.gen(function* () {
      const server = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const s = Net.createServer()
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.async<void>((resume) => void s.close(() => resume(Effect.void)))
      )
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const busy = yield* run({}, "sandbox", "--port", String(port))
      expect(busy.code).toBe(2)
      expect(busy.err.split("\n")).toEqual([
        `error [PortInUse]: 127.0.0.1:${port} is already in use (another sandbox?)`,
        "  hint: stop the other process, or pick another port with --port (0 takes a free one)"
      ])
    }).pipe(Effect.scoped)
  )

  it.live("--help names every flag's default and variable", () =>
    Effect.gen(function* () {
      const help = yield* run({}, "sandbox", "--help")
      expect(help.code).toBe(0)
      for (const text of [
        "default 8700; env MOBILEPAY_SANDBOX_PORT",
        "default 127.0.0.1; env MOBILEPAY_SANDBOX_HOST",
        "default one-time; env MOBILEPAY_SANDBOX_ROTATION",
        "default 300; env MOBILEPAY_SANDBOX_ACCESS_TOKEN_LIFETIME",
        "default 3700; env MOBILEPAY_SANDBOX_INTEGRATOR_TOKEN_LIFETIME",
        "default 0; env MOBILEPAY_SANDBOX_CLOCK_OFFSET",
        "default sandbox-gateway-client; env MOBILEPAY_SANDBOX_GATEWAY_CLIENT_ID",
        "env MOBILEPAY_SANDBOX_FAULTS",
        "env MOBILEPAY_SANDBOX_QUIRKS",
        "env MOBILEPAY_SANDBOX_MERCHANTS",
        "env MOBILEPAY_SANDBOX_DOTENV"
      ]) {
        expect(help.out).toContain(text)
      }
    })
  )
})
