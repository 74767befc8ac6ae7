import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc, Option, Redacted } from "effect"
import { Token, TokenLifecycle } from "../src/index.js"

type State = TokenLifecycle.State
type Event = TokenLifecycle.Event
type Decision = TokenLifecycle.Decision

const T0 = 1_750_000_000_000
const runs = { fastCheck: { numRuns: 1000 } }

let serial = 0
const tokenSet = (
  at: number,
  lifetimeSeconds: number,
  refresh: boolean,
  issuedBefore = 0
): Token.TokenSet => {
  const id = ++serial
  return {
    accessToken: Redacted.make(`access-${id}`),
    tokenType: "Bearer",
    issuedAt: at - issuedBefore,
    expiresAt: at - issuedBefore + lifetimeSeconds * 1000,
    refreshToken: refresh ? Option.some(Redacted.make(`refresh-${id}`)) : Option.none(),
    idToken: Option.none(),
    scopes: []
  }
}

const refreshValue = (state: State) => Option.map(TokenLifecycle.refreshToken(state), Redacted.value)
const hands = (d: Decision): d is Extract<Decision, { tokens: Token.TokenSet }> =>
  d._tag === "Serve" || d._tag === "ServeAndRefresh"
const ownsRefresh = (d: Decision) => d._tag === "RefreshNow" || d._tag === "ServeAndRefresh"

// ---------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------

const policyOptions: fc.Arbitrary<TokenLifecycle.PolicyOptions> = fc.record(
  {
    marginRatio: fc.double({ min: -0.2, max: 0.8, noNaN: true }),
    minMargin: fc.integer({ min: 0, max: 30_000 }),
    maxMargin: fc.integer({ min: 0, max: 120_000 }),
    refreshAheadRatio: fc.double({ min: -0.2, max: 0.8, noNaN: true }),
    maxRefreshAhead: fc.integer({ min: 0, max: 300_000 }),
    jitter: fc.double({ min: -0.5, max: 1.5, noNaN: true }),
    maxRetries: fc.integer({ min: -3, max: 9 }),
    baseBackoff: fc.integer({ min: 0, max: 5_000 }),
    maxBackoff: fc.integer({ min: 0, max: 90_000 })
  },
  { requiredKeys: [] }
)
const policyArb = fc.oneof(
  fc.constant(TokenLifecycle.defaultPolicy),
  policyOptions.map((o) => TokenLifecycle.makePolicy(o))
)

const lifetimeArb = fc.oneof(
  fc.constant(300),
  fc.constant(3700),
  fc.integer({ min: 1, max: 7_200 }),
  fc.double({ min: 0.5, max: 120, noNaN: true })
)
const jitterArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
const dtArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 2_000 }),
  fc.integer({ min: 0, max: 120_000 }),
  fc.integer({ min: 0, max: 4_000_000 })
)

type EventSpec =
  | { readonly _tag: "RefreshStarted" }
  | {
      readonly _tag: "RefreshSucceeded"
      readonly lifetime: number
      readonly jitter: number
      readonly refresh: boolean
    }
  | {
      readonly _tag: "RefreshFailed"
      readonly retryAfterMillis: number | undefined
      readonly final: boolean | undefined
    }
  | { readonly _tag: "GrantRejected" }
  | {
      readonly _tag: "GrantReceived"
      readonly lifetime: number
      readonly jitter: number
      readonly refresh: boolean
      readonly issuedBefore: number
    }
  | { readonly _tag: "Invalidated" }

const eventSpecArb: fc.Arbitrary<EventSpec> = fc.oneof(
  { arbitrary: fc.constant({ _tag: "RefreshStarted" as const }), weight: 4 },
  {
    arbitrary: fc.record({
      _tag: fc.constant("RefreshSucceeded" as const),
      lifetime: lifetimeArb,
      jitter: jitterArb,
      refresh: fc.boolean()
    }),
    weight: 3
  },
  {
    arbitrary: fc.record({
      _tag: fc.constant("RefreshFailed" as const),
      retryAfterMillis: fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
      final: fc.option(fc.boolean(), { nil: undefined })
    }),
    weight: 3
  },
  { arbitrary: fc.constant({ _tag: "GrantRejected" as const }), weight: 1 },
  {
    arbitrary: fc.record({
      _tag: fc.constant("GrantReceived" as const),
      lifetime: lifetimeArb,
      jitter: jitterArb,
      refresh: fc.boolean(),
      issuedBefore: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200_000 }))
    }),
    weight: 1
  },
  { arbitrary: fc.constant({ _tag: "Invalidated" as const }), weight: 1 }
)

