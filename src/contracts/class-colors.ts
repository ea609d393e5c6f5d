/**
 * The colour of each class, by the model's class id: 20 colours that tell apart on video, so neighbouring classes
 * (dog, horse, sheep, cow) differ, each with the text colour (black or white) that reads best on it. One palette for
 * everything vdet draws — the annotated video (media/annotate.ts) and the viewer (web/src/dom.ts) — so a class has one
 * colour wherever it is seen.
 */
const FILLS = [
  '#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45', '#fabed4',
  '#469990', '#dcbeff', '#9a6324', '#fffac8', '#800000', '#aaffc3', '#808000', '#ffd8b1', '#000075', '#a9a9a9',
] as const;

export interface ClassColor {
  readonly fill: string;
  readonly text: '#000' | '#fff';
}

/** WCAG relative luminance of a #rrggbb colour. */
export function relativeLuminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** WCAG contrast ratio between two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

export const CLASS_COLORS: readonly ClassColor[] = FILLS.map((fill) => ({
  fill,
  text: contrastRatio(fill, '#000000') >= contrastRatio(fill, '#ffffff') ? '#000' : '#fff',
}));

/** The colours of class `classId` (any integer: the palette repeats). */
export function classColorOf(classId: number): ClassColor {
  const n = CLASS_COLORS.length;
  return CLASS_COLORS[((classId % n) + n) % n]!;
}
