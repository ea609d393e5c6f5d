import type { Detection } from './api.js';
import { colorOf, h } from './dom.js';

/** The viewer's filters: a minimum score and the labels shown; `onChange` runs after each change. */
export interface JobFilters {
  keep(d: Detection): boolean;
  isHidden(label: string): boolean;
  minScore(): number;
  /** The filters' card. */
  element: HTMLElement;
}

export function jobFilters(labels: readonly string[], onChange: () => void): JobFilters {
  const hidden = new Set<string>();
  let minScore = 0;
  const scoreInput = h('input', { id: 'min-score', type: 'range', min: '0', max: '1', step: '0.05', value: '0' });
  const scoreOut = h('output', { for: 'min-score', id: 'min-score-value' }, '0.00');
  scoreInput.addEventListener('input', () => {
    minScore = Number(scoreInput.value);
    scoreOut.textContent = minScore.toFixed(2);
    onChange();
  });
  const show = (label: string, on: boolean) => {
    if (on) hidden.delete(label);
    else hidden.add(label);
  };
  const labelBoxes = h('div', { class: 'label-filters', role: 'group', 'aria-label': 'Labels shown' },
    ...labels.map((label) => {
      const box = h('input', { type: 'checkbox', id: `show-${label}`, checked: true, 'data-label': label });
      box.addEventListener('change', () => {
        show(label, box.checked);
        onChange();
      });
      return h('label', { class: 'chip', for: `show-${label}` }, box, h('span', { class: 'swatch', style: `background:${colorOf(label)}` }), label);
    }));
  const setAll = (on: boolean) => {
    for (const input of labelBoxes.querySelectorAll<HTMLInputElement>('input[type=checkbox]')) {
      input.checked = on;
      show(input.dataset['label']!, on);
    }
    onChange();
  };
  const allOn = h('button', { type: 'button', class: 'secondary small', onclick: () => setAll(true) }, 'All');
  const allOff = h('button', { type: 'button', class: 'secondary small', onclick: () => setAll(false) }, 'None');
  const element = h('aside', { class: 'card filters', 'aria-labelledby': 'filters-title' },
    h('h2', { id: 'filters-title' }, 'Filters'),
    h('div', { class: 'field' }, h('label', { for: 'min-score' }, 'Min score '), scoreInput, ' ', scoreOut),
    h('div', { class: 'section-head' }, h('span', {}, 'Labels'), h('span', {}, allOn, ' ', allOff)),
    labelBoxes);
  return {
    keep: (d) => !hidden.has(d.label) && d.score >= minScore,
    isHidden: (label) => hidden.has(label),
    minScore: () => minScore,
    element,
  };
}
