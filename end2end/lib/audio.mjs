// What the audio tests share: G.711 μ-law both ways, how much of a signal is one tone
// (Goertzel), and how loud what a browser's peer connection receives is (`getStats`).

/** G.711 μ-law byte to a linear sample. */
export function ulaw(byte) {
  const b = ~byte & 0xff;
  const magnitude = ((((b & 0x0f) << 3) + 0x84) << ((b >> 4) & 7)) - 0x84;
  return b & 0x80 ? -magnitude : magnitude;
}

/** A linear sample to G.711 μ-law. */
export function toUlaw(sample) {
  const sign = sample < 0 ? 0x80 : 0;
  const m = Math.min(Math.abs(sample), 32635) + 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (m & mask) === 0 && exponent > 0; mask >>= 1) exponent -= 1;
  const mantissa = (m >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** The share of the signal's energy at `hz` (Goertzel over 8 kHz samples): near 1 for a pure tone. */
export function share(samples, hz) {
  if (samples.length < 800) return 0;
  const w = (2 * Math.PI * hz) / 8000;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const x of samples) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (samples.length * energy);
}

/** The loudest inbound audio `page` hears over `ms` on the peer connection `peer` names. */
export async function loudest(page, peer = '__dialerPeer', ms = 1_500) {
  let level = 0;
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const now = await page.evaluate(async (name) => {
      const pc = window[name];
      if (!pc) return 0;
      const stats = [...(await pc.getStats()).values()];
      return Math.max(0, ...stats.filter((r) => r.type === 'inbound-rtp' && r.kind === 'audio').map((r) => r.audioLevel ?? 0));
    }, peer);
    level = Math.max(level, now);
    await new Promise((r) => setTimeout(r, 100));
  }
  return level;
}