type Step =
  | { readonly kind: "event"; readonly dt: number; readonly spec: EventSpec }
  | { readonly kind: "query"; readonly offset: number }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("event" as const), dt: dtArb, spec: eventSpecArb }),
  fc.record({ kind: fc.constant("query" as const), offset: dtArb })
)

const historyArb = fc.record({
  policy: policyArb,
  initial: fc.option(fc.record({ lifetime: lifetimeArb, jitter: jitterArb, refresh: fc.boolean() }), {
    nil: undefined
  }),
  steps: fc.array(stepArb, { maxLength: 60 })
})

const toEvent = (spec: EventSpec, at: number): Event => {
  switch (spec._tag) {
    case "RefreshSucceeded":
      return { _tag: spec._tag, at, tokens: tokenSet(at, spec.lifetime, spec.refresh), jitter: spec.jitter }
    case "GrantReceived":
      return {
        _tag: spec._tag,
        at,
        tokens: tokenSet(at, spec.lifetime, spec.refresh, spec.issuedBefore),
        jitter: spec.jitter
      }
    case "RefreshFailed":
      return {
        _tag: spec._tag,
        at,
        ...(spec.retryAfterMillis === undefined ? {} : { retryAfterMillis: spec.retryAfterMillis }),
        ...(spec.final === undefined ? {} : { final: spec.final })
      }
    default:
      return { _tag: spec._tag, at }
  }
}

type Observation =
  | { readonly kind: "transition"; readonly before: State; readonly event: Event; readonly after: State }
  | { readonly kind: "decision"; readonly state: State; readonly now: number; readonly decision: Decision }

/** Replays a history at non-decreasing times; records every transition and decision. */
const replay = (history: typeof historyArb extends fc.Arbitrary<infer H> ? H : never) => {
  const { initial, policy, steps } = history
  let now = T0
  let state =
    initial === undefined
      ? TokenLifecycle.empty
      : TokenLifecycle.holding(policy, tokenSet(now, initial.lifetime, initial.refresh), initial.jitter)
  const observations: Array<Observation> = []
  const ask = (at: number) =>
    observations.push({ kind: "decision", state, now: at, decision: TokenLifecycle.decide(state, at) })
  ask(now)
  for (const step of steps) {
    if (step.kind === "query") {
      ask(now + step.offset)
      continue
    }
    now += step.dt
    const event = toEvent(step.spec, now)
    const before = state
    state = TokenLifecycle.transition(policy, state, event)
    observations.push({ kind: "transition", before, event, after: state })
    ask(now)
  }
  return observations
}

// ---------------------------------------------------------------------------
// Properties over generated histories
// ---------------------------------------------------------------------------

