// The audio reader's firmware: keys, functions, sticky mode, interruption, headphones, persistence of its state.
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/core/clock.js';
import { DeviceError } from '../../src/core/errors.js';
import {
  AUDIO_READER_PROFILE,
  AudioReaderFirmware,
  FunctionKeys,
  HEADPHONE_SAFE_VOLUME,
  KEYPAD,
  RATE_STEPS,
  checkAudioReaderState,
  parseReaderKey,
  volumeGain,
} from '../../firmware-sim/audio-reader/index.js';
import { independentTotp } from '../contract/independent-totp.js';

const START = Date.UTC(2026, 10, 25, 9, 0, 0);
const secret = new Uint8Array(20).map((_, i) => (i * 29 + 3) & 0xff);
const key = { secret, algorithm: 'SHA1' as const, digits: 6, period: 30, t0: 0 };

function make(settings = {}) {
  const clock = new VirtualClock({ start: START });
  const fw = AudioReaderFirmware.manufacture({
    serial: 'AR-TEST-1',
    key: { serial: 'AR-TEST-1', type: 'totp', ...key },
    reference: clock,
    settings,
  });
  return { fw, clock };
}

describe('red key', () => {
  it('turns the reader on and reads the TOTP code aloud, shown on the screen too, ending with a tone', () => {
    const { fw } = make();
    expect(fw.status().on).toBe(false);
    const o = fw.key('red');
    expect(o.action).toBe('power-on');
    expect(o.utterances).toHaveLength(1);
    const u = o.utterances[0]!;
    expect(u.kind).toBe('code');
    expect(u.code).toBe(independentTotp(key, START));
    expect(u.text).toBe(u.code!.split('').join(' '));
    expect(u.endTone).toBe(true);
    expect(u.lang).toBe('da');
    expect(u.rateWpm).toBe(150);
    expect(u.output).toBe('speaker');
    expect(o.lcd.code).toBe(u.code);
    expect(o.lcd.text).toBe(`${u.code!.slice(0, 3)} ${u.code!.slice(3)}`);
    expect(fw.status().on).toBe(true);
  });

  it('pressed while speaking stops the speech and does nothing else; pressed after, reads again', () => {
    const { fw, clock } = make();
    const first = fw.key('red').utterances[0]!;
    const stop = fw.key('red');
    expect(stop.action).toBe('stop');
    expect(stop.interrupted).toBe(first.id);
    expect(stop.utterances).toEqual([]);
    clock.advance(30_000);
    const again = fw.key('red');
    expect(again.action).toBe('read');
    expect(again.utterances[0]!.code).toBe(independentTotp(key, START + 30_000));
    expect(fw.status().interruptions).toBe(1);
  });

  it('held turns the reader off (goodbye); keys then do nothing until red', () => {
    const { fw } = make();
    fw.key('red');
    fw.key('done');
    const off = fw.key('red-long');
    expect(off.action).toBe('power-off');
    expect(off.utterances[0]!.message).toBe('goodbye');
    expect(fw.key('fn+3').action).toBe('off');
    expect(fw.status().rateWpm).toBe(150);
  });

  it('held red blanks the screen: an off reader shows no code (nor after auto-off)', () => {
    const { fw, clock } = make({ autoOffMs: 10_000 });
    const code = fw.key('red').utterances[0]!.code;
    expect(fw.lcd().code).toBe(code);
    fw.key('done');
    const off = fw.key('red-long');
    expect(off.action).toBe('power-off');
    expect(off.lcd.on).toBe(false);
    expect(off.lcd.code).toBeNull();
    expect(off.lcd.text).toBe('');
    expect(fw.lcd().on).toBe(false);
    expect(fw.lcd().code).toBeNull();
    expect(fw.status().on).toBe(false);
    expect(fw.status().displayOn).toBe(false);
    // Keys while off leave it blank; red turns it on and shows the code again.
    expect(fw.key('3').lcd.code).toBeNull();
    expect(fw.key('red').lcd.code).toBe(independentTotp(key, START));
    clock.advance(11_000);
    expect(fw.status().on).toBe(false);
    expect(fw.lcd().code).toBeNull();
  });

  it('the reader turns itself off after autoOffMs', () => {
    const { fw, clock } = make({ autoOffMs: 10_000 });
    fw.key('red');
    clock.advance(11_000);
    expect(fw.status().on).toBe(false);
    expect(fw.key('red').action).toBe('power-on');
  });
});

