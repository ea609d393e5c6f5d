import ipaddr from 'ipaddr.js';
import { addressProblem, type AddressPolicy } from '../platform/address-policy.js';
import { cameraUrlProblem } from './camera.js';
import type { Resolver } from '../platform/guarded-http.js';

/**
 * Where a camera URL may be pulled from now: its scheme and host checked, its name resolved and every address it has
 * checked (the api when a source is set, the processor at every connection); `refused` says why not. Throws when
 * the name does not resolve.
 */
export async function cameraAddress(url: string, policy: AddressPolicy, resolve: Resolver): Promise<{ address: string } | { refused: string }> {
  const problem = cameraUrlProblem(url, policy);
  if (problem) return { refused: `The camera URL ${problem}.` };
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) return { address: host };
  const addresses = await resolve(host);
  if (addresses.length === 0) throw new Error(`${host} has no address`);
  for (const { address } of addresses) {
    const refused = addressProblem(address, policy, host);
    if (refused) return { refused: `The camera URL's host ${host} ${refused}.` };
  }
  return { address: addresses[0]!.address };
}
