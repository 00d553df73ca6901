import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the repository does not hold (as .gitignore says), and the READMEs themselves. */
const NOT_MAPPED = new Set(['.git', 'node_modules', 'dist', 'build', 'state', 'README.md']);

/** The design notes that open with a "## Files" map of their folder. */
const FOLDER_NOTES = [
  'native', 'server/admin', 'server/cluster', 'server/control', 'server/routing', 'server/shortcuts', 'shared/datapath', 'shared/kernel-config',
  'shared/system', 'shared/wire', 'scripts/kernel-peer',
];

/** Every file under `dir`, relative to it, skipping what is not part of the repository. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix)).filter((name) => !NOT_MAPPED.has(name) && !name.endsWith('.log') && !name.startsWith('.vitest-')).flatMap((name) => {
    const path = prefix === '' ? name : `${prefix}/${name}`;
    return statSync(join(dir, path)).isDirectory() ? filesUnder(dir, path) : [path];
  });
}

/** The `## title` section of a markdown text, and whether it is the text's first `## ` section. */
function section(markdown: string, title: string): { text: string; first: boolean } {
  const headings = [...markdown.matchAll(/^## (.*)$/gm)];
  const index = headings.findIndex((heading) => heading[1] === title);
  const start = headings[index];
  if (start === undefined) return { text: '', first: false };
  const end = headings[index + 1]?.index ?? markdown.length;
  return { text: markdown.slice(start.index, end), first: index === 0 };
}

/** The names a map's table rows give: every backticked name in each row's first cell. */
function mapped(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('| `')).flatMap((line) =>
    [...(line.split(' | ')[0] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ''));
}

describe('the design notes', () => {
  it.each(FOLDER_NOTES)('%s/README.md opens with a map naming every file of its folder, and no other', (folder) => {
    const { text, first } = section(readFileSync(join(ROOT, folder, 'README.md'), 'utf8'), 'Files');
    expect({ folder, opensWithFiles: first }).toEqual({ folder, opensWithFiles: true });
    const names = mapped(text);
    const files = filesUnder(join(ROOT, folder));
    expect(files.length).toBeGreaterThan(1);
    expect({ folder, unmapped: files.filter((file) => !names.includes(file)) }).toEqual({ folder, unmapped: [] });
    expect({ folder, mappedButAbsent: names.filter((name) => !files.includes(name)) }).toEqual({ folder, mappedButAbsent: [] });
  });

  it("README.md opens with a layout naming every top-level entry and every folder of shared/, server/, client/ and test/", () => {
    const { text, first } = section(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'Layout');
    expect(first).toBe(true);
    const names = mapped(text);
    const entries = [
      ...readdirSync(ROOT).filter((name) => !NOT_MAPPED.has(name) && !name.endsWith('.log')).map((name) => (statSync(join(ROOT, name)).isDirectory() ? `${name}/` : name)),
      ...['shared', 'server', 'client', 'test'].flatMap((top) => readdirSync(join(ROOT, top)).filter((name) => statSync(join(ROOT, top, name)).isDirectory()).map((name) => `${top}/${name}/`)),
    ];
    expect(entries.length).toBeGreaterThan(20);
    expect({ unmapped: entries.filter((entry) => !names.includes(entry)) }).toEqual({ unmapped: [] });
    expect({ mappedButAbsent: names.filter((name) => !entries.includes(name)) }).toEqual({ mappedButAbsent: [] });
  });
});
