import { describe, expect, it } from 'vitest';
import { toCsv } from '../../src/csv.ts';

describe('CSV (RFC 4180)', () => {
  it('writes a header and records separated by CRLF', () => {
    expect(toCsv(['a', 'b'], [['x', 1], ['y', null]])).toBe('a,b\r\nx,1\r\ny,\r\n');
  });

  it('quotes fields with commas, quotes and line breaks, doubling the quotes', () => {
    expect(toCsv(['f'], [['a,b'], ['say "hi"'], ['two\nlines'], ['cr\r']])).toBe('f\r\n"a,b"\r\n"say ""hi"""\r\n"two\nlines"\r\n"cr\r"\r\n');
  });

  it('keeps texts that look like formulas as text, and negative numbers as numbers', () => {
    expect(toCsv(['f'], [['=HYPERLINK("x")'], ['+1'], ['-2'], ['@SUM(A1)'], ['\tx'], [-3], ['a=b']])).toBe(
      'f\r\n"\'=HYPERLINK(""x"")"\r\n\'+1\r\n\'-2\r\n\'@SUM(A1)\r\n\'\tx\r\n-3\r\na=b\r\n',
    );
  });
});
