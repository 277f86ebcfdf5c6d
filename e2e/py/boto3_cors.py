"""boto3's bucket CORS calls against a Floodgate gateway; what each returned goes into one JSON
object on stdout for e2e/balancing-cors.test.ts. Usage: boto3_cors.py ENDPOINT AK SK BUCKET"""
import json
import sys

from s3kit import client, error_of

endpoint, ak, sk, bucket = sys.argv[1:5]
s3 = client(endpoint, ak, sk)
out = {}


out['before'] = error_of(lambda: s3.get_bucket_cors(Bucket=bucket))
s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={'CORSRules': [
    {'ID': 'boto', 'AllowedOrigins': ['http://boto.test'], 'AllowedMethods': ['GET', 'HEAD'], 'AllowedHeaders': ['*'], 'MaxAgeSeconds': 30},
]})
rules = s3.get_bucket_cors(Bucket=bucket)['CORSRules']
out['rules'] = [{k: r.get(k) for k in ('ID', 'AllowedOrigins', 'AllowedMethods', 'AllowedHeaders', 'MaxAgeSeconds')} for r in rules]
out['badMethod'] = error_of(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={'CORSRules': [
    {'AllowedOrigins': ['*'], 'AllowedMethods': ['PATCH']}]}))
out['unknownBucket'] = error_of(lambda: s3.get_bucket_cors(Bucket=bucket + '-nope'))
s3.delete_bucket_cors(Bucket=bucket)
out['afterDelete'] = error_of(lambda: s3.get_bucket_cors(Bucket=bucket))
print(json.dumps(out))
