"""What the boto3 scripts of single e2e tests share: a path-style client that tries each call
once (so the test sees the gateway's first answer), and the S3 error a call ended in."""
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(endpoint, ak, sk):
    return boto3.client('s3', endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name='us-east-1',
                        config=Config(s3={'addressing_style': 'path'}, retries={'mode': 'standard', 'max_attempts': 1}))


def error_of(fn):
    """None when fn() succeeds, else the S3 error code and HTTP status it ended in."""
    try:
        fn()
        return None
    except ClientError as e:
        return {'code': e.response['Error'].get('Code'), 'status': e.response['ResponseMetadata']['HTTPStatusCode']}