describe("TokenLifecycle properties", () => {
  it.prop(
    "(1) a token is never served at or past expiresAt - margin",
    [historyArb],
    ([history]) => {
      for (const o of replay(history)) {
        if (o.kind !== "decision" || !hands(o.decision)) continue
        const tokens = o.decision.tokens
        const margin = TokenLifecycle.marginMillis(history.policy, Token.lifetimeMillis(tokens))
        expect(o.now).toBeLessThan(tokens.expiresAt - margin)
      }
    },
    runs
  )

  it.prop(
    "(2) at most one refresh in flight",
    [historyArb],
    ([history]) => {
      for (const o of replay(history)) {
        if (o.kind === "decision") {
          if (TokenLifecycle.isRefreshing(o.state)) expect(ownsRefresh(o.decision)).toBe(false)
          continue
        }
        const { after, before, event } = o
        if (event._tag !== "RefreshStarted" || !TokenLifecycle.isRefreshing(before)) continue
        if (before._tag === "BackingOff" && event.at >= before.retryAt) {
          // The owner's scheduled retry: the same refresh resumes, still one in flight.
          expect(after).toMatchObject({ _tag: "Refreshing", failures: before.failures, startedAt: event.at })
        } else {
          expect(after).toBe(before)
        }
      }
    },
    runs
  )

  it.prop(
    "(3) no refresh while fresh: Idle before refreshAt serves without refreshing",
    [historyArb],
    ([history]) => {
      let checked = 0
      for (const o of replay(history)) {
        if (o.kind !== "decision" || o.state._tag !== "Idle" || Option.isNone(o.state.current)) continue
        const scheduled = o.state.current.value
        if (o.now < scheduled.refreshAt) {
          expect(o.decision).toEqual({ _tag: "Serve", tokens: scheduled.tokens })
          checked++
        } else {
          expect(o.decision._tag).toBe(o.now < scheduled.staleAt ? "ServeAndRefresh" : "RefreshNow")
        }
      }
      return checked >= 0
    },
    runs
  )

  it.prop(
    "(4) after GrantRejected: FailConsentRequired and no refresh token until GrantReceived",
    [historyArb],
    ([history]) => {
      let gone = false
      for (const o of replay(history)) {
        if (o.kind === "transition") {
          if (o.event._tag === "GrantRejected") gone = true
          if (o.event._tag === "GrantReceived") gone = false
          if (gone) {
            expect(o.after._tag).toBe("ConsentRequired")
            expect(Option.isNone(TokenLifecycle.refreshToken(o.after))).toBe(true)
          } else {
            expect(o.after._tag).not.toBe("ConsentRequired")
          }
        } else if (gone) {
          expect(o.decision).toEqual({ _tag: "FailConsentRequired" })
        } else {
          expect(o.decision._tag).not.toBe("FailConsentRequired")
        }
      }
    },
    runs
  )

  it.prop(
    "(5) a refresh token returned by a refresh replaces the old one; none returned keeps it",
    [historyArb],
    ([history]) => {
      // The model: what refresh token should the next refresh send?
      let expected: Option.Option<string> = Option.none()
      let first = true
      for (const o of replay(history)) {
        if (first && o.kind === "decision") {
          expected = refreshValue(o.state)
          first = false
          continue
        }
        if (o.kind !== "transition") continue
        const { after, before, event } = o
        switch (event._tag) {
          case "GrantReceived":
            expected = Option.map(event.tokens.refreshToken, Redacted.value)
            break
          case "GrantRejected":
            expected = Option.none()
            break
          case "RefreshSucceeded":
            if (before._tag === "Refreshing") {
              const returned = Option.map(event.tokens.refreshToken, Redacted.value)
              expected = Option.isSome(returned) ? returned : expected
            } else {
              // A result with nothing in flight is ignored.
              expect(after).toBe(before)
            }
            break
        }
        expect(refreshValue(after)).toEqual(expected)
      }
    },
    runs
  )

  describe("(6) backoff", () => {
    it.prop(
      "is bounded: baseBackoff <= backoff <= max(maxBackoff, retryAfter)",
      [
        policyArb,
        fc.integer({ min: 1, max: 100 }),
        fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: undefined })
      ],
      ([policy, failures, retryAfter]) => {
        const delay = TokenLifecycle.backoffMillis(policy, failures, retryAfter)
        expect(delay).toBeGreaterThanOrEqual(policy.baseBackoffMillis)
        expect(delay).toBeLessThanOrEqual(Math.max(policy.maxBackoffMillis, retryAfter ?? 0))
        if (retryAfter !== undefined) expect(delay).toBeGreaterThanOrEqual(retryAfter)
      },
      runs
    )

    it.prop(
      "is non-decreasing in the number of failures",
      [
        policyArb,
        fc.integer({ min: 1, max: 60 }),
        fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: undefined })
      ],
      ([policy, failures, retryAfter]) => {
        expect(TokenLifecycle.backoffMillis(policy, failures + 1, retryAfter)).toBeGreaterThanOrEqual(
          TokenLifecycle.backoffMillis(policy, failures, retryAfter)
        )
      },
      runs
    )

    it.prop(
      "a driver that follows decide never hammers a failing token endpoint",
      [
        policyArb,
        fc.option(fc.record({ lifetime: lifetimeArb, jitter: jitterArb }), { nil: undefined }),
        fc.array(
          fc.record({
            gap: fc.oneof(
              fc.constant(0),
              fc.integer({ min: 0, max: 500 }),
              fc.integer({ min: 0, max: 60_000 })
            ),
            latency: fc.integer({ min: 0, max: 10_000 }),
            retryAfterMillis: fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
            final: fc.option(fc.boolean(), { nil: undefined }),
            invalidate: fc.boolean()
          }),
          { minLength: 1, maxLength: 80 }
        )
      ],
      ([policy, initial, ticks]) => {
        let now = T0
        let state =
          initial === undefined
            ? TokenLifecycle.empty
            : TokenLifecycle.holding(policy, tokenSet(now, initial.lifetime, true), initial.jitter)
        const starts: Array<number> = []
        let pendingFailureAt: number | undefined
        const tryStart = () => {
          const before = state
          state = TokenLifecycle.transition(policy, state, { _tag: "RefreshStarted", at: now })
          if (state !== before) {
            expect(state._tag).toBe("Refreshing")
            starts.push(now)
          }
        }
        for (const tick of ticks) {
          now += tick.gap
          if (pendingFailureAt !== undefined && now >= pendingFailureAt) {
            const failure = pendingFailureAt
            state = TokenLifecycle.transition(policy, state, {
              _tag: "RefreshFailed",
              at: failure,
              ...(tick.retryAfterMillis === undefined ? {} : { retryAfterMillis: tick.retryAfterMillis }),
              ...(tick.final === undefined ? {} : { final: tick.final })
            })
            pendingFailureAt = undefined
            expect(["BackingOff", "CoolingDown"]).toContain(state._tag)
            if (state._tag === "BackingOff" || state._tag === "CoolingDown") {
              expect(state.retryAt).toBeGreaterThanOrEqual(failure + policy.baseBackoffMillis)
            }
          }
          if (tick.invalidate)
            state = TokenLifecycle.transition(policy, state, { _tag: "Invalidated", at: now })
          const decision = TokenLifecycle.decide(state, now)
          if (ownsRefresh(decision) || (state._tag === "BackingOff" && now >= state.retryAt)) {
            // A caller that owns a refresh (or the owner's scheduled retry) starts it.
            tryStart()
            if (state._tag === "Refreshing" && pendingFailureAt === undefined)
              pendingFailureAt = now + tick.latency
          } else {
            // Anyone else trying to start one anyway is refused.
            const before = state
            if (TokenLifecycle.isRefreshing(state)) {
              state = TokenLifecycle.transition(policy, state, { _tag: "RefreshStarted", at: now })
              expect(state).toBe(before)
            }
          }
        }
        for (let i = 1; i < starts.length; i++) {
          expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(policy.baseBackoffMillis)
        }
      },
      runs
    )
  })

  it.prop(
    "(7) makePolicy clamps maxRetries to 0..5 (default 2) and keeps every number sane",
    [
      fc.oneof(policyOptions, fc.constant<TokenLifecycle.PolicyOptions>({})),
      fc.option(fc.oneof(fc.double(), fc.constant(Number.NaN), fc.integer({ min: -10, max: 10 })), {
        nil: undefined
      })
    ],
    ([options, retries]) => {
      const policy = TokenLifecycle.makePolicy(
        retries === undefined ? options : { ...options, maxRetries: retries }
      )
      const requested = retries === undefined ? options.maxRetries : retries
      expect(Number.isInteger(policy.maxRetries)).toBe(true)
      expect(policy.maxRetries).toBeGreaterThanOrEqual(0)
      expect(policy.maxRetries).toBeLessThanOrEqual(5)
      if (requested === undefined || Number.isNaN(requested)) expect(policy.maxRetries).toBe(2)
      else expect(policy.maxRetries).toBe(Math.round(Math.min(5, Math.max(0, requested))))
      for (const value of Object.values(policy)) expect(Number.isFinite(value)).toBe(true)
      expect(policy.marginRatio).toBeGreaterThanOrEqual(0)
      expect(policy.marginRatio).toBeLessThanOrEqual(0.5)
      expect(policy.refreshAheadRatio).toBeGreaterThanOrEqual(0)
      expect(policy.refreshAheadRatio).toBeLessThanOrEqual(0.5)
      expect(policy.jitter).toBeGreaterThanOrEqual(0)
      expect(policy.jitter).toBeLessThanOrEqual(1)
      expect(policy.baseBackoffMillis).toBeGreaterThanOrEqual(100)
      expect(policy.maxBackoffMillis).toBeGreaterThanOrEqual(policy.baseBackoffMillis)
      expect(policy.maxMarginMillis).toBeGreaterThanOrEqual(policy.minMarginMillis)
    },
    runs
  )

  it.prop(
    "schedule: issuedAt <= refreshAt <= staleAt <= expiresAt",
    [policyArb, lifetimeArb, fc.double({ min: -1, max: 2, noNaN: true })],
    ([policy, lifetime, jitter]) => {
      const tokens = tokenSet(T0, lifetime, false)
      const { refreshAt, staleAt } = TokenLifecycle.schedule(policy, tokens, jitter)
      expect(refreshAt).toBeGreaterThanOrEqual(tokens.issuedAt)
      expect(refreshAt).toBeLessThanOrEqual(staleAt)
      expect(staleAt).toBeLessThanOrEqual(tokens.expiresAt)
    },
    runs
  )
})

