// DOM-free: how a login session is named on the account page ("Firefox on Linux"),
// from the User-Agent the server recorded at sign-in.

const BROWSERS = [
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrome\/|CriOS\/|Chromium\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];
const SYSTEMS = [
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

/** "Chrome on Linux"; a non-browser client by its first product token ("python-httpx"). */
export function describeAgent(ua) {
  const text = (ua || '').trim();
  if (!text) return 'Unknown device';
  const browser = BROWSERS.find(([re]) => re.test(text))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(text))?.[1];
  if (browser) return system ? `${browser} on ${system}` : browser;
  const product = text.split(/[\s/]/)[0];
  return product.slice(0, 40) || 'Unknown device';
}

/** The current session first, then the most recently used. */
export function orderSessions(list) {
  const used = (s) => Date.parse(s.last_used_at || s.created_at) || 0;
  return [...list].sort((a, b) => Number(b.current) - Number(a.current) || used(b) - used(a));
}
