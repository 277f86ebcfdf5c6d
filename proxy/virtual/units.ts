// Sizes and durations: owned by the API (crds/units.ts), re-exported for the gateway's config.
export { parseSize, parseDuration, sizeSchema, durationSchema } from '../../crds/units.ts';
