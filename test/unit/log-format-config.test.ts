import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadMockPgConfig } from '../../src/config.ts';

describe('LOG_FORMAT', () => {
  it('defaults to pretty when standard output is a terminal, and to JSON when it is not', () => {
    expect(loadConfig({}, true).LOG_FORMAT).toBe('pretty');
    expect(loadConfig({}, false).LOG_FORMAT).toBe('json');
    expect(loadMockPgConfig({}, true).LOG_FORMAT).toBe('pretty');
    expect(loadMockPgConfig({}, false).LOG_FORMAT).toBe('json');
  });

  it('is taken as given wherever the output goes', () => {
    expect(loadConfig({ LOG_FORMAT: 'json' }, true).LOG_FORMAT).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }, false).LOG_FORMAT).toBe('pretty');
    expect(loadMockPgConfig({ LOG_FORMAT: 'json' }, true).LOG_FORMAT).toBe('json');
  });

  it('stops start-up on any other value', () => {
    expect(() => loadConfig({ LOG_FORMAT: 'text' }, true)).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_FORMAT: 'text' }, true)).toThrow(/LOG_FORMAT/);
  });
});
