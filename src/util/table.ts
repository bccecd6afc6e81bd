/** Formats rows as aligned text columns (cells cut to `maxWidth`, newlines flattened). */
export const formatTable = (headers: string[], rows: string[][], maxWidth = 60): string => {
  const clean = (cell: string) => {
    const flat = cell.replace(/\s*\n\s*/g, ' ')
    return flat.length > maxWidth ? flat.slice(0, maxWidth - 1) + '…' : flat
  }
  const all = [headers, ...rows.map(r => r.map(clean))]
  const widths = headers.map((_, i) => Math.max(...all.map(r => (r[i] ?? '').length)))
  return all
    .map(r =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : (cell ?? '').padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}