// ---------------------------------------------------------------------------
// The default schedule and the transition table
// ---------------------------------------------------------------------------

describe("TokenLifecycle defaults", () => {
  const policy = TokenLifecycle.defaultPolicy

  it("makePolicy() is the default policy", () => {
    expect(TokenLifecycle.makePolicy()).toEqual(policy)
    expect(policy).toMatchObject({ maxRetries: 2, baseBackoffMillis: 1_000, maxBackoffMillis: 30_000 })
  })

  it("a 300 s token: margin 30 s, background refresh from 240-255 s", () => {
    expect(TokenLifecycle.marginMillis(policy, 300_000)).toBe(30_000)
    for (const jitter of [0, 0.25, 0.5, 0.75, 0.999999]) {
      const s = TokenLifecycle.schedule(policy, tokenSet(T0, 300, true), jitter)
      expect(s.staleAt - T0).toBe(270_000)
      expect(s.refreshAt - T0).toBeGreaterThanOrEqual(240_000)
      expect(s.refreshAt - T0).toBeLessThanOrEqual(255_000)
    }
    expect(TokenLifecycle.schedule(policy, tokenSet(T0, 300, true), 0).refreshAt - T0).toBe(240_000)
  })

  it("a 3700 s token: margin 60 s, background refresh from 3520-3580 s", () => {
    expect(TokenLifecycle.marginMillis(policy, 3_700_000)).toBe(60_000)
    for (const jitter of [0, 0.25, 0.5, 0.75, 0.999999]) {
      const s = TokenLifecycle.schedule(policy, tokenSet(T0, 3700, false), jitter)
      expect(s.staleAt - T0).toBe(3_640_000)
      expect(s.refreshAt - T0).toBeGreaterThanOrEqual(3_520_000)
      expect(s.refreshAt - T0).toBeLessThanOrEqual(3_580_000)
    }
    expect(TokenLifecycle.schedule(policy, tokenSet(T0, 3700, false), 0).refreshAt - T0).toBe(3_520_000)
  })

  it("margins are clamped: 5 s floor, 60 s ceiling", () => {
    expect(TokenLifecycle.marginMillis(policy, 10_000)).toBe(5_000)
    expect(TokenLifecycle.marginMillis(policy, 86_400_000)).toBe(60_000)
  })

  it("backoff doubles from 1 s to a 30 s cap and honours Retry-After", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => TokenLifecycle.backoffMillis(policy, n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000
    ])
    expect(TokenLifecycle.backoffMillis(policy, 1, 45_000)).toBe(45_000)
    expect(TokenLifecycle.backoffMillis(policy, 1, Number.NaN)).toBe(1_000)
  })

  it("makePolicy clamps maxRetries and falls back on NaN", () => {
    expect(TokenLifecycle.makePolicy({ maxRetries: 9 }).maxRetries).toBe(5)
    expect(TokenLifecycle.makePolicy({ maxRetries: -1 }).maxRetries).toBe(0)
    expect(TokenLifecycle.makePolicy({ maxRetries: Number.NaN }).maxRetries).toBe(2)
    expect(TokenLifecycle.makePolicy({ marginRatio: Number.NaN }).marginRatio).toBe(0.1)
    expect(TokenLifecycle.makePolicy({ baseBackoff: 0 }).baseBackoffMillis).toBe(100)
  })
})

