import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { peerNameFromHostName } from '../../client/default-peer-name.js';
import { isTunnelError } from '../../shared/errors.js';
import { PEER_NAME_PATTERN } from '../../shared/protocol/peer-name.js';
import { validatePeerName } from '../../server/registry/peer-name.js';
import { errorCodeOf } from '../helpers/error-code.js';

describe('the peer name join takes from the host name', () => {
  it.each([
    ['alice', 'alice'],
    ['Alice-PC', 'alice-pc'],
    ['box.example.net', 'box-example-net'],
    ['my_router 2', 'my-router-2'],
    ['--odd--name--', 'odd--name'], ['a_.b', 'a-b'],
    ['Müllers-Rechner', 'mullers-rechner'],
    ['ÇA.ÉTÉ', 'ca-ete'],
    ['a'.repeat(40), 'a'.repeat(31)],
    [`${'b'.repeat(30)}.lan`, 'b'.repeat(30)],
    ['HUB2', 'hub2'],
    ['7', '7'],
  ])('%j -> %j', (hostName, expected) => {
    expect(peerNameFromHostName(hostName)).toBe(expected);
  });

  it.each(['', '...', '___', '日本'])('refuses %j, which leaves nothing usable, asking for --name', (hostName) => {
    expect(errorCodeOf(() => peerNameFromHostName(hostName))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => peerNameFromHostName(hostName)).toThrow(/--name/);
  });

  it('refuses a host named like the hub\'s own end', () => {
    expect(errorCodeOf(() => peerNameFromHostName('HUB'))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => peerNameFromHostName('hub.')).toThrow(/reserved/);
  });

  it('gives, for any host name, a name the hub accepts or a coded refusal', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80, unit: 'binary' }), (hostName) => {
      let name: string;
      try {
        name = peerNameFromHostName(hostName);
      } catch (err) {
        return isTunnelError(err, 'ERR_INVALID_ARGUMENT');
      }
      return PEER_NAME_PATTERN.test(name) && validatePeerName(name) === name;
    }), { numRuns: 2000 });
  });

  it('keeps a name that is already valid as it is', () => {
    fc.assert(fc.property(fc.stringMatching(PEER_NAME_PATTERN), (name) => {
      fc.pre(name !== 'hub' && !name.endsWith('-'));
      return peerNameFromHostName(name) === name;
    }));
  });
});