describe('function keys (hold red, press a key)', () => {
  it('fn+0 replays the last code, at the rate set since', () => {
    const { fw, clock } = make();
    const code = fw.key('red').utterances[0]!.code;
    fw.key('done');
    fw.key('fn+1');
    fw.key('done');
    clock.advance(45_000); // the step has moved on: a replay is still the message heard
    const r = fw.key('fn+0');
    expect(r.action).toBe('repeat');
    expect(r.utterances[0]!.code).toBe(code);
    expect(r.utterances[0]!.rateWpm).toBe(RATE_STEPS[1]);
  });

  it('fn+0 with nothing said yet says so', () => {
    const { fw } = make();
    fw.key('red-long'); // off -> on, sticky toggled
    fw.key('fn+5'); // sticky back off
    expect(fw.key('fn+0').utterances[0]!.message).toBe('no-message');
  });

  it('right column turns up, left turns down, with a word at each end of the range', () => {
    const { fw } = make();
    fw.key('red');
    const rates: number[] = [];
    for (let i = 0; i < 6; i++) rates.push(fw.key('fn+3').utterances[0]!.rateWpm);
    expect(rates).toEqual([175, 200, 250, 300, 300, 300]);
    expect(fw.key('fn+3').utterances[0]!.message).toBe('fastest');
    for (let i = 0; i < 8; i++) fw.key('fn+1');
    expect(fw.status().rateWpm).toBe(RATE_STEPS[0]);
    expect(fw.key('fn+1').utterances[0]!.message).toBe('slowest');
    expect(fw.key('fn+6').utterances[0]!.volume).toBe(6);
    expect(fw.key('fn+6').utterances[0]!.gain).toBeCloseTo(volumeGain(7));
    fw.key('fn+6');
    expect(fw.key('fn+6').utterances[0]!.message).toBe('loudest');
    for (let i = 0; i < 10; i++) fw.key('fn+4');
    expect(fw.status().volume).toBe(1);
    expect(fw.key('fn+4').utterances[0]!.message).toBe('quietest');
  });

  it('fn+9 English, fn+7 Danish: the feedback and later codes are in the new language', () => {
    const { fw } = make();
    fw.key('red');
    const en = fw.key('fn+9').utterances[0]!;
    expect(en.lang).toBe('en');
    expect(en.text).toBe('English');
    expect(fw.key('fn+2').utterances[0]!.text).toMatch(
      /^Speed 3\. Volume 5\. Battery 100 percent\.$/,
    );
    expect(fw.key('red').action).toBe('stop');
    expect(fw.key('red').utterances[0]!.lang).toBe('en');
    expect(fw.key('fn+7').utterances[0]!.text).toBe('Dansk');
    expect(fw.key('fn+8').utterances[0]!.text).toMatch(/^Hold den røde tast/);
  });

  it('a number key alone does nothing (it only stops speech)', () => {
    const { fw } = make();
    fw.key('red');
    expect(fw.key('3').action).toBe('stop');
    expect(fw.key('3').action).toBe('ignored');
    expect(fw.status().rateWpm).toBe(150);
  });

  it('every function key has a function, and the layout names all keys', () => {
    expect(Object.keys(FunctionKeys).sort()).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
    expect(KEYPAD.flat().filter(Boolean).sort()).toEqual(
      ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'red'].sort(),
    );
  });
});

describe('sticky function key (EN 301 549 §5.9: no two keys at once)', () => {
  it('red-long while off turns on with sticky mode; then red, 3 is fn+3 — every function one key at a time', () => {
    const { fw } = make();
    const on = fw.key('red-long');
    expect(on.action).toBe('sticky-on');
    expect(fw.status().sticky).toBe(true);
    fw.key('red'); // reads the code (or stops speech), and latches the function key
    expect(fw.status().latched).toBe(true);
    const up = fw.key('3');
    expect(up.action).toBe('faster');
    expect(fw.status().latched).toBe(false);
    fw.key('done');
    expect(fw.key('3').action).toBe('ignored');
    for (const k of Object.keys(FunctionKeys)) {
      fw.key('red');
      expect(fw.key(k).action).not.toMatch(/^(ignored|off|stop)$/);
      if (k === '5') {
        // sticky is now off: off and on again with red-long turns it back on
        fw.key('red-long');
        expect(fw.key('red-long').action).toBe('sticky-on');
      }
    }
  });

  it('with sticky on and the reader off, the power-on red latches too: red, 3 is fn+3', () => {
    const { fw } = make({ sticky: true });
    expect(fw.status().on).toBe(false);
    const on = fw.key('red');
    expect(on.action).toBe('power-on');
    expect(fw.status().latched).toBe(true);
    const up = fw.key('3');
    expect(up.action).toBe('faster');
    expect(up.interrupted).toBe(on.utterances[0]!.id);
    expect(fw.status().rateWpm).toBe(RATE_STEPS[RATE_STEPS.indexOf(150) + 1]);
    expect(fw.status().latched).toBe(false);
  });

  it('without sticky mode the power-on red latches nothing: red, 3 only stops the speech', () => {
    const { fw } = make();
    fw.key('red');
    expect(fw.status().latched).toBe(false);
    expect(fw.key('3').action).toBe('stop');
  });

  it('fn+5 toggles it too', () => {
    const { fw } = make();
    fw.key('red');
    expect(fw.key('fn+5').action).toBe('sticky-on');
    expect(fw.key('fn+5').action).toBe('sticky-off');
  });
});

