"""boto3 against a Floodgate gateway: every step's observable result goes into one JSON object on
stdout, and e2e/gateway-boto3.test.ts asserts on it. Usage: boto3_suite.py ENDPOINT PORT AK SK BUCKET TMPDIR"""
import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import zlib

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from s3kit import loopback_localhost

endpoint, port, ak, sk, bucket, tmp = sys.argv[1:7]
MiB = 1024 * 1024
out = {}

out['vhostResolvesNatively'] = loopback_localhost(bucket + '.localhost')


def client(style='path', secret=sk, url=endpoint, sigv4=True):
    # botocore presigns S3 URLs with SigV2 unless told s3v4.
    extra = {'signature_version': 's3v4'} if sigv4 else {}
    return boto3.client('s3', endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=secret, region_name='us-east-1',
                        config=Config(s3={'addressing_style': style}, retries={'mode': 'standard', 'max_attempts': 2}, **extra))


def error_of(fn):
    try:
        fn()
        return None
    except ClientError as e:
        return {'code': e.response['Error']['Code'], 'status': e.response['ResponseMetadata']['HTTPStatusCode'],
                'message': e.response['Error'].get('Message', '')}


def md5(b):
    return hashlib.md5(b).hexdigest()


s3 = client()

# Buckets
s3.create_bucket(Bucket=bucket)
out['createAgain'] = error_of(lambda: s3.create_bucket(Bucket=bucket))
out['buckets'] = [b['Name'] for b in s3.list_buckets()['Buckets']]
s3.head_bucket(Bucket=bucket)
out['headMissingBucket'] = error_of(lambda: s3.head_bucket(Bucket=bucket + '-missing'))
out['location'] = s3.get_bucket_location(Bucket=bucket).get('LocationConstraint')

# Put/get with metadata and content type
body = bytes(range(256)) * 1000
put = s3.put_object(Bucket=bucket, Key='docs/a.txt', Body=body, ContentType='text/plain; charset=utf-8',
                    Metadata={'owner': 'ops', 'build': '42'}, CacheControl='max-age=60', ContentDisposition='attachment')
got = s3.get_object(Bucket=bucket, Key='docs/a.txt')
out['put'] = {'etag': put['ETag'], 'md5': md5(body)}
out['get'] = {'same': got['Body'].read() == body, 'contentType': got['ContentType'], 'metadata': got['Metadata'],
              'cacheControl': got.get('CacheControl'), 'contentDisposition': got.get('ContentDisposition'),
              'length': got['ContentLength'], 'etag': got['ETag']}

# Ranges
r = s3.get_object(Bucket=bucket, Key='docs/a.txt', Range='bytes=10-19')
out['range'] = {'same': r['Body'].read() == body[10:20], 'contentRange': r['ContentRange'], 'status': r['ResponseMetadata']['HTTPStatusCode']}
r = s3.get_object(Bucket=bucket, Key='docs/a.txt', Range='bytes=-5')
out['suffixRange'] = {'same': r['Body'].read() == body[-5:], 'contentRange': r['ContentRange']}
out['unsatisfiable'] = error_of(lambda: s3.get_object(Bucket=bucket, Key='docs/a.txt', Range='bytes=999999-'))

# Head
h = s3.head_object(Bucket=bucket, Key='docs/a.txt')
out['head'] = {'length': h['ContentLength'], 'etag': h['ETag'], 'metadata': h['Metadata'], 'contentType': h['ContentType']}
out['headMissing'] = error_of(lambda: s3.head_object(Bucket=bucket, Key='docs/none'))
out['getMissing'] = error_of(lambda: s3.get_object(Bucket=bucket, Key='docs/none'))

# Copy, keeping and replacing metadata
s3.copy_object(Bucket=bucket, Key='docs/copy.txt', CopySource={'Bucket': bucket, 'Key': 'docs/a.txt'})
c = s3.head_object(Bucket=bucket, Key='docs/copy.txt')
s3.copy_object(Bucket=bucket, Key='docs/replaced.txt', CopySource={'Bucket': bucket, 'Key': 'docs/a.txt'},
               MetadataDirective='REPLACE', Metadata={'owner': 'dev'}, ContentType='application/json')
