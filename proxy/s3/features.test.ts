import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refuseUnsupportedFeatures } from './features.ts';
import { S3Error } from './errors.ts';

const s3Code = (fn: () => void): [string, number] | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof S3Error, String(e));
    return [e.code, e.status];
  }
};

test('canned ACLs: private accepted, the other canned ones NotImplemented, a value that is none of them InvalidArgument', () => {
  for (const op of ['PutBucketAcl', 'PutObject', 'CreateBucket'] as const) {
    assert.equal(s3Code(() => refuseUnsupportedFeatures(op, { 'x-amz-acl': 'private' })), undefined);
    assert.equal(s3Code(() => refuseUnsupportedFeatures(op, { 'x-amz-acl': 'bucket-owner-full-control' })), undefined);
    assert.deepEqual(s3Code(() => refuseUnsupportedFeatures(op, { 'x-amz-acl': 'public-read' })), ['NotImplemented', 501]);
    assert.deepEqual(s3Code(() => refuseUnsupportedFeatures(op, { 'x-amz-acl': 'log-delivery-write' })), ['NotImplemented', 501]);
    // s3-tests test_bucket_put_bad_canned_acl: a typo is the client's mistake, not a missing feature.
    assert.deepEqual(s3Code(() => refuseUnsupportedFeatures(op, { 'x-amz-acl': 'public-ready' })), ['InvalidArgument', 400]);
  }
});