describe('headphones (private listening)', () => {
  it('jack-in sends speech to the headphones only and brings a loud volume down', () => {
    const { fw } = make({ volume: 8 });
    fw.key('red');
    const jack = fw.key('jack-in');
    expect(jack.action).toBe('headphones-in');
    expect(jack.interrupted).not.toBeNull();
    expect(fw.status().volume).toBe(HEADPHONE_SAFE_VOLUME);
    const u = fw.key('red').utterances[0]!;
    expect(u.output).toBe('headphones');
    fw.key('jack-out');
    fw.key('done');
    expect(fw.key('red').utterances[0]!.output).toBe('speaker');
  });

  it('a quiet volume is kept when headphones go in', () => {
    const { fw } = make({ volume: 2 });
    fw.key('jack-in');
    expect(fw.status().volume).toBe(2);
  });
});

describe('state', () => {
  it('a snapshot resumes to the same reader: settings, last message, counters, token', () => {
    const { fw, clock } = make();
    const code = fw.key('red').utterances[0]!.code;
    fw.key('fn+9');
    fw.key('fn+3');
    fw.key('jack-in');
    const again = new AudioReaderFirmware(JSON.parse(JSON.stringify(fw.snapshot())), {
      reference: clock,
    });
    const s = again.status();
    expect([s.lang, s.rateWpm, s.headphones, s.on, s.volume]).toEqual(['en', 175, true, true, 4]);
    expect(again.key('fn+0').utterances[0]!.code).toBe(code);
    expect(again.status().presses).toBe(1);
  });

  it('bad states and keys are DeviceErrors naming the field, never a secret', () => {
    const { fw } = make();
    const snap = fw.snapshot();
    const cases: [unknown, RegExp][] = [
      [
        { ...snap, reader: { ...snap.reader, settings: { ...snap.reader.settings, lang: 'de' } } },
        /settings.lang/,
      ],
      [
        {
          ...snap,
          reader: { ...snap.reader, settings: { ...snap.reader.settings, rateStep: 99 } },
        },
        /settings.rateStep/,
      ],
      [
        { ...snap, reader: { ...snap.reader, lastMessage: { kind: 'code', code: '12' } } },
        /lastMessage.code/,
      ],
      [{ ...snap, reader: { ...snap.reader, headphones: 'yes' } }, /reader.headphones/],
      [{ ...snap, reader: null }, /reader must be an object/],
      [
        { ...snap, token: { ...snap.token, key: { ...snap.token.key, secretHex: 'zz' } } },
        /key.secretHex/,
      ],
    ];
    for (const [state, msg] of cases) {
      let err: unknown;
      try {
        checkAudioReaderState(state);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DeviceError);
      expect((err as DeviceError).message).toMatch(msg);
      expect((err as DeviceError).message).not.toContain(snap.token.key.secretHex);
    }
    expect(() => parseReaderKey('fn+x')).toThrowError(/unknown key 'fn\+x'/);
    expect(() => fw.key('blue')).toThrowError(DeviceError);
    expect(() => fw.configure({ pauseMs: 10 })).toThrowError(/settings.pauseMs/);
  });

  it('a dead battery keeps the reader silent', () => {
    const clock = new VirtualClock({ start: START });
    const fw = AudioReaderFirmware.manufacture({
      serial: 'AR-DEAD',
      reference: clock,
      battery: { capacityUah: 25, pressCostUah: 10 },
    });
    expect(fw.key('red').utterances).toHaveLength(1);
    fw.key('done');
    expect(fw.key('red').utterances).toHaveLength(1);
    fw.key('done');
    const dead = fw.key('red');
    expect(dead.action).toBe('dead');
    expect(dead.utterances).toEqual([]);
  });

  it('the published profile says what the firmware does', () => {
    expect(AUDIO_READER_PROFILE.repeat).toBe('fn+0');
    expect(AUDIO_READER_PROFILE.rateSteps).toEqual(RATE_STEPS);
    expect(AUDIO_READER_PROFILE.languages).toEqual(['da', 'en']);
  });
});
