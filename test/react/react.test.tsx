/* @jsxRuntime automatic */
import '../support/setup'
import { expect } from 'chai'
import { act, StrictMode, useState, version, type ReactNode } from 'react'
import { version as domVersion } from 'react-dom'
import { createRoot, hydrateRoot, type Root } from 'react-dom/client'
import { renderToString } from 'react-dom/server'
import { SessionProvider, useAccessToken, useIdleWarning, useSession, useSessionClient } from '../../src/react/index'
import type { Session, SessionSnapshot } from '../../src/types'
import { createManualClock } from '../support/manual-clock'
import { createFakeSession } from './fake-session'
import { countingClock, countingStart, countingSubscribe, tokens } from './helpers'
import { TAB_LOCAL, testSessions, uniqueName, until } from '../support/util'

// React's act() warns unless the environment says it is a test.
;(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true

interface Mounted {
  readonly el: HTMLElement
  readonly root: Root
  unmount(): Promise<void>
}

async function mount(ui: ReactNode): Promise<Mounted> {
  const el = document.createElement('div')
  document.body.append(el)
  const root = createRoot(el)
  await act(async () => root.render(ui))
  return {
    el,
    root,
    async unmount() {
      await act(async () => root.unmount())
      el.remove()
    },
  }
}

function Status(): ReactNode {
  const s = useSession()
  if (s.status === 'loading') return <p>loading</p>
  if (s.status === 'anonymous') return <p>anonymous:{String(s.reason)}</p>
  return <p>authenticated:{s.tokens.accessToken}</p>
}

const cleanups: (() => Promise<void> | void)[] = []
const { make, destroyAll } = testSessions({}, { start: false })

describe(`sessionkeeper/react (React ${version})`, () => {
  before(async () => {
    // React DOM adds one document 'selectionchange' listener for its lifetime on the first root:
    // create it before the leak checker's per-test baseline.
    await act(async () => createRoot(document.createElement('div')).unmount())
  })
  // Inner hooks run before setup.ts's root afterEach, so the leak check sees the cleaned-up state.
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn()
    await destroyAll() // after the unmounts and stops above
  })

  it('runs against one React instance of the requested major', () => {
    expect(domVersion).to.equal(version)
    expect(['18', '19']).to.include(version.split('.')[0])
  })

  describe('useSession', () => {
    it('renders loading, anonymous and authenticated, and follows logout', async () => {
      const session = make(TAB_LOCAL, { prefix: 'react-status' })
      // Before the provider starts it, the session is loading.
      expect(session.getSnapshot().status).to.equal('loading')
      expect(renderToString(<SessionProvider session={session}><Status /></SessionProvider>)).to.contain('loading')

      const app = await mount(<SessionProvider session={session}><Status /></SessionProvider>)
      cleanups.push(() => app.unmount())
      await act(() => until(session, (s) => s.status !== 'loading'))
      expect(app.el.textContent).to.equal('anonymous:null')
      await act(() => session.login(tokens(undefined, 'token-a')))
      expect(app.el.textContent).to.equal('authenticated:token-a')
      await act(() => session.logout())
      expect(app.el.textContent).to.equal('anonymous:user')
    })

    it('updates when another tab signs in and out', async () => {
      // Two sessions with one name and default persistence/sync behave like two tabs of one origin.
      const name = uniqueName('react-tabs')
      const tabA = make({ name })
      const tabB = make({ name })
      const stopB = tabB.start()
      cleanups.push(stopB)
      const app = await mount(<SessionProvider session={tabA}><Status /></SessionProvider>)
      cleanups.push(() => app.unmount())
      await act(async () => {
        await until(tabA, (s) => s.status === 'anonymous')
        await until(tabB, (s) => s.status === 'anonymous')
      })
      expect(app.el.textContent).to.equal('anonymous:null')

      await act(async () => {
        await tabB.login(tokens(undefined, 'from-tab-b'))
        await until(tabA, (s) => s.status === 'authenticated')
      })
      expect(app.el.textContent).to.equal('authenticated:from-tab-b')

      await act(async () => {
        await tabB.logout()
        await until(tabA, (s) => s.status === 'anonymous')
      })
      expect(app.el.textContent).to.equal('anonymous:user')
      await act(() => tabA.logout()) // leave no session behind in this origin's storage
    })

    it('returns the subscription to zero listeners after unmount', async () => {
      const session = countingSubscribe(make(TAB_LOCAL, { prefix: 'react-listeners' }))
      function Many(): ReactNode {
        useSession()
        useSession((s) => s.status)
        useIdleWarning()
        return null
      }
      const app = await mount(<SessionProvider session={session}><Many /><Many /></SessionProvider>)
      expect(session.listeners()).to.be.greaterThan(0)
      await app.unmount()
      expect(session.listeners()).to.equal(0)
    })

    it('memoizes a selector that returns a new object every call (no render loop)', async () => {
      const session = createFakeSession({ status: 'anonymous', reason: null })
      // React reports an uncached getSnapshot ("should be cached to avoid an infinite loop") on console.error.
      const errors: unknown[][] = []
      const realError = console.error
      console.error = (...args: unknown[]) => void errors.push(args)
      cleanups.push(() => void (console.error = realError))
      let renders = 0
      let seen: { status: string } | undefined
      function Slice(): ReactNode {
        renders++
        seen = useSession((s) => ({ status: s.status }))
        return <p>{seen.status}</p>
      }
      const app = await mount(<SessionProvider session={session}><Slice /></SessionProvider>)
      expect(app.el.textContent).to.equal('anonymous')
      const afterMount = renders
      expect(afterMount).to.be.at.most(2)
      await act(async () => session.set({ status: 'anonymous', reason: 'user' }))
      expect(renders - afterMount).to.be.at.most(2)
      expect(app.el.textContent).to.equal('anonymous')
      await app.unmount()
      expect(errors).to.deep.equal([])
    })

    it('skips re-renders when isEqual says the selection is unchanged', async () => {
      const session = createFakeSession({ status: 'anonymous', reason: null })
      let renders = 0
      const shallow = (a: { status: string }, b: { status: string }) => a.status === b.status
      function Slice(): ReactNode {
        renders++
        const slice = useSession((s) => ({ status: s.status }), shallow)
        return <p>{slice.status}</p>
      }
      const app = await mount(<SessionProvider session={session}><Slice /></SessionProvider>)
      const before = renders
      await act(async () => session.set({ status: 'anonymous', reason: 'idle' }))
      await act(async () => session.set({ status: 'anonymous', reason: 'user' }))
      expect(renders).to.equal(before)
      await act(async () => session.set({ status: 'loading' }))
      expect(renders).to.equal(before + 1)
      expect(app.el.textContent).to.equal('loading')
      await app.unmount()
    })

    it('follows a selector that changes between renders', async () => {
      const session = createFakeSession({ status: 'anonymous', reason: 'idle' })
      let setField: (f: 'status' | 'reason') => void = () => {}
      function Field(): ReactNode {
        const [field, set] = useState<'status' | 'reason'>('status')
        setField = set
        const value = useSession((s) => (field === 'status' ? s.status : s.status === 'anonymous' ? String(s.reason) : '-'))
        return <p>{value}</p>
      }
      const app = await mount(<SessionProvider session={session}><Field /></SessionProvider>)
      expect(app.el.textContent).to.equal('anonymous')
      await act(async () => setField('reason'))
      expect(app.el.textContent).to.equal('idle')
      await app.unmount()
    })
  })

  describe('SessionProvider', () => {
    it('starts the session once under StrictMode and stops it on unmount', async () => {
      const session = countingStart(make(TAB_LOCAL, { prefix: 'react-strict' }))
      const app = await mount(
        <StrictMode>
          <SessionProvider session={session}><Status /></SessionProvider>
        </StrictMode>,
      )
      expect(session.running()).to.equal(1)
      await act(() => until(session, (s) => s.status === 'anonymous'))
      expect(app.el.textContent).to.equal('anonymous:null')
      await app.unmount()
      expect(session.running()).to.equal(0)
    })

    it('hydrates server-rendered loading markup without a mismatch', async () => {
      const session = make(TAB_LOCAL, { prefix: 'react-hydrate' })
      await session.login(tokens(undefined, 'hydrated'))
      const ui = <SessionProvider session={session}><Status /></SessionProvider>
      const el = document.createElement('div')
      el.innerHTML = renderToString(ui)
      expect(el.textContent).to.equal('loading')
      document.body.append(el)
      const errors: unknown[] = []
      let root: Root | undefined
      await act(async () => {
        root = hydrateRoot(el, ui, { onRecoverableError: (e) => errors.push(e) })
      })
      await act(() => until(session, (s) => s.status === 'authenticated'))
      expect(errors).to.deep.equal([])
      expect(el.textContent).to.equal('authenticated:hydrated')
      await act(async () => root?.unmount())
      el.remove()
    })
  })

  describe('useAccessToken / useSessionClient', () => {
    it('gives a stable token getter and the session', async () => {
      const session = make(TAB_LOCAL, { prefix: 'react-token' })
      const getters: (() => Promise<string | null>)[] = []
      let client: Session | undefined
      function Probe(): ReactNode {
        getters.push(useAccessToken())
        client = useSessionClient()
        useSession()
        return null
      }
      const app = await mount(<SessionProvider session={session}><Probe /></SessionProvider>)
      await act(() => session.login(tokens(undefined, 'fresh-token')))
      expect(getters.length).to.be.greaterThan(1)
      expect(new Set(getters).size).to.equal(1)
      expect(client).to.equal(session)
      expect(await getters[0]!()).to.equal('fresh-token')
      await app.unmount()
    })
  })

  describe('useIdleWarning', () => {
    it('counts down once a second only while the warning shows, and extend() ends it', async () => {
      const manual = createManualClock()
      const clock = countingClock(manual)
      const session = make({ ...TAB_LOCAL, clock: manual, idle: { timeoutMs: 60_000, warningMs: 10_000 } }, { prefix: 'react-idle' })
      let renders = 0
      let latest: ReturnType<typeof useIdleWarning> | undefined
      function Dialog(): ReactNode {
        renders++
        latest = useIdleWarning()
        return latest.warning ? <p>{Math.ceil(latest.remainingMs / 1000)}</p> : <p>none</p>
      }
      const app = await mount(<SessionProvider session={session} clock={clock}><Dialog /></SessionProvider>)
      await act(async () => {
        await until(session, (s) => s.status === 'anonymous')
        await session.login(tokens(manual))
      })
      expect(app.el.textContent).to.equal('none')
      expect(clock.pending()).to.equal(0)

      await act(() => manual.advance(50_000))
      expect(app.el.textContent).to.equal('10')
      expect(latest!.warning).to.equal(true)
      expect(latest!.logoutAt).to.equal(manual.now() + 10_000)
      expect(clock.pending()).to.equal(1)

      let before = renders
      await act(() => manual.advance(999))
      expect(renders).to.equal(before) // nothing to show yet: no render inside the second
      await act(() => manual.advance(1))
      expect(app.el.textContent).to.equal('9')
      expect(renders - before).to.equal(1) // one render per second (no StrictMode here: one call per render)
      before = renders
      // The next tick is armed by the effect of the previous render, so step second by second (as real
      // time would: React renders between two ticks).
      for (let i = 0; i < 3; i++) await act(() => manual.advance(1_000))
      expect(app.el.textContent).to.equal('6')
      expect(renders - before).to.equal(3)

      await act(async () => latest!.extend())
      await act(() => until(session, (s) => s.status === 'authenticated' && s.idle.phase === 'active'))
      expect(app.el.textContent).to.equal('none')
      expect(latest!.remainingMs).to.equal(0)
      expect(clock.pending()).to.equal(0)
      await app.unmount()
    })

    it('signs out at logoutAt and clears its timer on unmount', async () => {
      const manual = createManualClock()
      const clock = countingClock(manual)
      const session = make({ ...TAB_LOCAL, clock: manual, idle: { timeoutMs: 30_000, warningMs: 5_000 } }, { prefix: 'react-idle-out' })
      function Dialog(): ReactNode {
        const { warning, remainingMs } = useIdleWarning()
        const status = useSession((s) => s.status)
        return <p>{status}:{warning ? Math.ceil(remainingMs / 1000) : '-'}</p>
      }
      const app = await mount(<SessionProvider session={session} clock={clock}><Dialog /></SessionProvider>)
      await act(async () => {
        await until(session, (s) => s.status === 'anonymous')
        await session.login(tokens(manual))
      })
      await act(() => manual.advance(26_000))
      expect(app.el.textContent).to.equal('authenticated:4')
      await act(() => manual.advance(4_000))
      expect(app.el.textContent).to.equal('anonymous:-')
      expect(clock.pending()).to.equal(0)

      // Unmounting in the middle of a warning cancels the countdown timer.
      await act(() => session.login(tokens(manual)))
      await act(() => manual.advance(27_000))
      expect(clock.pending()).to.equal(1)
      await app.unmount()
      expect(clock.pending()).to.equal(0)
    })
  })

  describe('outside a provider', () => {
    for (const [name, useHook] of [
      ['useSession', () => useSession()],
      ['useSession(selector)', () => useSession((s: SessionSnapshot) => s.status)],
      ['useIdleWarning', () => useIdleWarning()],
      ['useAccessToken', () => useAccessToken()],
      ['useSessionClient', () => useSessionClient()],
    ] as const) {
      it(`${name} throws an error naming SessionProvider`, () => {
        function Orphan(): ReactNode {
          useHook()
          return null
        }
        expect(() => renderToString(<Orphan />)).to.throw(Error, /SessionProvider/)
      })
    }
  })
})
