import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SCHEMA_STEPS } from '../../server/registry/schema/schema-steps.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The SHA-256 of every shipped step's text, per dialect. A hub upgraded in place replays only
 * the steps it lacks, so a shipped step that changed would leave old and new registries
 * different: change nothing here, append a step instead (and pin it here once it ships).
 */
const SHIPPED: readonly { name: string; sqlite: string; postgres: string }[] = [
  { name: 'initial', sqlite: '0eaf4d43dd7ead4493c99ed408c88360c729cf150e47ce0ee3a22aa7ff698e94', postgres: 'd32df418ec4debf0739534af84130f513b7f5d74f0e783054e3dfaf0600adb3e' },
  { name: 'spec-versions', sqlite: '9d3549bd700758d66b06a0bf965667d4c0b1da5c22da7e0d098258c62caea6e3', postgres: '57d33e27cf495b2ecf8c10c03cc4fa04d9fdc681b3bb8ca707727ec38b197ab7' },
  { name: 'link-paths', sqlite: '0e453c8707f11294224a95d013666a403a7fee504ffd6d5293c3e9de382b0c5a', postgres: '07dd506ff05b0495f8b7492437a75618e8d3d40d4143447cb6d048342c26572f' },
  { name: 'peer-revocation', sqlite: '0a82ff5e52054de30e2e978baebefe518233a03ba3fa58e18ca7c60e722a8375', postgres: 'b7f6402751093e1d79dbafcc2614894bc45472de763271e5fb51560528583e8b' },
  { name: 'router-access', sqlite: 'e329bb6e83deaaa6947fb3b8255f9f7a5ed661e00b7a5392f62b0d9cc309a65d', postgres: '6ff3f4f86be6dee36a84b0a3c3ead2741c203e2e6dd01d045185d8715f445467' },
  { name: 'peer-routing', sqlite: 'da6939a4cfb6c61a61737222f31b951adca4b749748f16ede65bc61953dcee47', postgres: '3b8a31bbed920f5a4ba9e8563f01021e429f0516dbdda39efd990aa424688cbc' },
  { name: 'cluster', sqlite: '1632fe82c432a124656d84b0ebcbdce036c8b77f83904b2ac210331245e0b77c', postgres: 'bd29a35fb9a7de6e0fe7c93377cbabdbdd7772bb21cd9d8c62e0267f1dbc8354' },
  { name: 'hub-links', sqlite: '21c373b4525f5cf0e56e330faafb3b1ec793cdbd19fd4117135cd7e120d13042', postgres: 'ad410d24bc9f2e89b90f6cd22798b5ec8238fbc8efd98917569d31687ef50fe9' },
  { name: 'encap-pins', sqlite: '81bcca8ff330d62d419d5d0570dc82c25c2fb42140978994086be7a4b22aea52', postgres: '97b1c47ef01b39fdfa976c070f5c1e5b976effa521d1157f7c1056c00646251f' },
  { name: 'hub-link-encap', sqlite: '931eeb7bdfcad0769b08bf43115251cbe39bdecb65ac8117ff5787b79adfe80c', postgres: '33cd18e8ca7e2ed54110f8f4a2b9ca6716e0c1132d9fc389b908c8b3101ab752' },
  { name: 'shortcuts', sqlite: '12461de08acca9a4abde33982540f60e9eb9d1bf88c029d02d3296b05ab1da1a', postgres: 'a5f2bf69f1d60bd42c3778bee2e63d44eaa1d900f6d2e9fa22e675efc6795d93' },
  { name: 'link-encryption', sqlite: 'b60d2023872fe6bcab3d63cafd64526432073c4c9a50c0fa4b6ca0a9492fca27', postgres: '73db95fb85610a0fe31bc6f2d9a80cffe417252c068b7b470c8807715a03fc55' },
];

describe('SCHEMA_STEPS', () => {
  it('keeps every shipped step, in its place, byte for byte in both dialects', () => {
    expect(SCHEMA_STEPS.length).toBeGreaterThanOrEqual(SHIPPED.length);
    const shipped = SCHEMA_STEPS.slice(0, SHIPPED.length).map((step) => ({ name: step.name, sqlite: sha256(step.sqlite), postgres: sha256(step.postgres) }));
    expect(shipped).toEqual(SHIPPED);
  });

  it('gives every step a unique kebab-case name and SQL for both backends', () => {
    const names = SCHEMA_STEPS.map((step) => step.name);
    expect(new Set(names).size).toBe(names.length);
    for (const step of SCHEMA_STEPS) {
      expect(step.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(step.sqlite.trim(), step.name).not.toBe('');
      expect(step.postgres.trim(), step.name).not.toBe('');
    }
  });
});
