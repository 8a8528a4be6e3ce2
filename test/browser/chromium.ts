import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium (`apt-get install -y chromium`), never a downloaded one. Without the networking
 * switches it keeps dialling Google's hosts, which this machine's closed network refuses.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
