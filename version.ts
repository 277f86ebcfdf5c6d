// The one source of the release version and image name: the image build (tools/image/floodgate.sh),
// the operator's default --gateway-image and the chart (checked by e2e/image-version.test.ts) all
// agree with what is here and in package.json.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

/** The release version, package.json's `version`; also the chart's appVersion and the image tag. */
export const VERSION: string = pkg.version;
/** Where the image is published; the chart's default `image.repository`. */
export const IMAGE_REPOSITORY = 'ghcr.io/floodgate/floodgate';
/** The image every part runs (`floodgate operator|gateway|injector`) for this release. */
export const IMAGE = `${IMAGE_REPOSITORY}:${VERSION}`;
/** The image's `org.opencontainers.image.source` label. */
export const SOURCE_URL = 'https://github.com/floodgate/floodgate';

// `node version.ts` prints KEY=VALUE lines for shell scripts (tools/image/floodgate.sh).
if (import.meta.main) {
  process.stdout.write(`VERSION=${VERSION}\nIMAGE_REPOSITORY=${IMAGE_REPOSITORY}\nIMAGE=${IMAGE}\nSOURCE_URL=${SOURCE_URL}\n`);
}
