// The provider's sign-in pages (oidc-provider devInteractions, used by the e2e harness and the demo): a
// login form, then a consent form. The one place the e2e suites fill them in.

/** Any password is accepted by the devInteractions login. */
export const ANY_PASSWORD = 'any password';

/**
 * On `page`, which is at (or navigating to) the provider's login form: fills in `login` and `password`,
 * submits, waits for the consent form, confirms it, and waits until the provider has redirected to
 * `returnTo` (anything Playwright's `page.waitForURL` takes: a URL, a RegExp or a predicate on URL).
 */
export async function signInAtProvider(page, { login, password = ANY_PASSWORD, returnTo, timeout = 10_000 }) {
  if (!login) throw new TypeError('signInAtProvider: login is required');
  if (!returnTo) throw new TypeError('signInAtProvider: returnTo is required');
  await page.locator('input[name="login"]').fill(login, { timeout });
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([page.waitForURL(/\/interaction\//, { timeout }), page.locator('button[type="submit"]').click()]);
  await Promise.all([page.waitForURL(returnTo, { timeout }), page.locator('button[type="submit"]').click()]);
}

/**
 * Through the harness app's sign-in page (`/signin.html`, createSignIn from the CDN bundle): opens it with
 * `params`, begins the sign-in, signs in at the provider as `login`, and resolves with the callback's
 * `window.callbackResult` once the app at `/cb` has handled the redirect.
 */
export async function signInThroughUi(h, page, params, { login, password = ANY_PASSWORD } = {}) {
  await page.goto(h.appUrl(params, '/signin.html'));
  await h.ready(page);
  await Promise.all([page.waitForURL((url) => url.href.startsWith(h.as.issuer), { timeout: 10_000 }), page.evaluate(() => window.api.begin())]);
  await signInAtProvider(page, { login, password, returnTo: `${h.app.origin}/cb` });
  return page.waitForFunction(() => window.callbackResult, null, { timeout: 10_000 }).then((r) => r.jsonValue());
}
