import '../support/setup'
import { expect } from 'chai'
import { createApp, defineComponent, effectScope, h, nextTick, version, type App, type Component } from 'vue'
import type { Session } from '../../src/index'
import { createSessionPlugin, useIdleWarning, useSession, useSessionClient, type IdleWarning } from '../../src/vue/index'
import { createManualClock } from '../support/manual-clock'
import { createFakeSession } from '../react/fake-session'
import { countingClock, countingStart, countingSubscribe, tokens } from '../react/helpers'
import { TAB_LOCAL, testSessions, uniqueName, until } from '../support/util'

const Status = defineComponent({
  setup() {
    const s = useSession()
    return () => {
      const v = s.value
      return h('p', v.status === 'loading' ? 'loading' : v.status === 'anonymous' ? `anonymous:${String(v.reason)}` : `authenticated:${v.tokens.accessToken}`)
    }
  },
})

interface Mounted {
  readonly app: App
  readonly el: HTMLElement
  unmount(): void
}

function mount(root: Component, session: Session, options?: Parameters<typeof createSessionPlugin>[1]): Mounted {
  const el = document.createElement('div')
  document.body.append(el)
  const app = createApp(root).use(createSessionPlugin(session, options))
  app.mount(el)
  let done = false
  const mounted = {
    app,
    el,
    unmount() {
      if (done) return
      done = true
      app.unmount()
      el.remove()
    },
  }
  cleanups.push(() => mounted.unmount())
  return mounted
}

const cleanups: (() => Promise<void> | void)[] = []
const { make, destroyAll } = testSessions({}, { start: false })

