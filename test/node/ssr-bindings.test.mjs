// Server rendering with the built bindings (dist/react.js, dist/vue.js): both render the `loading`
// state, start nothing, and never read a browser global. Run after `npx rollup -c`.
import { test } from 'node:test';
import assert from 'node:assert/strict';

// Browser globals the bindings (and the core they drive) must not read on the server. Node 20 has its
// own BroadcastChannel and navigator; the traps record any access from here on.
const touched = [];
const BROWSER_GLOBALS = ['window', 'document', 'indexedDB', 'localStorage', 'sessionStorage', 'BroadcastChannel', 'navigator', 'location'];
function trapGlobals() {
  const saved = [];
  for (const name of BROWSER_GLOBALS) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
    saved.push([name, descriptor]);
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        touched.push(`${name}: ${new Error().stack?.split('\n')[2]?.trim()}`);
        return undefined;
      },
    });
  }
  return () => {
    for (const [name, descriptor] of saved) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else delete globalThis[name];
    }
  };
}

/** A session from the built package entry, with start() counted. */
async function countedSession(name) {
  const { createSession } = await import('../../dist/index.js');
  const session = createSession({ name });
  let starts = 0;
  return {
    session: { ...session, start: () => (starts++, session.start()) },
    starts: () => starts,
    destroy: () => session.destroy(),
  };
}

test('the global traps record an access (so an empty list means something)', () => {
  const untrap = trapGlobals();
  try {
    void globalThis.window;
  } finally {
    untrap();
  }
  assert.equal(touched.splice(0).length, 1);
});

test('React: renderToString renders loading without touching browser globals or starting the session', async () => {
  const { createElement: h } = await import('react');
  const { renderToString } = await import('react-dom/server');
  const { SessionProvider, useSession, useIdleWarning, useAccessToken, useSessionClient } = await import('../../dist/react.js');
  const { session, starts, destroy } = await countedSession('ssr-react');
  function App() {
    const snapshot = useSession();
    const status = useSession((s) => s.status);
    const { warning, remainingMs } = useIdleWarning();
    useAccessToken();
    useSessionClient();
    return h('p', null, `${snapshot.status}|${status}|${warning}|${remainingMs}`);
  }
  const untrap = trapGlobals();
  let html;
  try {
    html = renderToString(h(SessionProvider, { session }, h(App)));
  } finally {
    untrap();
  }
  assert.equal(html, '<p>loading|loading|false|0</p>');
  assert.deepEqual(touched.splice(0), []);
  assert.equal(starts(), 0);
  await destroy();
});

test('React: a hook outside SessionProvider throws on the server too', async () => {
  const { createElement: h } = await import('react');
  const { renderToString } = await import('react-dom/server');
  const { useSession } = await import('../../dist/react.js');
  function Orphan() {
    useSession();
    return null;
  }
  assert.throws(() => renderToString(h(Orphan)), /SessionProvider/);
});

test('Vue: renderToString renders loading without touching browser globals or starting the session', async () => {
  const { createSSRApp, defineComponent, h } = await import('vue');
  const { renderToString } = await import('vue/server-renderer');
  const { createSessionPlugin, useSession, useIdleWarning, useSessionClient } = await import('../../dist/vue.js');
  const { session, starts, destroy } = await countedSession('ssr-vue');
  const App = defineComponent({
    setup() {
      const snapshot = useSession();
      const status = useSession((s) => s.status);
      const { warning, remainingMs } = useIdleWarning();
      useSessionClient();
      return () => h('p', `${snapshot.value.status}|${status.value}|${warning.value}|${remainingMs.value}`);
    },
  });
  const app = createSSRApp(App).use(createSessionPlugin(session));
  const untrap = trapGlobals();
  let html;
  try {
    html = await renderToString(app);
  } finally {
    untrap();
  }
  assert.equal(html, '<p>loading|loading|false|0</p>');
  assert.deepEqual(touched.splice(0), []);
  assert.equal(starts(), 0);
  await destroy();
});

test('Vue: a composable without the plugin throws on the server too', async () => {
  const { createSSRApp, defineComponent } = await import('vue');
  const { renderToString } = await import('vue/server-renderer');
  const { useSession } = await import('../../dist/vue.js');
  const app = createSSRApp(
    defineComponent({
      setup() {
        useSession();
        return () => null;
      },
    }),
  );
  app.config.warnHandler = () => {};
  await assert.rejects(renderToString(app), /createSessionPlugin/);
});
