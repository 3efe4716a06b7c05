// entryToJson is a hand-written JSON.stringify for Entry (the hot path of `ct list --json`): it
// must mean exactly what JSON.stringify means, for every field the model has.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { entryToJson } from '../../../src/conntrack/json.js';
import { entry } from '../../helpers/arbitraries.js';

describe('entryToJson', function () {
  it('parses to what JSON.stringify gives, for any entry', function () {
    fc.assert(
      fc.property(entry, (e) => {
        assert.deepEqual(JSON.parse(entryToJson(e)), JSON.parse(JSON.stringify(e)));
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes strings that need it', function () {
    const e = {
      family: 2,
      orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 6 },
      helper: 'a"b\\c\n',
      secctx: 'system_u:object_r',
    };
    assert.deepEqual(JSON.parse(entryToJson(e)), e);
  });
});