describe("TokenLifecycle transitions and decisions", () => {
  const policy = TokenLifecycle.defaultPolicy
  const tokens = tokenSet(T0, 300, true)
  const idle = TokenLifecycle.holding(policy, tokens, 0)
  const at = (seconds: number) => T0 + seconds * 1000
  const run = (state: State, ...events: ReadonlyArray<Event>) =>
    events.reduce((s, e) => TokenLifecycle.transition(policy, s, e), state)

  it("an empty key refreshes now", () => {
    expect(TokenLifecycle.decide(TokenLifecycle.empty, T0)).toEqual({ _tag: "RefreshNow" })
  })

  it("Idle: Serve, then ServeAndRefresh, then RefreshNow once stale", () => {
    expect(TokenLifecycle.decide(idle, at(0))._tag).toBe("Serve")
    expect(TokenLifecycle.decide(idle, at(239.999))._tag).toBe("Serve")
    expect(TokenLifecycle.decide(idle, at(240))._tag).toBe("ServeAndRefresh")
    expect(TokenLifecycle.decide(idle, at(269.999))._tag).toBe("ServeAndRefresh")
    expect(TokenLifecycle.decide(idle, at(270))._tag).toBe("RefreshNow")
  })

  it("Refreshing: serve while fresh, else await", () => {
    const refreshing = run(idle, { _tag: "RefreshStarted", at: at(240) })
    expect(refreshing).toMatchObject({ _tag: "Refreshing", failures: 0, startedAt: at(240) })
    expect(TokenLifecycle.decide(refreshing, at(250))._tag).toBe("Serve")
    expect(TokenLifecycle.decide(refreshing, at(270))).toEqual({ _tag: "AwaitRefresh" })
  })

  it("a failure backs off, retries, then cools down after maxRetries", () => {
    let state = run(idle, { _tag: "RefreshStarted", at: at(270) }, { _tag: "RefreshFailed", at: at(271) })
    expect(state).toMatchObject({ _tag: "BackingOff", failures: 1, retryAt: at(272) })
    expect(TokenLifecycle.decide(state, at(271.5))).toEqual({ _tag: "AwaitRefresh" })
    expect(run(state, { _tag: "RefreshStarted", at: at(271.5) })).toBe(state)
    state = run(state, { _tag: "RefreshStarted", at: at(272) }, { _tag: "RefreshFailed", at: at(273) })
    expect(state).toMatchObject({ _tag: "BackingOff", failures: 2, retryAt: at(275) })
    state = run(state, { _tag: "RefreshStarted", at: at(275) }, { _tag: "RefreshFailed", at: at(276) })
    expect(state).toMatchObject({ _tag: "CoolingDown", failures: 3, retryAt: at(280) })
    expect(TokenLifecycle.decide(state, at(279))).toEqual({ _tag: "FailRetryAfter", retryAt: at(280) })
    expect(TokenLifecycle.decide(state, at(280))).toEqual({ _tag: "RefreshNow" })
    state = run(state, { _tag: "RefreshStarted", at: at(280) }, { _tag: "RefreshFailed", at: at(281) })
    expect(state).toMatchObject({ _tag: "CoolingDown", failures: 4, retryAt: at(289) })
  })

  it("a final failure cools down at once, with exponential cool-downs (the TokenManager's path)", () => {
    let state = run(
      idle,
      { _tag: "RefreshStarted", at: at(270) },
      { _tag: "RefreshFailed", at: at(270), final: true }
    )
    expect(state).toMatchObject({ _tag: "CoolingDown", failures: 1, retryAt: at(271) })
    state = run(
      state,
      { _tag: "RefreshStarted", at: at(271) },
      { _tag: "RefreshFailed", at: at(271), final: true }
    )
    expect(state).toMatchObject({ _tag: "CoolingDown", failures: 2, retryAt: at(273) })
    state = run(state, {
      _tag: "RefreshSucceeded",
      at: at(274),
      tokens: tokenSet(at(274), 300, false),
      jitter: 0
    })
    expect(state._tag).toBe("CoolingDown")
    state = run(
      state,
      { _tag: "RefreshStarted", at: at(274) },
      { _tag: "RefreshSucceeded", at: at(275), tokens: tokenSet(at(275), 300, false), jitter: 0 }
    )
    expect(state._tag).toBe("Idle")
    // Success resets the failure count.
    state = run(
      state,
      { _tag: "RefreshStarted", at: at(600) },
      { _tag: "RefreshFailed", at: at(600), final: true }
    )
    expect(state).toMatchObject({ _tag: "CoolingDown", failures: 1 })
  })

  it("CoolingDown with a fresh token serves it, and refreshes once the cool-down ends", () => {
    const cooling = run(
      idle,
      { _tag: "RefreshStarted", at: at(240) },
      { _tag: "RefreshFailed", at: at(241), final: true, retryAfterMillis: 10_000 }
    )
    expect(cooling).toMatchObject({ _tag: "CoolingDown", retryAt: at(251) })
    expect(TokenLifecycle.decide(cooling, at(250))._tag).toBe("Serve")
    expect(TokenLifecycle.decide(cooling, at(251))._tag).toBe("ServeAndRefresh")
    expect(TokenLifecycle.decide(cooling, at(270))._tag).toBe("RefreshNow")
  })

  it("an owner that gives up while backing off leaves a key others can refresh", () => {
    const backingOff = run(
      idle,
      { _tag: "RefreshStarted", at: at(270) },
      { _tag: "RefreshFailed", at: at(271) }
    )
    expect(backingOff._tag).toBe("BackingOff")
    const abandoned = run(backingOff, { _tag: "RefreshFailed", at: at(271.5), final: true })
    expect(abandoned).toMatchObject({ _tag: "CoolingDown", failures: 1, retryAt: at(272) })
    expect(TokenLifecycle.isRefreshing(abandoned)).toBe(false)
    expect(TokenLifecycle.decide(abandoned, at(272))).toEqual({ _tag: "RefreshNow" })
    // A stray non-final result while backing off is ignored.
    expect(run(backingOff, { _tag: "RefreshFailed", at: at(271.5) })).toBe(backingOff)
  })

  it("Invalidated drops the access token but keeps the refresh token", () => {
    const state = run(idle, { _tag: "Invalidated", at: at(10) })
    expect(TokenLifecycle.decide(state, at(10))).toEqual({ _tag: "RefreshNow" })
    expect(refreshValue(state)).toEqual(refreshValue(idle))
    expect(Option.isSome(refreshValue(state))).toBe(true)
  })

  it("GrantRejected is sticky until GrantReceived", () => {
    let state = run(idle, { _tag: "GrantRejected", at: at(10) })
    expect(TokenLifecycle.decide(state, at(10))).toEqual({ _tag: "FailConsentRequired" })
    state = run(
      state,
      { _tag: "RefreshStarted", at: at(11) },
      { _tag: "RefreshSucceeded", at: at(12), tokens: tokenSet(at(12), 300, true), jitter: 0 },
      { _tag: "Invalidated", at: at(13) }
    )
    expect(state._tag).toBe("ConsentRequired")
    expect(Option.isNone(TokenLifecycle.refreshToken(state))).toBe(true)
    const fresh = tokenSet(at(14), 300, true)
    state = run(state, { _tag: "GrantReceived", at: at(14), tokens: fresh, jitter: 0 })
    expect(TokenLifecycle.decide(state, at(14))).toEqual({ _tag: "Serve", tokens: fresh })
  })

  it("isRefreshing is true in Refreshing and BackingOff only", () => {
    const refreshing = run(idle, { _tag: "RefreshStarted", at: at(240) })
    const backingOff = run(refreshing, { _tag: "RefreshFailed", at: at(241) })
    expect(TokenLifecycle.isRefreshing(idle)).toBe(false)
    expect(TokenLifecycle.isRefreshing(refreshing)).toBe(true)
    expect(TokenLifecycle.isRefreshing(backingOff)).toBe(true)
    expect(TokenLifecycle.isRefreshing(run(idle, { _tag: "GrantRejected", at: at(1) }))).toBe(false)
  })
})
