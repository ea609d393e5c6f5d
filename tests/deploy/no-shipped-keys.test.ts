import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';

/** Every file a kustomization pulls in, through the kustomizations it includes. */
function resourcesOf(dir: string): string[] {
  const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  return (kustomization.resources ?? []).flatMap((entry) => {
    const full = path.join(dir, entry);
    return entry.endsWith('.yaml') ? [full] : resourcesOf(full);
  });
}

test('no manifest that kustomize applies carries a Secret (the operator creates vdet-secrets)', () => {
  for (const dir of ['deploy/k8s', 'deploy/k8s/gpu', 'deploy/k8s/base']) {
    for (const file of resourcesOf(dir)) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const manifest = doc.toJSON() as { kind?: string } | null;
        assert.notEqual(manifest?.kind, 'Secret', `${dir} applies a Secret from ${file}`);
        assert.doesNotMatch(readFileSync(file, 'utf8'), /VDET_BOOTSTRAP_KEY:\s*\S/, file);
      }
    }
  }
});

test('compose requires VDET_BOOTSTRAP_KEY from the environment and ships none', () => {
  const compose = parse(readFileSync('compose.yaml', 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> };
  assert.match(compose.services['api']!.environment!['VDET_BOOTSTRAP_KEY'] ?? '', /^\$\{VDET_BOOTSTRAP_KEY:\?[^}]+\}$/);
});
