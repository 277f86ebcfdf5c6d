"""What the boto3 scripts of single e2e tests share: a path-style client that tries each call
once (so the test sees the gateway's first answer), the S3 error a call ended in, and
*.localhost resolved to loopback for virtual-host addressing."""
import socket

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(endpoint, ak, sk, style='path', signature_version=None):
    """signature_version 's3' signs with SigV2 (HMAC-SHA1); None is boto3's default, SigV4."""
    extra = {'signature_version': signature_version} if signature_version else {}
    return boto3.client('s3', endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name='us-east-1',
                        config=Config(s3={'addressing_style': style}, retries={'mode': 'standard', 'max_attempts': 1}, **extra))


def error_of(fn):
    """None when fn() succeeds, else the S3 error code and HTTP status it ended in."""
    try:
        fn()
        return None
    except ClientError as e:
        return {'code': e.response['Error'].get('Code'), 'status': e.response['ResponseMetadata']['HTTPStatusCode']}


def loopback_localhost(probe):
    """glibc here does not resolve *.localhost (systemd-resolved would): point such names at
    127.0.0.1, so requests still go out with Host: <bucket>.localhost, which is what virtual
    addressing is about. Returns whether `probe` (a host name) resolved natively."""
    try:
        socket.getaddrinfo(probe, 80)
        return True
    except socket.gaierror:
        pass
    resolve = socket.getaddrinfo

    def loopback(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith('.localhost'):
            host = '127.0.0.1'
        return resolve(host, *args, **kwargs)

    socket.getaddrinfo = loopback
    return False
