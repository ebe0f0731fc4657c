// The two upload formats, byte by byte: expected bytes are written out by hand
// from the C struct layout and docs/file-transfer.md, never produced by the
// encoder under test.
import { describe, expect, it } from 'vitest';
import {
  EXTENDED_FIXED_SIZE,
  NAME_MAX,
  TEMP_PREFIX,
  TUTORIAL_HEADER_SIZE,
  TransferRefusal,
  checkSize,
  decodeExtendedFixed,
  decodeReply,
  decodeTutorialHeader,
  encodeExtendedHeader,
  encodeReply,
  encodeTutorialHeader,
  formatOfFirstByte,
  nameProblem,
  printableName,
} from '../lib/transfer/protocol.js';

const LIMIT = 2 ** 40;

function refusal(run: () => unknown): TransferRefusal {
  try {
    run();
  } catch (error) {
    if (error instanceof TransferRefusal) return error;
    throw error;
  }
  throw new Error('expected a TransferRefusal');
}

function tutorialHeader(nameBytes: number[], sizeBytesLE: number[]): Buffer {
  const header = Buffer.alloc(260);
  Buffer.from(nameBytes).copy(header, 0);
  Buffer.from(sizeBytesLE).copy(header, 256);
  return header;
}

describe('the tutorial format (struct st_fileinfo on x86-64)', () => {
  it('encodes name[256] NUL-padded then int filesize little-endian', () => {
    const header = encodeTutorialHeader('aaa.txt', 2424);
    expect(header.length).toBe(260);
    expect([...header.subarray(0, 8)]).toEqual([0x61, 0x61, 0x61, 0x2e, 0x74, 0x78, 0x74, 0x00]);
    expect(header.subarray(7, 256).every((b) => b === 0)).toBe(true);
    expect([...header.subarray(256)]).toEqual([0x78, 0x09, 0x00, 0x00]); // 2424 = 0x978
  });

  it('encodes the largest int and refuses what an int cannot hold', () => {
    expect([...encodeTutorialHeader('x', 2147483647).subarray(256)]).toEqual([0xff, 0xff, 0xff, 0x7f]);
    expect(() => encodeTutorialHeader('x', 2147483648)).toThrow(RangeError);
    expect(() => encodeTutorialHeader('x'.repeat(256), 1)).toThrow(RangeError);
    expect(() => encodeTutorialHeader('../x', 1)).toThrow(RangeError);
  });

  it('decodes a header the C client wrote, ignoring bytes after the NUL', () => {
    const header = tutorialHeader([0x64, 0x65, 0x6d, 0x6f, 0x35, 0x00, 0x41, 0x42], [0x00, 0x36, 0x00, 0x00]);
    expect(decodeTutorialHeader(header, LIMIT)).toEqual({ name: 'demo5', size: 13824 });
  });

  it('decodes a name in Chinese (UTF-8)', () => {
    const name = Buffer.from([0xe6, 0x96, 0x87, 0xe4, 0xbb, 0xb6, 0x2e, 0x74, 0x78, 0x74]); // 文件.txt
    expect(decodeTutorialHeader(tutorialHeader([...name], [1, 0, 0, 0]), LIMIT)).toEqual({ name: '文件.txt', size: 1 });
  });

  it('refuses 256 name bytes without a NUL', () => {
    const header = Buffer.alloc(260, 0x61);
    header.writeInt32LE(1, 256);
    expect(refusal(() => decodeTutorialHeader(header, LIMIT)).code).toBe('BAD_NAME');
  });

  it('refuses a negative size and a size above the limit', () => {
    expect(refusal(() => decodeTutorialHeader(tutorialHeader([0x61], [0xff, 0xff, 0xff, 0xff]), LIMIT)).code).toBe('BAD_HEADER');
    expect(refusal(() => decodeTutorialHeader(tutorialHeader([0x61], [0x00, 0x00, 0x00, 0x01]), 1000)).code).toBe('TOO_LARGE');
    expect(decodeTutorialHeader(tutorialHeader([0x61], [0xe8, 0x03, 0x00, 0x00]), 1000).size).toBe(1000);
  });

  it('refuses a header of the wrong length', () => {
    expect(refusal(() => decodeTutorialHeader(Buffer.alloc(259, 0x61), LIMIT)).code).toBe('BAD_HEADER');
  });
});

