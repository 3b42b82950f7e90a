// LEAK-CHECK (requirements §0): collect console output, SDK event payloads, errors (message, stack,
// cause), messages posted on BroadcastChannels, localStorage, sessionStorage, cookies, the URL and every
// IndexedDB record, then assert that none contains any 12-char substring of any token issued in the test.

/** Installed in every page before any script: records what is posted on any BroadcastChannel. */
export const channelRecorderScript = `(() => {
  window.__channelLog = [];
  const BC = window.BroadcastChannel;
  if (!BC) return;
  const post = BC.prototype.postMessage;
  BC.prototype.postMessage = function (message) {
    try { window.__channelLog.push({ channel: this.name, message: JSON.stringify(message) }); }
    catch (e) { window.__channelLog.push({ channel: this.name, message: String(message) }); }
    return post.call(this, message);
  };
})();`;

/** Starts collecting console messages and page errors of `page` into `sink`. */
export function recordPage(page, sink) {
  page.on('console', (msg) => {
    sink.push({ where: `console.${msg.type()} ${page.url()}`, text: msg.text() });
  });
  page.on('pageerror', (err) => {
    sink.push({ where: `pageerror ${page.url()}`, text: `${err.name}: ${err.message}\n${err.stack ?? ''}` });
  });
}

/** Everything a page exposes, as text. Runs in the page. */
async function dumpPage() {
  const out = [];
  const push = (where, value) => {
    try {
      out.push({ where, text: typeof value === 'string' ? value : JSON.stringify(value) });
    } catch {
      out.push({ where, text: String(value) });
    }
  };
  push('location.href', location.href);
  push('document.cookie', document.cookie);
  for (const [name, store] of [['localStorage', localStorage], ['sessionStorage', sessionStorage]]) {
    for (let i = 0; i < store.length; i++) {
      const key = store.key(i);
      push(`${name}[${key}]`, `${key}=${store.getItem(key)}`);
    }
  }
  push('window.log', window.log ?? []);
  push('window.fixtureErrors', window.fixtureErrors ?? []);
  push('BroadcastChannel messages', window.__channelLog ?? []);
  if (window.indexedDB && indexedDB.databases) {
    const bytes = (v) => {
      const u8 = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      let s = '';
      for (const b of u8) s += String.fromCharCode(b);
      return s;
    };
    const flatten = (v, depth = 0) => {
      if (depth > 6) return '';
      if (v == null) return '';
      if (typeof v === 'string') return v;
      if (typeof v !== 'object') return String(v);
      if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return bytes(v);
      if (typeof CryptoKey !== 'undefined' && v instanceof CryptoKey) return `[CryptoKey ${v.type} extractable=${v.extractable}]`;
      if (v instanceof Blob) return `[Blob ${v.size}]`;
      if (Array.isArray(v)) return v.map((x) => flatten(x, depth + 1)).join(' ');
      return Object.entries(v).map(([k, x]) => `${k}:${flatten(x, depth + 1)}`).join(' ');
    };
    for (const info of await indexedDB.databases()) {
      const db = await new Promise((resolve) => {
        const req = indexedDB.open(info.name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => resolve(null);
        req.onblocked = () => resolve(null);
        req.onupgradeneeded = () => {}; // the database exists (databases() listed it): no upgrade expected
      });
      if (!db) continue;
      try {
        for (const storeName of db.objectStoreNames) {
          const tx = db.transaction(storeName, 'readonly');
          const [keys, values] = await Promise.all([
            new Promise((r) => { const q = tx.objectStore(storeName).getAllKeys(); q.onsuccess = () => r(q.result); q.onerror = () => r([]); }),
            new Promise((r) => { const q = tx.objectStore(storeName).getAll(); q.onsuccess = () => r(q.result); q.onerror = () => r([]); }),
          ]);
          keys.forEach((k, i) => push(`indexedDB ${info.name}/${storeName}[${flatten(k)}]`, `${flatten(k)} ${flatten(values[i])}`));
        }
      } finally {
        db.close();
      }
    }
  }
  return out;
}

/**
 * Runs the leak check over `pages` (open ones), `context` cookies and `sink` (console + page errors
 * recorded since the pages opened). Returns the findings; empty means clean.
 * @param {{ pages: import('playwright-core').Page[], context?: import('playwright-core').BrowserContext, sink?: Array<{where:string,text:string}>, tokens: Iterable<string>, extra?: Array<{where:string,text:string}> }} input
 */
export async function leakCheck({ pages, context, sink = [], tokens, extra = [] }) {
  const haystack = [...sink, ...extra];
  for (const page of pages) {
    if (page.isClosed()) continue;
    try {
      haystack.push(...(await page.evaluate(dumpPage)));
    } catch (e) {
      haystack.push({ where: `dump failed ${page.url()}`, text: String(e?.message ?? e) });
    }
  }
  if (context) {
    for (const c of await context.cookies()) haystack.push({ where: `cookie ${c.name}`, text: `${c.name}=${c.value}` });
  }
  const findings = [];
  const list = [...tokens].filter((t) => typeof t === 'string' && t.length >= 12);
  for (const { where, text } of haystack) {
    if (!text) continue;
    for (const token of list) {
      const hit = findPart(text, token);
      if (hit >= 0) {
        findings.push({ where, token: `${token.slice(0, 4)}…(${token.length} chars)`, context: text.slice(Math.max(0, hit - 40), hit + 52).replace(token.slice(0, 12), '<12 token chars>') });
        break;
      }
    }
  }
  return { findings, inspected: haystack.length, tokens: list.length };
}

/** Index in `text` of the first 12-char window of `token`, or -1. */
function findPart(text, token) {
  for (let i = 0; i + 12 <= token.length; i++) {
    const at = text.indexOf(token.slice(i, i + 12));
    if (at >= 0) return at;
  }
  return -1;
}
