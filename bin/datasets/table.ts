/** The CLI's summary tables (import, export): the first column left-aligned, the others right-aligned. */
export function printTable(head: string[], cells: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  console.log(line(head));
  cells.forEach((c) => console.log(line(c)));
}
