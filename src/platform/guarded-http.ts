import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressProblem, urlProblem, type AddressPolicy } from './address-policy.js';

/** Resolves a host name to every address it has (node's dns.lookup with `all: true`, or a fake in tests). */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host) => new Promise((resolve, reject) => {
  dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
});

/** A request vdet refused to make: the URL or what its name resolves to is not allowed by the address policy. */
export class AddressRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressRefused';
  }
}

/**
 * A socket lookup that resolves the name once, checks every address it gets against the policy, and hands the
 * socket exactly those addresses: what is checked is what is connected to, so a second answer of the DNS (rebinding)
 * cannot switch the connection to another address.
 */
export function guardedLookup(policy: AddressPolicy, resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then((addresses) => {
      const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
      if (wanted.length === 0) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
      for (const { address } of wanted) {
        const problem = addressProblem(address, policy, hostname);
        if (problem) throw new AddressRefused(`${hostname} ${problem}`);
      }
      if (options.all) callback(null, wanted);
      else callback(null, wanted[0]!.address, wanted[0]!.family);
    }).catch((error: NodeJS.ErrnoException) => callback(error, '', 0));
  };
}

/** The URL, once its scheme, credentials and (for a literal address) address pass the policy; AddressRefused if not. */
function checkedUrl(url: string, policy: AddressPolicy): URL {
  const problem = urlProblem(url, policy);
  if (problem) throw new AddressRefused(`The URL ${problem}.`);
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const literal = addressProblem(host, policy);
    if (literal) throw new AddressRefused(`${host} ${literal}`);
  }
  return target;
}

/** A GET that did not get going: too many redirects, no answer in time, or the connection failed. */
export class FetchFailed extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FetchFailed';
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * GETs `url` through {@link guardedLookup}, following up to `maxRedirects` redirects, each target checked again
 * (a public URL that redirects to a private one is refused). Resolves with the response once its headers arrive,
 * within `answerTimeoutMs` of each request; the caller reads (and bounds) the body. Rejects with AddressRefused or
 * FetchFailed.
 */
export async function guardedGet(
  url: string, options: { policy: AddressPolicy; resolve?: Resolver; answerTimeoutMs: number; maxRedirects?: number; signal?: AbortSignal },
): Promise<{ response: http.IncomingMessage; url: string }> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const target = checkedUrl(current, options.policy);
    const response = await getOnce(target, options);
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode ?? 0) || !location) return { response, url: current };
    response.resume();
    if (hop >= (options.maxRedirects ?? 5)) throw new FetchFailed(`The URL redirected more than ${options.maxRedirects ?? 5} times.`);
    current = new URL(location, target).toString();
  }
}

function getOnce(target: URL, options: { policy: AddressPolicy; resolve?: Resolver; answerTimeoutMs: number; signal?: AbortSignal }): Promise<http.IncomingMessage> {
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(target, {
      headers: { 'user-agent': 'vdet', accept: '*/*' }, lookup: guardedLookup(options.policy, options.resolve), agent: false, signal: options.signal,
    }, (response) => {
      clearTimeout(timer);
      resolve(response);
    });
    const timer = setTimeout(() => request.destroy(new FetchFailed(`${target.host} did not answer within ${options.answerTimeoutMs / 1000} s.`)), options.answerTimeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error instanceof AddressRefused || error instanceof FetchFailed ? error : new FetchFailed(`${target.host}: ${(error as NodeJS.ErrnoException).code ?? error.message}.`, { cause: error }));
    });
  });
}

/**
 * POSTs `body` to `url` once (no redirects followed) through {@link guardedLookup}; a literal address in the URL is
 * checked before connecting (a socket does no lookup for one). Resolves with the HTTP status; rejects with
 * AddressRefused, a network error or a timeout.
 */
export async function guardedPost(
  url: string, body: string, headers: Record<string, string>,
  options: { policy: AddressPolicy; resolve?: Resolver; timeoutMs: number },
): Promise<number> {
  const target = checkedUrl(url, options.policy);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => request.destroy(new Error(`no answer in ${options.timeoutMs} ms`)), options.timeoutMs);
    const settle = <T>(finish: (value: T) => void) => (value: T) => {
      clearTimeout(timer);
      finish(value);
    };
    const request = client.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: guardedLookup(options.policy, options.resolve),
      agent: false,
    }, (response) => {
      response.resume(); // the body is not read, only the status
      response.on('end', () => settle(resolve)(response.statusCode ?? 0));
      response.on('error', settle(reject));
    });
    request.on('error', settle(reject));
    request.end(body);
  });
}
