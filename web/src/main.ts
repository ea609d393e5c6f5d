import { ApiError, checkKey, clearKey, getKey, setKey, whenUnauthorized } from './api.js';
import { h } from './dom.js';
import { jobView } from './job.js';
import { jobsView } from './jobs.js';
import { streamsView, streamView } from './streams.js';

/** The viewer: sign in, jobs (upload, live progress), a job's video with its boxes, live streams. Hash routes. */
const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
let current: AbortController | undefined;

document.getElementById('sign-out')!.addEventListener('click', () => {
  clearKey();
  location.hash = '#/';
  route();
});
whenUnauthorized(() => {
  clearKey();
  route('Your API key was not accepted; sign in again.');
});
window.addEventListener('hashchange', () => route());
route();

function route(notice?: string): void {
  current?.abort();
  current = new AbortController();
  const { signal } = current;
  main.replaceChildren();
  const signedIn = getKey() !== null;
  nav.hidden = !signedIn;
  if (!signedIn) return signIn(notice);
  const path = location.hash.replace(/^#/, '') || '/';
  for (const a of nav.querySelectorAll('a')) {
    const href = a.getAttribute('href') ?? '';
    const active = href === '#/' ? path === '/' || path.startsWith('/jobs') : href.startsWith('#') && path.startsWith(href.slice(1));
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  let match: RegExpExecArray | null;
  const done = (promise: Promise<void>) => promise.catch((error: unknown) => {
    if (signal.aborted) return;
    main.append(h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error)));
  });
  if ((match = /^\/jobs\/([^/]+)$/.exec(path))) void done(jobView(main, decodeURIComponent(match[1]!), signal));
  else if ((match = /^\/streams\/([^/]+)$/.exec(path))) void done(streamView(main, decodeURIComponent(match[1]!), signal));
  else if (path === '/streams') void done(streamsView(main, signal));
  else void done(jobsView(main, signal));
}

function signIn(notice?: string): void {
  document.title = 'Sign in — vdet';
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', size: 40 });
  const message = h('p', { class: 'error', role: 'alert', id: 'sign-in-error' }, notice ?? '');
  const form = h('form', { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('p', {}, 'Paste an API key. It is kept in this tab only (sessionStorage) and sent as a Bearer header.'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')),
    message);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = input.value.trim();
    message.textContent = '';
    checkKey(key).then(() => {
      setKey(key);
      route();
    }, (error: unknown) => {
      message.textContent = error instanceof ApiError && error.status === 401 ? 'That key is not valid.' : `Could not sign in: ${(error as Error).message}`;
      input.focus();
    });
  });
  main.append(form);
  input.focus();
}
