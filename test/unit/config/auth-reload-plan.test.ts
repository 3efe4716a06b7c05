// What a reload does with the authentication settings (src/config/auth-reload-plan.ts): each
// change named, make-before-break enforced, Encrypt refused, nothing half-applied.
import { strict as assert } from 'node:assert';
import { planAuthReload, describeAuth, type AuthState } from '../../../src/config/auth-reload-plan.js';
import type { AuthConfig, AuthMode } from '../../../src/config/auth-section.js';

const K1 = Buffer.alloc(32, 1);
const K2 = Buffer.alloc(32, 2);
const K3 = Buffer.alloc(32, 3);
const bytes: Record<number, Buffer> = { 1: K1, 2: K2, 3: K3 };

function state(mode: AuthMode, ids: number[], activeKey: number, over: Record<number, Buffer> = {}): AuthState {
  const auth: AuthConfig = {
    mode,
    keys: ids.map((id) => ({ id, file: `/etc/ctsync/sync-${id}.key` })),
    activeKey,
    encrypt: false,
  };
  return { auth, keys: new Map(ids.map((id) => [id, over[id] ?? bytes[id]!])) };
}
const OFF: AuthState = { auth: undefined, keys: new Map() };

describe('planAuthReload', () => {
  it('nothing changed: unchanged (off and off too)', () => {
    assert.deepEqual(planAuthReload(state('enforce', [1], 1), state('enforce', [1], 1)), { kind: 'unchanged' });
    assert.deepEqual(planAuthReload(OFF, OFF), { kind: 'unchanged' });
  });

  it('the steps of a key rotation are each applied and named', () => {
    const steps: Array<[AuthState, AuthState, string[]]> = [
      [state('enforce', [1], 1), state('enforce', [1, 2], 1), ['key 2 added']],
      [state('enforce', [1, 2], 1), state('enforce', [1, 2], 2), ['active key 1 -> 2']],
      [state('enforce', [1, 2], 2), state('enforce', [2], 2), ['key 1 removed']],
    ];
    for (const [running, next, changes] of steps) {
      const plan = planAuthReload(running, next);
      assert.deepEqual(plan, { kind: 'apply', next, changes });
    }
  });

  it('the rollout: off -> receive-only -> permissive -> enforce, and back off', () => {
    const ro = state('receive-only', [1], 1);
    assert.deepEqual(planAuthReload(OFF, ro), {
      kind: 'apply',
      next: ro,
      changes: ['on (receive-only, keys 1, active key 1)'],
    });
    const pm = state('permissive', [1], 1);
    assert.deepEqual(planAuthReload(ro, pm), { kind: 'apply', next: pm, changes: ['mode receive-only -> permissive'] });
    const en = state('enforce', [1], 1);
    assert.deepEqual(planAuthReload(pm, en), { kind: 'apply', next: en, changes: ['mode permissive -> enforce'] });
    assert.deepEqual(planAuthReload(en, OFF), {
      kind: 'apply',
      next: OFF,
      changes: ['off (nothing signed or checked from now on)'],
    });
  });

  it('several changes at once are named together', () => {
    const plan = planAuthReload(state('permissive', [1, 2], 1), state('enforce', [1, 3], 3, { 1: K1 }));
    assert.equal(plan.kind, 'apply');
    assert.deepEqual(plan.kind === 'apply' && plan.changes, [
      'mode permissive -> enforce',
      'key 3 added',
      'key 2 removed',
      'active key 1 -> 3',
    ]);
  });

  it('another key file with other bytes under an inactive id is applied as replaced', () => {
    const plan = planAuthReload(state('enforce', [1, 2], 1), state('enforce', [1, 2], 1, { 2: K3 }));
    assert.deepEqual(plan.kind === 'apply' && plan.changes, ['key 2 replaced (other bytes)']);
  });

  it('refuses to remove the key this node signs with, even with a new ActiveKey in the same reload', () => {
    for (const next of [state('enforce', [2], 2), state('permissive', [2, 3], 3)]) {
      const plan = planAuthReload(state('enforce', [1, 2], 1), next);
      assert.equal(plan.kind, 'refused');
      assert.match(plan.kind === 'refused' ? plan.why : '', /removes key 1, which this node signs with now/);
    }
  });

  it('refuses other bytes for the active key', () => {
    const plan = planAuthReload(state('enforce', [1], 1), state('enforce', [1], 1, { 1: K2 }));
    assert.equal(plan.kind, 'refused');
    assert.match(plan.kind === 'refused' ? plan.why : '', /key 1, .* has other bytes in \/etc\/ctsync\/sync-1\.key/);
  });

  it('refuses Encrypt changing either way', () => {
    const on = state('enforce', [1], 1);
    const encrypted = { ...on, auth: { ...on.auth!, encrypt: true } } as unknown as AuthState;
    for (const [a, b] of [
      [on, encrypted],
      [encrypted, on],
      [OFF, encrypted],
    ] as const) {
      const plan = planAuthReload(a, b);
      assert.equal(plan.kind, 'refused');
      assert.match(plan.kind === 'refused' ? plan.why : '', /^Encrypt changes only with a restart/);
    }
  });

  it('describeAuth says what stays in force', () => {
    assert.equal(describeAuth(undefined), 'off');
    assert.equal(describeAuth(state('enforce', [1, 2], 2).auth), 'enforce, keys 1, 2, active key 2');
  });
});
