// Operation → handler. One table, so an operation without a handler is a type error.
import type { Operation } from './route.ts';
import type { Handler } from './handlers/context.ts';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './handlers/buckets.ts';
import { deleteObject, deleteObjects, getObject, headObject, putObject } from './handlers/objects.ts';
import { copyObject, uploadPartCopy } from './handlers/copy.ts';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, listMultipartUploads, listParts, uploadPart } from './handlers/multipart.ts';
import { getAcl, getBucketVersioning, putAcl } from './handlers/acl.ts';
import { getObjectAttributes } from './handlers/attributes.ts';
import { deleteBucketCors, getBucketCors, putBucketCors } from './handlers/cors.ts';
import { listObjects, listObjectsV2, listObjectVersions } from './handlers/list.ts';

export const HANDLERS: Record<Operation, Handler> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  ListObjects: listObjects,
  ListObjectsV2: listObjectsV2,
  ListObjectVersions: listObjectVersions,
  ListMultipartUploads: listMultipartUploads,
  DeleteObjects: deleteObjects,
  PutObject: putObject,
  CopyObject: copyObject,
  GetObject: getObject,
  HeadObject: headObject,
  DeleteObject: deleteObject,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  UploadPartCopy: uploadPartCopy,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
  GetBucketVersioning: getBucketVersioning,
  GetBucketAcl: getAcl,
  PutBucketAcl: putAcl,
  GetObjectAcl: getAcl,
  PutObjectAcl: putAcl,
  GetObjectAttributes: getObjectAttributes,
  GetBucketCors: getBucketCors,
  PutBucketCors: putBucketCors,
  DeleteBucketCors: deleteBucketCors,
};
