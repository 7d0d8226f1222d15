/**
 * The checks of queue options (docs/protocol.md "Queues"; Deno KV's `enqueue` limits), shared by the
 * client (checked before anything is sent) and the engine (checked again on the server): one rule each.
 *
 * @module
 */
import { ValidationError } from './errors.js';
import { LIMITS } from './limits.js';
import { validateKey } from './validation.js';

/**
 * The lease length of a queue delivery when none is asked for, in ms (SQS's default visibility timeout is
 * 30 s too): the engine leases with it and `listenQueue` extends running handlers every half of it.
 */
export const DEFAULT_VISIBILITY_TIMEOUT_MS = 30_000;

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

function outOfRange(field: string, text: string, min: number, max: number): ValidationError {
  return new ValidationError(`\`${field}\` must be ${text}`, {
    details: { field, reason: 'out_of_range', min, max },
  });
}

/**
 * Checks an enqueue's `delayMs`: an integer from 0 to 2,592,000,000 (30 days, `LIMITS.maxQueueDelayMs`).
 *
 * @throws {ValidationError} `details: { field: 'delayMs', reason: 'out_of_range' }`
 */
export function validateDelayMs(value: unknown): number {
  if (!isIntegerIn(value, 0, LIMITS.maxQueueDelayMs)) {
    throw outOfRange('delayMs', 'an integer number of ms from 0 to 30 days', 0, LIMITS.maxQueueDelayMs);
  }
  return value;
}

/**
 * Checks `keysIfUndelivered`: an array of at most 10 valid keys (`LIMITS.maxKeysIfUndelivered`).
 *
 * @throws {ValidationError} not an array, too many keys, or an invalid key (`details.index` names it)
 */
export function validateKeysIfUndelivered(value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw new ValidationError('`keysIfUndelivered` must be an array of keys', {
      details: { field: 'keysIfUndelivered', reason: 'type' },
    });
  }
  if (value.length > LIMITS.maxKeysIfUndelivered) {
    throw new ValidationError(`\`keysIfUndelivered\` takes at most ${LIMITS.maxKeysIfUndelivered} keys`, {
      details: { field: 'keysIfUndelivered', reason: 'too_many', max: LIMITS.maxKeysIfUndelivered },
    });
  }
  return value.map((key, index) => {
    try {
      return validateKey(key);
    } catch (error) {
      const cause = error as ValidationError;
      throw new ValidationError(`keysIfUndelivered[${index}]: ${cause.message}`, {
        details: { ...cause.details, field: 'keysIfUndelivered', index },
      });
    }
  });
}

/**
 * Checks `backoffScheduleMs`: at most 5 steps (`LIMITS.maxBackoffSteps`), each an integer number of ms
 * from 0 to 3,600,000 (`LIMITS.maxBackoffStepMs`). Deno KV's `backoffSchedule` limits.
 *
 * @throws {ValidationError} not an array, too many steps, or a step out of range
 */
export function validateBackoffSchedule(value: unknown): number[] {
  if (!Array.isArray(value)) {
    throw new ValidationError('`backoffScheduleMs` must be an array of delays in ms', {
      details: { field: 'backoffScheduleMs', reason: 'type' },
    });
  }
  if (value.length > LIMITS.maxBackoffSteps) {
    throw new ValidationError(`\`backoffScheduleMs\` takes at most ${LIMITS.maxBackoffSteps} steps`, {
      details: { field: 'backoffScheduleMs', reason: 'too_many', max: LIMITS.maxBackoffSteps },
    });
  }
  for (const step of value) {
    if (!isIntegerIn(step, 0, LIMITS.maxBackoffStepMs)) {
      throw outOfRange(
        'backoffScheduleMs',
        'steps of integer ms from 0 to 3,600,000',
        0,
        LIMITS.maxBackoffStepMs,
      );
    }
  }
  return [...(value as number[])];
}

/**
 * Checks a lease's `visibilityTimeoutMs`: an integer from 1,000 to 43,200,000 (12 hours).
 *
 * @throws {ValidationError} `details: { field: 'visibilityTimeoutMs', reason: 'out_of_range' }`
 */
export function validateVisibilityTimeoutMs(value: unknown): number {
  if (!isIntegerIn(value, LIMITS.minVisibilityTimeoutMs, LIMITS.maxVisibilityTimeoutMs)) {
    throw outOfRange(
      'visibilityTimeoutMs',
      'an integer number of ms from 1,000 to 43,200,000 (12 hours)',
      LIMITS.minVisibilityTimeoutMs,
      LIMITS.maxVisibilityTimeoutMs,
    );
  }
  return value;
}
