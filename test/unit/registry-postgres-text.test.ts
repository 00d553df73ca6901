import { describe, expect, it } from 'vitest';
import { positional, redactUrl } from '../../server/registry/postgres-backend.js';

describe('PostgreSQL statement text', () => {
  it('numbers ? placeholders in order, leaving quoted text alone', () => {
    expect(positional('SELECT a FROM t WHERE b = ? AND c = ?')).toBe('SELECT a FROM t WHERE b = $1 AND c = $2');
    expect(positional("SELECT '?' AS q, 'it''s ?' AS r FROM t WHERE x = ?")).toBe("SELECT '?' AS q, 'it''s ?' AS r FROM t WHERE x = $1");
    expect(positional('SELECT 1')).toBe('SELECT 1');
  });

  it('hides the password of a registry URL, and only the password', () => {
    expect(redactUrl('postgres://tunnel:s3cr%40t@db.example:5432/tunnel')).toBe('postgres://tunnel:***@db.example:5432/tunnel');
    expect(redactUrl('postgresql://tunnel@db.example/tunnel?host=/run/postgresql')).toBe('postgresql://tunnel@db.example/tunnel?host=/run/postgresql');
  });
});