cr = s3.head_object(Bucket=bucket, Key='docs/replaced.txt')
out['copy'] = {'etag': c['ETag'], 'metadata': c['Metadata'], 'contentType': c['ContentType'],
               'replacedMetadata': cr['Metadata'], 'replacedType': cr['ContentType'], 'replacedEtag': cr['ETag']}

# Listing: paginator, prefix, delimiter
keys = ['list/a/1', 'list/a/2', 'list/b/1', 'list/c', 'list/d/e/f', 'list/z', 'other']
for k in keys:
    s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
pages = list(s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix='list/', PaginationConfig={'PageSize': 2}))
out['paged'] = {'pages': len(pages), 'keys': [o['Key'] for p in pages for o in p.get('Contents', [])],
                'sizes': [o['Size'] for p in pages for o in p.get('Contents', [])]}
d = s3.list_objects_v2(Bucket=bucket, Prefix='list/', Delimiter='/')
out['delimited'] = {'keys': [o['Key'] for o in d.get('Contents', [])], 'prefixes': [p['Prefix'] for p in d.get('CommonPrefixes', [])],
                    'keyCount': d['KeyCount']}
pages = list(s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix='list/', Delimiter='/', PaginationConfig={'PageSize': 1}))
out['delimitedPaged'] = {'pages': len(pages), 'keys': [o['Key'] for p in pages for o in p.get('Contents', [])],
                         'prefixes': [x['Prefix'] for p in pages for x in p.get('CommonPrefixes', [])]}

# DeleteObjects (a missing key is reported deleted, as S3 does)
dr = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': k} for k in keys] + [{'Key': 'list/never-existed'}]})
out['deleteObjects'] = {'deleted': sorted(x['Key'] for x in dr.get('Deleted', [])), 'errors': dr.get('Errors', [])}
out['afterDelete'] = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix='list/').get('Contents', [])]
quiet = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': 'docs/copy.txt'}], 'Quiet': True})
out['deleteQuiet'] = {'deleted': quiet.get('Deleted', []), 'gone': error_of(lambda: s3.head_object(Bucket=bucket, Key='docs/copy.txt'))}

# Managed multipart upload (parts of 5 MiB) and download
big = os.path.join(tmp, 'big.bin')
down = os.path.join(tmp, 'down.bin')
data = os.urandom(12 * MiB + 123)
with open(big, 'wb') as f:
    f.write(data)
cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=2)
s3.upload_file(big, bucket, 'mp/big.bin', Config=cfg, ExtraArgs={'Metadata': {'kind': 'multipart'}})
hb = s3.head_object(Bucket=bucket, Key='mp/big.bin')
s3.download_file(bucket, 'mp/big.bin', down, Config=cfg)
with open(down, 'rb') as f:
    back = f.read()
parts = [data[i:i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
expected_etag = '"%s-%d"' % (hashlib.md5(b''.join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))
out['multipart'] = {'etag': hb['ETag'], 'expectedEtag': expected_etag, 'length': hb['ContentLength'], 'size': len(data),
                    'same': back == data, 'metadata': hb['Metadata'],
                    'uploadsLeft': len(s3.list_multipart_uploads(Bucket=bucket).get('Uploads', []))}

# Presigned GET and PUT, used by a plain HTTP client
get_url = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'docs/a.txt'}, ExpiresIn=300)
with urllib.request.urlopen(get_url) as resp:
    out['presignedGet'] = {'status': resp.status, 'same': resp.read() == body}
put_body = b'uploaded through a presigned URL\n' * 100
put_url = s3.generate_presigned_url('put_object', Params={'Bucket': bucket, 'Key': 'presigned/put.txt'}, ExpiresIn=300)
req = urllib.request.Request(put_url, data=put_body, method='PUT')
with urllib.request.urlopen(req) as resp:
    status = resp.status
