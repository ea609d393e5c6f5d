import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PUBLIC_ONLY, addressClass, addressProblem, buildAddressPolicy, parseAllowEntry, urlProblem } from '../../src/platform/address-policy.js';

test('every non-public address class is named; public unicast addresses are not', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['10.1.2.3', 'private'], ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'], ['192.168.0.1', 'private'], ['169.254.169.254', 'linkLocal'], ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'], ['0.0.0.0', 'unspecified'], ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'], ['::1', 'loopback'], ['::', 'unspecified'], ['fe80::1', 'linkLocal'], ['fd00::1', 'uniqueLocal'],
    ['fc00::1', 'uniqueLocal'], ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:a9fe:a9fe', 'linkLocal'], ['::ffff:10.0.0.1', 'private'], ['::127.0.0.1', 'loopback'],
    ['::7f00:1', 'ipv4Compatible'], ['::a9fe:a9fe', 'ipv4Compatible'],
    ['64:ff9b::7f00:1', 'rfc6052'], ['2002:7f00:1::', '6to4'], ['[::1]', 'loopback'], ['fe80::1%eth0', 'linkLocal'],
    ['not-an-address', 'notAnAddress'], ['::ffff:8.8.8.8', 'ipv4Mapped'],
  ];
  for (const [address, kind] of cases) assert.equal(addressClass(address), kind, address);
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', '2a00:1450:4001:80b::200e']) {
    assert.equal(addressClass(address), undefined, address);
  }
});

test('callback URLs: literals of every refused form and localhost names are refused as written', () => {
  const refused = [
    'http://127.0.0.1:9/x', 'http://127.1/', 'http://2130706433/', 'http://0x7f.0.0.1/', 'http://0/', 'http://10.1.2.3/',
    'http://192.168.0.1/', 'http://172.20.0.1/', 'http://169.254.169.254/latest', 'http://100.64.1.1/', 'http://0.0.0.0/',
    'http://224.0.0.1/', 'http://[::1]/', 'http://[::]/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:a9fe:a9fe]/',
    'http://[::127.0.0.1]/', 'http://[fd12:3456::1]/', 'http://[fc00::1]/', 'http://[fe80::1]/', 'http://[ff02::1]/',
    'http://localhost/x', 'http://localhost./x', 'http://LOCALHOST/', 'http://api.localhost/', 'http://api.localhost./',
  ];
  for (const url of refused) assert.match(urlProblem(url, PUBLIC_ONLY) ?? '', /non-public/, url);
  assert.match(urlProblem('ftp://example.com', PUBLIC_ONLY) ?? '', /http/);
  assert.match(urlProblem('https://user:pw@example.com', PUBLIC_ONLY) ?? '', /credentials/);
  assert.match(urlProblem('not a url', PUBLIC_ONLY) ?? '', /absolute/);
});

test('public names are not refused for how they start: fd…/fc… host names are names, not fc00::/7', () => {
  for (const url of ['https://hooks.example.com/vdet', 'https://fdic.gov/hook', 'https://fc-barcelona.example/hook', 'https://fe80.example.org/',
    'https://[2001:4860:4860::8888]/', 'http://8.8.8.8/', 'https://localhost.example.com/']) {
    assert.equal(urlProblem(url, PUBLIC_ONLY), undefined, url);
  }
});

test('resolved addresses: refused unless public, allowed by CIDR, by host name, or by VDET_WEBHOOK_ALLOW_PRIVATE', () => {
  assert.match(addressProblem('127.0.0.1', PUBLIC_ONLY, 'rebind.example') ?? '', /loopback address \(127\.0\.0\.1\)/);
  assert.match(addressProblem('::ffff:169.254.169.254', PUBLIC_ONLY) ?? '', /linkLocal/);
  assert.equal(addressProblem('8.8.8.8', PUBLIC_ONLY, 'dns.google'), undefined);

  const { policy, invalid } = buildAddressPolicy(false, ['10.20.0.0/16', 'Hooks.Internal.', '127.0.0.1', '[fd00::5]', 'not a host!', '10.0.0.0/99']);
  assert.deepEqual(invalid, ['not a host!', '10.0.0.0/99']);
  assert.equal(addressProblem('10.20.3.4', policy), undefined, 'in an allowed CIDR');
  assert.equal(addressProblem('::ffff:10.20.3.4', policy), undefined, 'its IPv4-mapped form too');
  assert.match(addressProblem('10.21.0.1', policy) ?? '', /private/, 'outside it');
  assert.equal(addressProblem('127.0.0.1', policy), undefined, 'a plain address is a /32');
  assert.match(addressProblem('127.0.0.2', policy) ?? '', /loopback/);
  assert.equal(addressProblem('fd00::5', policy), undefined);
  assert.equal(addressProblem('192.168.1.1', policy, 'hooks.internal.'), undefined, 'an allowed name, whatever it resolves to');
  assert.equal(urlProblem('http://hooks.internal/x', policy), undefined);
  assert.equal(urlProblem('http://10.20.0.9/x', policy), undefined);
  assert.match(urlProblem('http://10.30.0.9/x', policy) ?? '', /non-public/);

  const open = buildAddressPolicy(true, []).policy;
  assert.equal(addressProblem('127.0.0.1', open), undefined);
  assert.equal(urlProblem('http://localhost:8080/x', open), undefined);
});

test('allow-list entries: CIDRs, addresses and host names; anything else is not an entry', () => {
  assert.ok(parseAllowEntry('10.0.0.0/8') && 'range' in parseAllowEntry('10.0.0.0/8')!);
  assert.deepEqual(parseAllowEntry('Hooks.Example.COM.'), { host: 'hooks.example.com' });
  for (const bad of ['', 'a b', 'http://x', '1.2.3.4/33', 'x/y', '-bad.example']) assert.equal(parseAllowEntry(bad), undefined, bad);
});
