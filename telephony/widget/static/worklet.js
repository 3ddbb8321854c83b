/* The widget's microphone tap: an AudioWorklet that turns the context's audio (any rate, any channel count)
   into 16 kHz mono 16-bit PCM and posts it to the page in chunks of `chunkMs` milliseconds.
   Each output sample is the mean of the input samples it covers (a box filter: enough for speech). */
"use strict";

class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const settings = (options && options.processorOptions) || {};
    const target = settings.targetRate || 16000;
    this.step = sampleRate / target; // input samples per output sample
    this.chunk = Math.max(1, Math.round((target * (settings.chunkMs || 100)) / 1000));
    this.out = new Int16Array(this.chunk);
    this.filled = 0;
    this.sum = 0;
    this.count = 0;
    this.position = 0; // input samples taken towards the next output sample
    this.last = 0;
  }

  emit(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.out[this.filled++] = clipped < 0 ? clipped * 32768 : clipped * 32767;
    if (this.filled === this.chunk) {
      this.port.postMessage(this.out.buffer, [this.out.buffer]);
      this.out = new Int16Array(this.chunk);
      this.filled = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const channels = input.length;
    const frames = input[0].length;
    for (let i = 0; i < frames; i++) {
      let sample = input[0][i];
      if (channels > 1) {
        for (let c = 1; c < channels; c++) sample += input[c][i];
        sample /= channels;
      }
      this.sum += sample;
      this.count++;
      this.position += 1;
      while (this.position >= this.step) {
        this.position -= this.step;
        this.last = this.count ? this.sum / this.count : this.last;
        this.sum = 0;
        this.count = 0;
        this.emit(this.last);
      }
    }
    return true;
  }
}

registerProcessor("wcm-pcm16-capture", Pcm16Capture);
