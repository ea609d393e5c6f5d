/**
 * A metric from a /metrics page (Prometheus text): the sum of its samples, over every label set or over those whose
 * labels include `labels` (e.g. `source="job"`).
 */
export function metricSum(text: string, name: string, labels = ''): number {
  return text.split('\n').filter((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}