describe(`sessionkeeper/vue (Vue ${version})`, () => {
  before(() => {
    // Vue's development build arms a one-off 3 s devtools-hook timer when the first renderer is created:
    // create it before the leak checker's per-test baseline.
    const app = createApp({ render: () => null })
    app.mount(document.createElement('div'))
    app.unmount()
  })
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn()
    await destroyAll() // after the unmounts and stops above
  })

  describe('useSession', () => {
    it('renders loading, anonymous and authenticated, and follows logout', async () => {
      const session = make(TAB_LOCAL, { prefix: 'vue-status' })
      const view = mount(Status, session)
      expect(view.el.textContent).to.equal('loading')
      await until(session, (s) => s.status !== 'loading')
      await nextTick()
      expect(view.el.textContent).to.equal('anonymous:null')
      await session.login(tokens(undefined, 'token-a'))
      await nextTick()
      expect(view.el.textContent).to.equal('authenticated:token-a')
      await session.logout()
      await nextTick()
      expect(view.el.textContent).to.equal('anonymous:user')
    })

    it('updates when another tab signs in and out', async () => {
      const name = uniqueName('vue-tabs')
      const tabA = make({ name })
      const tabB = make({ name })
      cleanups.push(tabB.start())
      const view = mount(Status, tabA)
      await until(tabA, (s) => s.status === 'anonymous')
      await until(tabB, (s) => s.status === 'anonymous')

      await tabB.login(tokens(undefined, 'from-tab-b'))
      await until(tabA, (s) => s.status === 'authenticated')
      await nextTick()
      expect(view.el.textContent).to.equal('authenticated:from-tab-b')

      await tabB.logout()
      await until(tabA, (s) => s.status === 'anonymous')
      await nextTick()
      expect(view.el.textContent).to.equal('anonymous:user')
    })

    it('unsubscribes every listener when the app unmounts', async () => {
      const session = countingSubscribe(make(TAB_LOCAL, { prefix: 'vue-listeners' }))
      const Many = defineComponent({
        setup() {
          useSession()
          useSession((s) => s.status)
          useIdleWarning()
          return () => null
        },
      })
      const view = mount({ render: () => [h(Many), h(Many)] }, session)
      expect(session.listeners()).to.equal(6)
      view.unmount()
      expect(session.listeners()).to.equal(0)
    })

    it('unsubscribes when an effect scope outside a component stops', () => {
      const session = countingSubscribe(createFakeSession())
      const app = createApp({ render: () => null }).use(createSessionPlugin(session))
      const scope = effectScope()
      const state = app.runWithContext(() => scope.run(() => useSession())!)
      expect(state.value.status).to.equal('loading')
      session.set({ status: 'anonymous', reason: null })
      expect(state.value.status).to.equal('anonymous')
      expect(session.listeners()).to.equal(1)
      scope.stop()
      expect(session.listeners()).to.equal(0)
    })

    it('changes a selected ref only when the selection changes by isEqual', () => {
      const session = createFakeSession({ status: 'anonymous', reason: null })
      const app = createApp({ render: () => null }).use(createSessionPlugin(session))
      const scope = effectScope()
      const [status, slice] = app.runWithContext(() =>
        scope.run(() => [useSession((s) => s.status), useSession((s) => ({ status: s.status }), (a, b) => a.status === b.status)] as const)!,
      )
      const first = slice.value
      session.set({ status: 'anonymous', reason: 'user' })
      expect(status.value).to.equal('anonymous')
      expect(slice.value).to.equal(first)
      session.set({ status: 'loading' })
      expect(status.value).to.equal('loading')
      expect(slice.value).to.deep.equal({ status: 'loading' })
      scope.stop()
    })
  })

  describe('createSessionPlugin', () => {
    it('starts the session on mount (once per app) and stops it on unmount', async () => {
      const session = countingStart(make(TAB_LOCAL, { prefix: 'vue-start' }))
      const app = createApp(Status).use(createSessionPlugin(session))
      expect(session.running()).to.equal(0) // installing does not start: only mounting does
      const el = document.createElement('div')
      app.mount(el)
      expect(session.running()).to.equal(1)
      const second = mount(Status, session)
      expect(session.running()).to.equal(2)
      await until(session, (s) => s.status === 'anonymous')
      second.unmount()
      expect(session.running()).to.equal(1)
      expect(session.getSnapshot().status).to.equal('anonymous')
      app.unmount()
      expect(session.running()).to.equal(0)
      expect(session.starts()).to.equal(2)
    })

    it('stops on unmount on Vue < 3.5 too (no app.onUnmount: unmount is wrapped)', async () => {
      const session = countingStart(make(TAB_LOCAL, { prefix: 'vue-34' }))
      const app = createApp(Status)
      ;(app as { onUnmount?: unknown }).onUnmount = undefined // what a Vue 3.3/3.4 app looks like
      app.use(createSessionPlugin(session))
      app.mount(document.createElement('div'))
      expect(session.running()).to.equal(1)
      await until(session, (s) => s.status === 'anonymous')
      app.unmount()
      expect(session.running()).to.equal(0)
    })

    it('gives the session to useSessionClient', () => {
      const session = createFakeSession()
      let got: Session | undefined
      const view = mount(
        defineComponent({
          setup() {
            got = useSessionClient()
            return () => null
          },
        }),
        session,
      )
      expect(got).to.equal(session)
      view.unmount()
    })
  })

  describe('useIdleWarning', () => {
    it('counts down once a second only while the warning shows, and extend() ends it', async () => {
      const manual = createManualClock()
      const clock = countingClock(manual)
      const session = make({ ...TAB_LOCAL, clock: manual, idle: { timeoutMs: 60_000, warningMs: 10_000 } }, { prefix: 'vue-idle' })
      let renders = 0
      let latest: IdleWarning | undefined
      const Dialog = defineComponent({
        setup() {
          latest = useIdleWarning()
          const { warning, remainingMs } = latest
          return () => {
            renders++
            return h('p', warning.value ? String(Math.ceil(remainingMs.value / 1000)) : 'none')
          }
        },
      })
      const view = mount(Dialog, session, { clock })
      await until(session, (s) => s.status === 'anonymous')
      await session.login(tokens(manual))
      await nextTick()
      expect(view.el.textContent).to.equal('none')
      expect(clock.pending()).to.equal(0)

      await manual.advance(50_000)
      await nextTick()
      expect(view.el.textContent).to.equal('10')
      expect(latest!.logoutAt.value).to.equal(manual.now() + 10_000)
      expect(clock.pending()).to.equal(1)

      let before = renders
      await manual.advance(999)
      await nextTick()
      expect(renders).to.equal(before)
      await manual.advance(1)
      await nextTick()
      expect(view.el.textContent).to.equal('9')
      expect(renders - before).to.equal(1)
      before = renders
      await manual.advance(3_000)
      await nextTick()
      expect(view.el.textContent).to.equal('6')
      expect(renders - before).to.equal(3)

      latest!.extend()
      await until(session, (s) => s.status === 'authenticated' && s.idle.phase === 'active')
      await nextTick()
      expect(view.el.textContent).to.equal('none')
      expect(latest!.remainingMs.value).to.equal(0)
      expect(clock.pending()).to.equal(0)
    })

    it('clears its timer when the app unmounts during a warning', async () => {
      const manual = createManualClock()
      const clock = countingClock(manual)
      const session = make({ ...TAB_LOCAL, clock: manual, idle: { timeoutMs: 30_000, warningMs: 5_000 } }, { prefix: 'vue-idle-out' })
      const Dialog = defineComponent({
        setup() {
          const { warning, remainingMs } = useIdleWarning()
          const status = useSession((s) => s.status)
          return () => h('p', `${status.value}:${warning.value ? Math.ceil(remainingMs.value / 1000) : '-'}`)
        },
      })
      const view = mount(Dialog, session, { clock })
      await until(session, (s) => s.status === 'anonymous')
      await session.login(tokens(manual))
      await manual.advance(26_000)
      await nextTick()
      expect(view.el.textContent).to.equal('authenticated:4')
      await manual.advance(4_000)
      await nextTick()
      expect(view.el.textContent).to.equal('anonymous:-')
      expect(clock.pending()).to.equal(0)

      await session.login(tokens(manual))
      await manual.advance(27_000)
      expect(clock.pending()).to.equal(1)
      view.unmount()
      expect(clock.pending()).to.equal(0)
    })
  })

  describe('without the plugin', () => {
    for (const [name, use] of [
      ['useSession', () => useSession()],
      ['useSession(selector)', () => useSession((s) => s.status)],
      ['useIdleWarning', () => useIdleWarning()],
      ['useSessionClient', () => useSessionClient()],
    ] as const) {
      it(`${name} throws an error naming the plugin`, () => {
        const errors: unknown[] = []
        const app = createApp(
          defineComponent({
            setup() {
              use()
              return () => null
            },
          }),
        )
        app.config.errorHandler = (error) => void errors.push(error)
        app.config.warnHandler = () => {} // "missing render function": setup threw, as intended
        app.mount(document.createElement('div'))
        app.unmount()
        expect(errors).to.have.length(1)
        expect(errors[0]).to.be.instanceOf(Error)
        expect((errors[0] as Error).message).to.match(/createSessionPlugin/)
      })
    }
  })
})
