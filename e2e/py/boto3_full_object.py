"""boto3 FULL_OBJECT multipart checksums against a Floodgate gateway: s3transfer's upload_file with
the whole file's CRC32 (which makes it a FULL_OBJECT upload), the low-level calls, and reads with
ChecksumMode. What each returned goes into one JSON object on stdout for
e2e/checksums-full-object.test.ts. Usage: boto3_full_object.py ENDPOINT AK SK BUCKET TMPDIR"""
import base64
import hashlib
import json
import os
import sys
import zlib

from boto3.s3.transfer import TransferConfig
from boto3.exceptions import S3UploadFailedError
from s3kit import client, error_of as s3_error_of

endpoint, ak, sk, bucket, tmp = sys.argv[1:6]
MiB = 1024 * 1024
s3 = client(endpoint, ak, sk)
out = {}


def crc32(data):
    return base64.b64encode((zlib.crc32(data) & 0xffffffff).to_bytes(4, 'big')).decode()


def error_of(fn):
    try:
        return s3_error_of(fn)
    except S3UploadFailedError as e:
        # s3transfer wraps the ClientError of the call that failed in its message.
        return {'uploadFailed': str(e)}


data = os.urandom(5 * MiB + 12345)
path = os.path.join(tmp, 'full-object.bin')
with open(path, 'wb') as f:
    f.write(data)
config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
out['expected'] = crc32(data)
out['md5'] = hashlib.md5(data).hexdigest()

# upload_file with the whole file's CRC: s3transfer makes it ChecksumType=FULL_OBJECT.
s3.upload_file(path, bucket, 'py/transfer.bin', ExtraArgs={'ChecksumCRC32': crc32(data)}, Config=config)
head = s3.head_object(Bucket=bucket, Key='py/transfer.bin', ChecksumMode='ENABLED')
out['transferHead'] = {'crc32': head.get('ChecksumCRC32'), 'type': head.get('ChecksumType'), 'etag': head['ETag'], 'length': head['ContentLength']}
got = s3.get_object(Bucket=bucket, Key='py/transfer.bin', ChecksumMode='ENABLED')
out['transferGetMd5'] = hashlib.md5(got['Body'].read()).hexdigest()  # botocore checks the CRC32 as it reads
out['transferWrong'] = error_of(lambda: s3.upload_file(path, bucket, 'py/wrong.bin', ExtraArgs={'ChecksumCRC32': crc32(b'other bytes')}, Config=config))
out['wrongListed'] = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix='py/wrong').get('Contents', [])]

# The low-level calls, as an application driving its own multipart upload would.
created = s3.create_multipart_upload(Bucket=bucket, Key='py/low.bin', ChecksumAlgorithm='CRC32', ChecksumType='FULL_OBJECT')
out['createdType'] = created.get('ChecksumType')
uid = created['UploadId']
pieces = [data[:5 * MiB], data[5 * MiB:]]
parts = []
for i, piece in enumerate(pieces):
    r = s3.upload_part(Bucket=bucket, Key='py/low.bin', UploadId=uid, PartNumber=i + 1, Body=piece, ChecksumAlgorithm='CRC32')
    parts.append({'PartNumber': i + 1, 'ETag': r['ETag'], 'ChecksumCRC32': r['ChecksumCRC32']})
out['listPartsType'] = s3.list_parts(Bucket=bucket, Key='py/low.bin', UploadId=uid).get('ChecksumType')
out['lowWrongType'] = error_of(lambda: s3.complete_multipart_upload(Bucket=bucket, Key='py/low.bin', UploadId=uid, MultipartUpload={'Parts': parts}, ChecksumType='COMPOSITE'))
done = s3.complete_multipart_upload(Bucket=bucket, Key='py/low.bin', UploadId=uid, MultipartUpload={'Parts': parts}, ChecksumType='FULL_OBJECT', ChecksumCRC32=crc32(data))
out['lowDone'] = {'crc32': done.get('ChecksumCRC32'), 'type': done.get('ChecksumType')}
attrs = s3.get_object_attributes(Bucket=bucket, Key='py/low.bin', ObjectAttributes=['Checksum', 'ObjectSize'])
out['lowAttributes'] = {'crc32': attrs['Checksum'].get('ChecksumCRC32'), 'type': attrs['Checksum'].get('ChecksumType'), 'size': attrs['ObjectSize']}
print(json.dumps(out))
