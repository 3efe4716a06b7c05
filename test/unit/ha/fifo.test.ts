// src/ha/fifo.ts LineSplitter: lines split across reads, several per read, CRLF left to the parser,
// over-long lines dropped with bounded memory, reset of an unfinished line. (The reader itself is
// tested on real FIFOs in test/integration/ha/fifo.test.ts.)
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { LineSplitter } from '../../../src/ha/fifo.js';

function splitter(max?: number) {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l), max);
  return { s, lines };
}

describe('ha fifo: line splitting', () => {
  it('one line per write', () => {
    const { s, lines } = splitter();
    s.push(Buffer.from('INSTANCE "VI_1" MASTER 100\n'));
    s.push(Buffer.from('GROUP "G1" BACKUP 0\n'));
    assert.deepEqual(lines, ['INSTANCE "VI_1" MASTER 100', 'GROUP "G1" BACKUP 0']);
    assert.equal(s.pendingBytes, 0);
  });

  it('several lines in one read and a line across reads', () => {
    const { s, lines } = splitter();
    s.push(Buffer.from('A 1\nB 2\nC'));
    assert.deepEqual(lines, ['A 1', 'B 2']);
    assert.equal(s.pendingBytes, 1);
    s.push(Buffer.from(' 3'));
    s.push(Buffer.from('\n\nD 4\n'));
    assert.deepEqual(lines, ['A 1', 'B 2', 'C 3', '', 'D 4']);
  });

  it('keeps a CR for the parser and decodes UTF-8 split across reads', () => {
    const { s, lines } = splitter();
    const b = Buffer.from('GROUP "é" MASTER 0\r\n');
    s.push(b.subarray(0, 8));
    s.push(b.subarray(8));
    assert.deepEqual(lines, ['GROUP "é" MASTER 0\r']);
  });

  it('drops over-long lines without buffering them, and recovers at the next newline', () => {
    const { s, lines } = splitter(16);
    s.push(Buffer.from('0123456789'));
    s.push(Buffer.from('0123456789')); // over 16 without a newline: dropped from here
    assert.equal(s.pendingBytes, 0);
    s.push(Buffer.from('more junk\nOK 1\n'));
    s.push(Buffer.from('x'.repeat(40) + '\nOK 2\n'));
    assert.deepEqual(lines, ['OK 1', 'OK 2']);
    assert.equal(s.overlong, 2);
  });

  it('reset drops an unfinished line and says how long it was', () => {
    const { s, lines } = splitter();
    s.push(Buffer.from('INSTANCE "VI'));
    assert.equal(s.reset(), 12);
    s.push(Buffer.from('_1" MASTER 100\nGROUP "G1" MASTER 0\n'));
    assert.deepEqual(lines, ['_1" MASTER 100', 'GROUP "G1" MASTER 0']);
    assert.equal(s.reset(), 0);
  });

  it('property: any chunking of a stream gives the same lines', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[A-Z_ "0-9]{0,30}$/), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 50 }),
        (input, cuts) => {
          const data = Buffer.from(input.map((l) => `${l}\n`).join(''));
          const { s, lines } = splitter();
          let at = 0;
          for (let i = 0; at < data.length; i++) {
            const n = cuts[i % cuts.length]!;
            s.push(data.subarray(at, at + n));
            at += n;
          }
          assert.deepEqual(lines, input);
        },
      ),
    );
  });
});
