/** RFC 4180: CRLF between records; a field with a comma, a quote or a line break is quoted, its quotes doubled. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  return [header, ...rows].map(csvRecord).join('');
}

/** One record with its CRLF, for writers that stream a file record by record. */
export function csvRecord(row: ReadonlyArray<string | number | null>): string {
  return `${row.map(csvField).join(',')}\r\n`;
}

function csvField(value: string | number | null): string {
  const text = value === null ? '' : typeof value === 'number' ? String(value) : neutralised(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * A text starting like a formula (`=`, `+`, `-`, `@`, tab, CR) runs as one when a
 * spreadsheet opens the file, and customers choose some of these texts (order names,
 * ids): a leading `'` keeps it text (OWASP's advice on CSV injection). Numbers stay numbers.
 */
function neutralised(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}
