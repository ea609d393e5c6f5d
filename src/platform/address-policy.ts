import ipaddr from 'ipaddr.js';

/**
 * Which network addresses vdet may call on a tenant's behalf (job callbacks now, videos fetched by URL later): only
 * public unicast ones, unless the operator allows more. Pure: the caller resolves names and asks about each address.
 * Address classes come from ipaddr.js, so every spelling of an address (`[::ffff:127.0.0.1]`, `0x7f.1`, …) is
 * judged by what it is, not by how it is written.
 */
export interface AddressPolicy {
  /** VDET_WEBHOOK_ALLOW_PRIVATE: every address is allowed (tests, single-network installs). */
  readonly allowPrivate: boolean;
  /** Host names (lower case, no trailing dot) allowed whatever they resolve to. */
  readonly hosts: ReadonlySet<string>;
  /** Address ranges allowed although not public (VDET_WEBHOOK_ALLOW_HOSTS CIDRs; a plain address is a /32 or /128). */
  readonly ranges: readonly (readonly [ipaddr.IPv4 | ipaddr.IPv6, number])[];
}

export const PUBLIC_ONLY: AddressPolicy = Object.freeze({ allowPrivate: false, hosts: new Set<string>(), ranges: [] });

/** A host name as a resolver sees it: lower case, without the root's trailing dot (`localhost.` is `localhost`). */
export function normalHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').replace(/\.+$/, '').toLowerCase();
}

/** One VDET_WEBHOOK_ALLOW_HOSTS entry: a CIDR, an address or a host name; undefined when it is none of these. */
export function parseAllowEntry(entry: string): { range: readonly [ipaddr.IPv4 | ipaddr.IPv6, number] } | { host: string } | undefined {
  const text = entry.trim();
  if (text.includes('/')) {
    try {
      return { range: ipaddr.parseCIDR(text) };
    } catch {
      return undefined;
    }
  }
  const bare = text.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(bare)) {
    const address = ipaddr.parse(bare);
    return { range: [address, address.kind() === 'ipv4' ? 32 : 128] };
  }
  const host = normalHost(text);
  return /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(host) ? { host } : undefined;
}

/** The policy of VDET_WEBHOOK_ALLOW_PRIVATE and the entries of VDET_WEBHOOK_ALLOW_HOSTS; bad entries are named. */
export function buildAddressPolicy(allowPrivate: boolean, entries: readonly string[]): { policy: AddressPolicy; invalid: string[] } {
  const hosts = new Set<string>();
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  const invalid: string[] = [];
  for (const entry of entries) {
    const parsed = parseAllowEntry(entry);
    if (!parsed) invalid.push(entry);
    else if ('host' in parsed) hosts.add(parsed.host);
    else ranges.push([parsed.range[0], parsed.range[1]]);
  }
  return { policy: Object.freeze({ allowPrivate, hosts, ranges }), invalid };
}

/**
 * What an address is when it is not a public unicast one (`loopback`, `private`, `linkLocal`, `carrierGradeNat`,
 * `uniqueLocal`, `multicast`, `unspecified`, `ipv4Compatible`, …); undefined for a public address. An IPv4-mapped
 * IPv6 address is named for its IPv4 address (`::ffff:127.0.0.1` is `loopback`), and refused as `ipv4Mapped` even
 * when that is public; an IPv4-compatible one (`::a.b.c.d`, deprecated) is refused too. NAT64, 6to4 and Teredo
 * addresses embed an IPv4 address vdet does not look through: refused as well.
 */
export function addressClass(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return 'notAnAddress';
  const parsed = ipaddr.parse(bare);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return addressClass(v6.toIPv4Address().toString()) ?? 'ipv4Mapped';
    const range = v6.range();
    if (range !== 'unicast') return range; // `::` and `::1` are named for what they are
    return v6.parts.slice(0, 6).every((p) => p === 0) ? 'ipv4Compatible' : undefined; // ::/96, deprecated
  }
  const range = parsed.range();
  return range === 'unicast' ? undefined : range;
}

/** Whether the operator allowed this address (a range of VDET_WEBHOOK_ALLOW_HOSTS) or every address. */
function rangeAllowed(address: string, policy: AddressPolicy): boolean {
  if (policy.allowPrivate) return true;
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return false;
  let parsed = ipaddr.parse(bare);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return policy.ranges.some(([base, bits]) => base.kind() === parsed.kind() && parsed.match(base, bits));
}

/** Why vdet may not connect to this (resolved) address of `host`; undefined when it may. */
export function addressProblem(address: string, policy: AddressPolicy, host?: string): string | undefined {
  if (host !== undefined && policy.hosts.has(normalHost(host))) return undefined;
  const kind = addressClass(address);
  if (kind === undefined || rangeAllowed(address, policy)) return undefined;
  return `resolves to a ${kind} address (${address}), which vdet does not call`;
}

const LOCAL_NAMES = /(^|\.)(localhost|localdomain)$/;

/**
 * Why vdet may not call `url` as it is written (scheme, credentials, a literal loopback/private address, a
 * localhost name); undefined when it may, subject to what its name resolves to when it is called.
 */
export function urlProblem(url: string, policy: AddressPolicy): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an http or https URL';
  if (parsed.username || parsed.password) return 'must not carry credentials';
  const host = normalHost(parsed.hostname);
  if (host === '') return 'must name a host';
  if (policy.allowPrivate || policy.hosts.has(host)) return undefined;
  if (ipaddr.isValid(host)) {
    return addressProblem(host, policy) ? 'must not point at a loopback, private or otherwise non-public address' : undefined;
  }
  if (LOCAL_NAMES.test(host)) return 'must not point at a loopback, private or otherwise non-public address';
  return undefined;
}
