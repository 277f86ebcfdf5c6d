"""boto3 signing with AWS Signature Version 2 (Config(signature_version='s3'), botocore's HmacV1Auth)
against a Floodgate gateway: what each call observed goes into one JSON object on stdout for
e2e/gateway-sigv2.test.ts, which also fetches the presigned v2 URLs printed here.
Usage: boto3_sigv2.py ENDPOINT PORT AK SK BUCKET CREATE(1|0)"""
import base64
import email.utils
import hashlib
import json
import sys
import time

import botocore.auth

from s3kit import client, error_of, loopback_localhost

endpoint, port, ak, sk, bucket, create = sys.argv[1:7]
MiB = 1024 * 1024
s3 = client(endpoint, ak, sk, signature_version='s3')
out = {}


def md5(b):
    return hashlib.md5(b).hexdigest()


if create == '1':
    s3.create_bucket(Bucket=bucket)

# A key that needs escaping in the path (space, '+', unicode): the resource is signed as sent.
key = 'v2/dir/a b+c \u00fc.bin'
body = bytes(range(256)) * 1200
p = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType='application/x-test', Metadata={'who': 'sigv2'})
g = s3.get_object(Bucket=bucket, Key=key)
out['put'] = {'etag': p['ETag'], 'md5': md5(body)}
out['get'] = {'same': g['Body'].read() == body, 'contentType': g['ContentType'], 'metadata': g['Metadata']}
r = s3.get_object(Bucket=bucket, Key=key, Range='bytes=10-19')
out['range'] = {'same': r['Body'].read() == body[10:20], 'contentRange': r['ContentRange']}
h = s3.head_object(Bucket=bucket, Key=key)
out['head'] = {'length': h['ContentLength'], 'etag': h['ETag']}
# A sub-resource override (response-content-type) is part of the signed resource.
out['override'] = s3.get_object(Bucket=bucket, Key=key, ResponseContentType='text/x-override')['ContentType']
s3.copy_object(Bucket=bucket, Key='v2/copy', CopySource={'Bucket': bucket, 'Key': key})
out['copySame'] = s3.get_object(Bucket=bucket, Key='v2/copy')['Body'].read() == body
out['list'] = [o['Key'] for o in s3.list_objects(Bucket=bucket, Prefix='v2/').get('Contents', [])]
lv2 = s3.list_objects_v2(Bucket=bucket, Prefix='v2/', Delimiter='/')
out['listV2'] = {'keys': [o['Key'] for o in lv2.get('Contents', [])], 'prefixes': [c['Prefix'] for c in lv2.get('CommonPrefixes', [])]}

# Multipart: ?uploads, ?partNumber&uploadId, ?uploadId (all signed sub-resources).
parts_data = [b'a' * (5 * MiB), b'b' * 1000]
mp = s3.create_multipart_upload(Bucket=bucket, Key='v2/multi')
uid = mp['UploadId']
parts = [{'PartNumber': i + 1, 'ETag': s3.upload_part(Bucket=bucket, Key='v2/multi', UploadId=uid, PartNumber=i + 1, Body=d)['ETag']}
         for i, d in enumerate(parts_data)]
out['listParts'] = [x['PartNumber'] for x in s3.list_parts(Bucket=bucket, Key='v2/multi', UploadId=uid)['Parts']]
done = s3.complete_multipart_upload(Bucket=bucket, Key='v2/multi', UploadId=uid, MultipartUpload={'Parts': parts})
mg = s3.get_object(Bucket=bucket, Key='v2/multi')
out['multipart'] = {'etag': done['ETag'], 'same': mg['Body'].read() == b''.join(parts_data), 'length': mg['ContentLength']}
ab = s3.create_multipart_upload(Bucket=bucket, Key='v2/aborted')['UploadId']
s3.abort_multipart_upload(Bucket=bucket, Key='v2/aborted', UploadId=ab)
out['uploadsAfterAbort'] = [u['UploadId'] for u in s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])]

# Deletes: DeleteObjects (?delete, with Content-MD5) and DeleteObject.
d = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': 'v2/copy'}]})
out['deleted'] = [x['Key'] for x in d.get('Deleted', [])]
s3.delete_object(Bucket=bucket, Key=key)
out['afterDelete'] = error_of(lambda: s3.head_object(Bucket=bucket, Key=key))
out['copyAfterDelete'] = error_of(lambda: s3.head_object(Bucket=bucket, Key='v2/copy'))

# Virtual-host addressing: the bucket comes from Host and is signed as /bucket/key.
loopback_localhost(bucket + '.localhost')
v = client('http://localhost:%s' % port, ak, sk, style='virtual', signature_version='s3')
v.put_object(Bucket=bucket, Key='v2/vhost', Body=b'virtual host')
out['vhost'] = {'same': v.get_object(Bucket=bucket, Key='v2/vhost')['Body'].read() == b'virtual host',
                'keys': [o['Key'] for o in v.list_objects(Bucket=bucket, Prefix='v2/vhost').get('Contents', [])]}

# Query-string auth URLs for the test to fetch: valid (with an override), expired, tampered.
presign = lambda **kw: s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'v2/multi', **kw.pop('params', {})}, **kw)
url = presign(ExpiresIn=300, params={'ResponseContentType': 'text/x-presigned'})
out['presigned'] = {'url': url, 'expired': presign(ExpiresIn=-60), 'tampered': url.replace('v2/multi', 'v2/vhost'),
                    'md5': md5(b''.join(parts_data))}

# Refusals.
out['badSecret'] = error_of(lambda: client(endpoint, ak, sk + 'x', signature_version='s3').get_object(Bucket=bucket, Key='v2/multi'))
try:
    client(endpoint, ak, sk + 'x', signature_version='s3').get_object(Bucket=bucket, Key='v2/multi')
except Exception as e:  # the error document's StringToSign, for the test to compare
    out['badSecretStringToSign'] = e.response['Error'].get('StringToSign')
out['unknownKey'] = error_of(lambda: client(endpoint, 'AKNOSUCHKEY', sk, signature_version='s3').get_object(Bucket=bucket, Key='v2/multi'))
# A client clock 20 minutes behind, through the Date header botocore signs...
real_formatdate = botocore.auth.formatdate
botocore.auth.formatdate = lambda usegmt=True: email.utils.formatdate(time.time() - 1200, usegmt=True)
out['skewedDate'] = error_of(lambda: s3.get_object(Bucket=bucket, Key='v2/multi'))
botocore.auth.formatdate = real_formatdate
# ... and through x-amz-date, which overrides Date (as ceph/s3-tests' aws2 tests send it).
for name, value in [('skewedAmzDate', 'Tue, 07 Jul 2010 21:53:04 GMT'), ('badAmzDate', 'Bad Date')]:
    c = client(endpoint, ak, sk, signature_version='s3')
    c.meta.events.register('before-call.s3.PutObject', lambda params, value=value, **kw: params['headers'].update({'x-amz-date': value}))
    out[name] = error_of(lambda: c.put_object(Bucket=bucket, Key='v2/refused', Body=b'x'))
# Content-MD5 is signed in SigV2 and still checked against the bytes.
other_md5 = base64.b64encode(hashlib.md5(b'other').digest()).decode()
out['badMd5'] = error_of(lambda: s3.put_object(Bucket=bucket, Key='v2/refused', Body=b'x', ContentMD5=other_md5))
out['refusedStored'] = error_of(lambda: s3.head_object(Bucket=bucket, Key='v2/refused'))
print(json.dumps(out))
