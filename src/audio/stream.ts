/** PCM as a Node Readable stream of little-endian 16-bit chunks (what speaker and pipes expect). */
import { Readable } from 'node:stream';
import type { Pcm } from './wav.js';

/** A Readable of `pcm`'s samples as raw s16le bytes, `chunkMs` at a time (default 50 ms). */
export function pcmStream(pcm: Pcm, chunkMs = 50): Readable {
  const per = Math.max(1, Math.round((pcm.sampleRate * chunkMs) / 1000));
  let at = 0;
  return new Readable({
    read() {
      if (at >= pcm.samples.length) {
        this.push(null);
        return;
      }
      const end = Math.min(pcm.samples.length, at + per);
      const buf = Buffer.alloc((end - at) * 2);
      for (let i = at; i < end; i++) buf.writeInt16LE(pcm.samples[i]!, (i - at) * 2);
      at = end;
      this.push(buf);
    },
  });
}