pg = s3.get_object(Bucket=bucket, Key='presigned/put.txt')
out['presignedPut'] = {'status': status, 'same': pg['Body'].read() == put_body, 'etag': pg['ETag'], 'md5': md5(put_body)}
v2_url = client(sigv4=False).generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'docs/a.txt'}, ExpiresIn=300)
try:
    with urllib.request.urlopen(v2_url) as resp:
        out['presignedV2'] = {'status': resp.status, 'same': resp.read() == body}
except urllib.error.HTTPError as e:
    out['presignedV2'] = {'status': e.code, 'body': e.read().decode()}
bad_url = get_url.replace('Signature=', 'Signature=0')[:len(get_url)]
try:
    urllib.request.urlopen(bad_url)
    out['presignedTampered'] = {'status': 200}
except urllib.error.HTTPError as e:
    out['presignedTampered'] = {'status': e.code, 'body': e.read().decode()}

# Virtual-host addressing: Host: <bucket>.localhost:<port>
v = client(style='virtual', url='http://localhost:%s' % port)
v.put_object(Bucket=bucket, Key='vhost/k.txt', Body=b'virtual')
vg = v.get_object(Bucket=bucket, Key='vhost/k.txt')
out['virtual'] = {'same': vg['Body'].read() == b'virtual',
                  'listed': [o['Key'] for o in v.list_objects_v2(Bucket=bucket, Prefix='vhost/').get('Contents', [])],
                  'viaPath': s3.get_object(Bucket=bucket, Key='vhost/k.txt')['Body'].read() == b'virtual'}
v.delete_object(Bucket=bucket, Key='vhost/k.txt')
out['virtual']['deleted'] = error_of(lambda: s3.head_object(Bucket=bucket, Key='vhost/k.txt'))

# Checksum algorithms: computed by botocore, verified by the gateway, returned with ChecksumMode
payload = b'checksummed bytes ' * 1000
crc32 = base64.b64encode(zlib.crc32(payload).to_bytes(4, 'big')).decode()
sha256 = base64.b64encode(hashlib.sha256(payload).digest()).decode()
s3.put_object(Bucket=bucket, Key='sum/crc32', Body=payload, ChecksumAlgorithm='CRC32')
s3.put_object(Bucket=bucket, Key='sum/sha256', Body=payload, ChecksumAlgorithm='SHA256')
hc = s3.head_object(Bucket=bucket, Key='sum/crc32', ChecksumMode='ENABLED')
hs = s3.head_object(Bucket=bucket, Key='sum/sha256', ChecksumMode='ENABLED')
gs = s3.get_object(Bucket=bucket, Key='sum/sha256', ChecksumMode='ENABLED')
out['checksums'] = {'crc32': hc.get('ChecksumCRC32'), 'expectedCrc32': crc32, 'sha256': hs.get('ChecksumSHA256'), 'expectedSha256': sha256,
                    'getSha256': gs.get('ChecksumSHA256'), 'getSame': gs['Body'].read() == payload,
                    'headWithoutMode': 'ChecksumSHA256' in s3.head_object(Bucket=bucket, Key='sum/sha256')}
wrong = base64.b64encode(hashlib.sha256(b'something else').digest()).decode()
out['checksums']['wrongSha256'] = error_of(lambda: s3.put_object(Bucket=bucket, Key='sum/sha256', Body=b'replacement', ChecksumSHA256=wrong))
out['checksums']['afterWrong'] = s3.get_object(Bucket=bucket, Key='sum/sha256')['Body'].read() == payload

# A wrong secret is refused and writes nothing
bad = client(secret=sk + 'x')
out['wrongSecret'] = {'list': error_of(lambda: bad.list_objects_v2(Bucket=bucket)),
                      'put': error_of(lambda: bad.put_object(Bucket=bucket, Key='docs/a.txt', Body=b'overwrite')),
                      'intact': s3.get_object(Bucket=bucket, Key='docs/a.txt')['Body'].read() == body}

# Bucket deletion: refused while not empty, then works
out['deleteNonEmpty'] = error_of(lambda: s3.delete_bucket(Bucket=bucket))
left = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket).get('Contents', [])]
s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': k} for k in left]})
s3.delete_bucket(Bucket=bucket)
out['afterBucketDelete'] = error_of(lambda: s3.head_bucket(Bucket=bucket))

print(json.dumps(out))
