import { describe, expect, it } from 'vitest';
import { parseListenAddress } from '../../shared/cli/parse-listen-address.js';
import { refusalOf } from '../helpers/error-code.js';

describe('ADDR:PORT of --admin-listen and --metrics', () => {
  it.each([
    ['127.0.0.1:9470', { host: '127.0.0.1', port: 9470 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:9471', { host: '::1', port: 9471 }],
    ['[2001:db8::5]:65535', { host: '2001:db8::5', port: 65535 }],
  ])('%s', (text, expected) => {
    expect(parseListenAddress(text, '--admin-listen')).toEqual(expected);
  });

  it.each(['9470', 'localhost:9470', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '::1:9470', '[::1]', '300.1.1.1:80', '127.0.0.1:-1', ''])('refuses %j naming the flag', (text) => {
    expect(refusalOf(() => parseListenAddress(text, '--metrics'))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/^--metrics /) });
  });
});
