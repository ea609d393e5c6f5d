/** A bench's `--name value` argument, or undefined when it is not given. */
export function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** A bench's numeric `--name N` argument, or `fallback`. */
export function numberArgument(name: string, fallback: number): number {
  return Number(argument(name) ?? fallback);
}
