// The login page when auth is on: a browser opening a UI page without a session gets the
// sign-in form (401); a wrong token is refused with a message; the right token signs in (a
// cookie session) and the UI page loads with its API calls authorized; sign-out ends the
// session. Screenshots: login.png, login-failed.png, login-signed-in.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, launchBrowser, newPage, screenshot, assertNoPageErrors, stop, api } from './helpers.mjs';

let pharos, browser;

before(async () => {
  const yml = [
    'collectors: {self: {enabled: false}, host: {enabled: false}}',
    'security: {enabled: false}',
    'auth:',
    '  tokens:',
    '    - {name: grafana, token: ui-read-token, scopes: [read]}',
  ].join('\n');
  pharos = await startPharos(yml, 'pharos.yml');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  stop(pharos);
});

test('UI pages ask for a sign-in and work after it', async () => {
  // Health stays open, the API says 401.
  assert.equal((await api(pharos.url, '/-/healthy')).status, 200);
  assert.equal((await api(pharos.url, '/api/v1/labels')).status, 401);

  const page = await newPage(browser);
  const res = await page.goto(pharos.url + '/alerts', { waitUntil: 'domcontentloaded' });
  assert.equal(res.status(), 401);
  await page.waitForSelector('form#login');
  assert.match(await page.textContent('h1'), /Sign in to pharos/);
  await screenshot(page, 'login');

  await page.fill('#token', 'not-the-token');
  await page.click('button[type=submit]');
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /Wrong user, password or token/);
  await screenshot(page, 'login-failed');

  await page.fill('#token', 'ui-read-token');
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.pathname === '/alerts');
  await page.waitForSelector('#nav');
  // The page's own API calls carry the session cookie.
  const status = await page.evaluate(async () => (await fetch('/api/v1/labels')).status);
  assert.equal(status, 200);
  await screenshot(page, 'login-signed-in');
  assertNoPageErrors(page, assert);

  const out = await page.evaluate(async () => (await fetch('/logout', { method: 'POST', redirect: 'manual' })).type);
  assert.ok(out);
  const after = await page.evaluate(async () => (await fetch('/api/v1/labels')).status);
  assert.equal(after, 401);
});