describe('the extended format', () => {
  it('encodes magic, u64 big-endian size, u16 big-endian name length, name', () => {
    expect([...encodeExtendedHeader('a', 5)]).toEqual([
      0x00, 0x73, 0x6f, 0x63, 0x6b, 0x66, 0x64, 0x01, // "\0sockfd" version 1
      0, 0, 0, 0, 0, 0, 0, 5, // size
      0, 1, // name length
      0x61,
    ]);
  });

  it('carries sizes above 4 GiB', () => {
    const header = encodeExtendedHeader('big', 5 * 2 ** 32 + 7);
    expect([...header.subarray(8, 16)]).toEqual([0, 0, 0, 5, 0, 0, 0, 7]);
    expect(decodeExtendedFixed(header.subarray(0, EXTENDED_FIXED_SIZE))).toEqual({ size: 21474836487n, nameLength: 3 });
    expect(checkSize(21474836487n, 2 ** 50)).toBe(21474836487);
  });

  it('refuses a wrong magic, an unknown version, a size above the limit, bad name lengths', () => {
    const good = [0x00, 0x73, 0x6f, 0x63, 0x6b, 0x66, 0x64, 0x01, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1];
    expect(decodeExtendedFixed(Buffer.from(good))).toEqual({ size: 5n, nameLength: 1 });
    const withByte = (index: number, value: number): Buffer => Buffer.from(good.map((b, i) => (i === index ? value : b)));
    expect(refusal(() => decodeExtendedFixed(withByte(1, 0x53))).code).toBe('BAD_HEADER');
    expect(refusal(() => decodeExtendedFixed(withByte(7, 0x02))).reason).toMatch(/version 2/);
    expect(refusal(() => checkSize(decodeExtendedFixed(withByte(8, 0xff)).size, LIMIT)).code).toBe('TOO_LARGE'); // 0xff00000000000005
    expect(refusal(() => decodeExtendedFixed(withByte(17, 0))).code).toBe('BAD_NAME');
    expect(refusal(() => decodeExtendedFixed(Buffer.from([...good.slice(0, 16), 0x01, 0x00]))).code).toBe('BAD_NAME'); // 256
  });

  it('cannot be confused with a tutorial header: only a NUL first byte selects it', () => {
    expect(formatOfFirstByte(0x00)).toBe('extended');
    for (const name of ['a', '文件', '.hidden', 'x'.repeat(255)]) {
      const header = encodeTutorialHeader(name, 1);
      expect(formatOfFirstByte(header[0]!)).toBe('tutorial');
    }
    // The only tutorial header that starts with NUL has an empty name, which is never valid.
    expect(refusal(() => decodeTutorialHeader(Buffer.alloc(TUTORIAL_HEADER_SIZE), LIMIT)).code).toBe('BAD_NAME');
  });
});

describe('file names', () => {
  const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

  it('accepts a single plain component', () => {
    for (const name of ['a', 'a.txt', '.hidden', '..x', 'x..', '文件.txt', 'a b', 'x'.repeat(NAME_MAX)]) expect(nameProblem(bytes(name))).toBeNull();
  });

  it('refuses paths, dot names, empty names, NUL, control characters, long and non-UTF-8 names', () => {
    const cases: [Buffer, RegExp][] = [
      [bytes('../x'), /\//],
      [bytes('/etc/x'), /\//],
      [bytes('a/b'), /\//],
      [bytes('.'), /not a file name/],
      [bytes('..'), /not a file name/],
      [bytes(''), /empty/],
      [Buffer.from([0x61, 0x00, 0x62]), /NUL/],
      [Buffer.from([0x61, 0x0a]), /U\+000A/],
      [Buffer.from([0x61, 0x7f]), /U\+007F/],
      [bytes('a\u0085'), /U\+0085/],
      [Buffer.alloc(256, 0x61), /256 bytes/],
      [Buffer.from([0x61, 0xff]), /UTF-8/],
      [bytes(`${TEMP_PREFIX}1-2.part`), /reserved/],
    ];
    for (const [name, reason] of cases) expect(nameProblem(name), printableName(name)).toMatch(reason);
  });

  it('refuses the characters that make a listing lie: bidirectional overrides, zero-width and invisible ones', () => {
    const cases: [string, RegExp][] = [
      ['invoice\u202Efdp.exe', /U\+202E RIGHT-TO-LEFT OVERRIDE/],
      ['a\u202Db', /U\+202D LEFT-TO-RIGHT OVERRIDE/],
      ['a\u2067b\u2069', /U\+2067 RIGHT-TO-LEFT ISOLATE/],
      ['pass\u200Bwd', /U\+200B ZERO WIDTH SPACE/],
      ['a\u200Db', /U\+200D ZERO WIDTH JOINER/],
      ['a\u2060b', /U\+2060 WORD JOINER/],
      ['a\u00ADb', /U\+00AD SOFT HYPHEN/],
      ['a\u200Fb', /U\+200F RIGHT-TO-LEFT MARK/],
      ['\uFEFFx', /U\+FEFF ZERO WIDTH NO-BREAK SPACE/],
    ];
    for (const [name, reason] of cases) expect(nameProblem(bytes(name)), printableName(bytes(name))).toMatch(reason);
  });

  it('judges a leading BOM as the character it is: "\\ufeff.." is refused for its BOM, not read as ".."', () => {
    const problem = nameProblem(bytes('\uFEFF..'));
    expect(problem).toMatch(/U\+FEFF/);
    expect(problem).not.toMatch(/'\.\.'/);
  });

  it('prints names on one line', () => {
    expect(printableName(Buffer.from([0x61, 0x0a, 0x22, 0x5c]))).toBe('"a\\x0a\\"\\\\"');
  });
});

describe('replies of the extended format', () => {
  it('encodes code, reason length, reason', () => {
    expect([...encodeReply('OK')]).toEqual([0, 0]);
    expect([...encodeReply('BAD_NAME', 'no /')]).toEqual([2, 4, 0x6e, 0x6f, 0x20, 0x2f]);
  });

  it('cuts a long reason on a UTF-8 character boundary', () => {
    const reply = encodeReply('STORAGE_ERROR', '文'.repeat(100)); // 300 bytes
    expect(reply[1]).toBe(255);
    expect(reply.length).toBe(257);
    expect(decodeReply(reply[0]!, reply.subarray(2)).reason).toBe('文'.repeat(85));
  });

  it('names unknown codes', () => {
    expect(decodeReply(200, Buffer.from('x'))).toEqual({ code: 200, codeName: 'CODE_200', reason: 'x' });
    expect(decodeReply(5, Buffer.alloc(0)).codeName).toBe('CHECKSUM_MISMATCH');
  });
});
