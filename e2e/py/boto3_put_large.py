# boto3 with its default checksum settings: put_object of a file's bytes, then a HEAD with
# ChecksumMode and a GET; prints what the test checks as JSON.
# usage: boto3_put_large.py ENDPOINT ACCESS SECRET BUCKET KEY FILE
import hashlib
import json
import sys

import boto3
from botocore.config import Config

endpoint, access, secret, bucket, key, path = sys.argv[1:7]
s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
                  region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
with open(path, 'rb') as f:
    data = f.read()
put = s3.put_object(Bucket=bucket, Key=key, Body=data)
head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode='ENABLED')
got = s3.get_object(Bucket=bucket, Key=key)['Body'].read()
print(json.dumps({
    'connection': put['ResponseMetadata']['HTTPHeaders'].get('connection'),
    'putCrc32': put.get('ChecksumCRC32'),
    'headCrc32': head.get('ChecksumCRC32'),
    'sha256': hashlib.sha256(got).hexdigest(),
}))
