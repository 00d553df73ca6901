/** Fetches URL and writes the response body to stdout (for reading a hub's /metrics inside a namespace). */
import { scriptArgs } from './script-args.js';

const { url } = scriptArgs('url');
const response = await fetch(url);
process.stdout.write(await response.text());
