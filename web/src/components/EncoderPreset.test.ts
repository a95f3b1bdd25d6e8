import { describe, expect, it } from 'vitest';
import { describeEncoderPreset, PRESET_OPTIONS, type EncoderPresetView } from './EncoderPreset';

const view = (over: Partial<EncoderPresetView>): EncoderPresetView => ({
  setting: 'auto',
  resolved: null,
  encoder: null,
  speed: null,
  measured_at_size: null,
  measured_at_fps: null,
  holds_real_time: null,
  ...over,
});

describe('describeEncoderPreset', () => {
  it('says what auto chose, with the speed measured here', () => {
    expect(
      describeEncoderPreset(
        view({
          resolved: 'superfast',
          encoder: 'libx264',
          speed: 2.1,
          measured_at_size: '1920x1080',
          holds_real_time: true,
        }),
      ),
    ).toBe('auto → superfast (2.1× real time at 1920x1080 on this appliance)');
  });

  it('warns when no preset keeps up', () => {
    const text = describeEncoderPreset(
      view({
        resolved: 'ultrafast',
        encoder: 'libx264',
        speed: 0.9,
        measured_at_size: '1920x1080',
        holds_real_time: false,
      }),
    );
    expect(text).toContain('auto → ultrafast (0.9× real time at 1920x1080');
    expect(text).toContain('frames may drop');
  });

  it('before the first start, by hand, and on a hardware encoder', () => {
    expect(describeEncoderPreset(view({}))).toBe('auto: measured on this appliance when the program starts');
    expect(describeEncoderPreset(view({ setting: 'fast' }))).toBe('fast, set by hand');
    expect(describeEncoderPreset(view({ setting: 'fast', resolved: 'fast', encoder: 'libx264' }))).toBe(
      'fast, set by hand',
    );
    expect(describeEncoderPreset(view({ encoder: 'h264_vaapi' }))).toBe('not used: h264_vaapi is a hardware encoder');
  });

  it('offers auto and the presets the appliance accepts', () => {
    expect(PRESET_OPTIONS.map((o) => o.value)).toEqual([
      'auto',
      'ultrafast',
      'superfast',
      'veryfast',
      'faster',
      'fast',
      'medium',
    ]);
  });
});
