import { readFileSync } from 'node:fs';
import type { EnvReader } from './env-reader.js';

export const KAFKA_PROTOCOLS = ['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const;
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** Kafka client authentication and encryption, as the broker's listener expects them. */
export interface KafkaSecurity {
  readonly protocol: (typeof KAFKA_PROTOCOLS)[number];
  /** SASL (sasl_plaintext, sasl_ssl): the mechanism and the role's credentials. */
  readonly sasl?: { readonly mechanism: (typeof KAFKA_SASL_MECHANISMS)[number]; readonly username: string; readonly password: string };
  /** TLS (ssl, sasl_ssl): a CA to trust instead of the system's, and a client certificate for mutual TLS. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

/**
 * KAFKA_SECURITY_PROTOCOL (plaintext, ssl, sasl_plaintext, sasl_ssl), KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME,
 * KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE, a mounted secret), KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE and
 * KAFKA_TLS_KEY_FILE. Files are read here, at start-up: a missing one is a configuration error, not a failed connect.
 */
export function readKafkaSecurity(r: EnvReader): KafkaSecurity {
  const protocol = r.oneOf('KAFKA_SECURITY_PROTOCOL', 'plaintext', KAFKA_PROTOCOLS);
  const file = (name: string): string | undefined => {
    const at = r.optionalString(name);
    if (at === undefined) return undefined;
    try {
      return readFileSync(at, 'utf8');
    } catch (error) {
      r.check(false, `${name}=${JSON.stringify(at)} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      return undefined;
    }
  };
  let sasl: KafkaSecurity['sasl'];
  if (protocol.startsWith('sasl_')) {
    const mechanism = r.optionalString('KAFKA_SASL_MECHANISM');
    const username = r.optionalString('KAFKA_SASL_USERNAME');
    const password = r.optionalString('KAFKA_SASL_PASSWORD') ?? file('KAFKA_SASL_PASSWORD_FILE')?.trim();
    r.check(mechanism !== undefined && (KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism),
      `KAFKA_SECURITY_PROTOCOL=${protocol} needs KAFKA_SASL_MECHANISM, one of ${KAFKA_SASL_MECHANISMS.join(', ')}`);
    r.check(username !== undefined && password !== undefined && password !== '',
      `KAFKA_SECURITY_PROTOCOL=${protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)`);
    if (mechanism && username && password) sasl = { mechanism: mechanism as (typeof KAFKA_SASL_MECHANISMS)[number], username, password };
  } else {
    for (const name of ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE']) {
      r.check(r.optionalString(name) === undefined, `${name} is set but KAFKA_SECURITY_PROTOCOL=${protocol} uses no SASL: set it to sasl_ssl (or sasl_plaintext)`);
    }
  }
  let tls: KafkaSecurity['tls'];
  if (protocol === 'ssl' || protocol === 'sasl_ssl') {
    const ca = file('KAFKA_TLS_CA_FILE');
    const cert = file('KAFKA_TLS_CERT_FILE');
    const key = file('KAFKA_TLS_KEY_FILE');
    r.check((cert === undefined) === (key === undefined), 'KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together (mutual TLS)');
    tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  } else {
    for (const name of ['KAFKA_TLS_CA_FILE', 'KAFKA_TLS_CERT_FILE', 'KAFKA_TLS_KEY_FILE']) {
      r.check(r.optionalString(name) === undefined, `${name} is set but KAFKA_SECURITY_PROTOCOL=${protocol} uses no TLS: set it to ssl or sasl_ssl`);
    }
  }
  return { protocol, ...(sasl ? { sasl } : {}), ...(tls ? { tls } : {}) };
}
