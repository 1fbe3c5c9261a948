import os

import pytest
import torch
from hypothesis import HealthCheck, settings

torch.set_default_dtype(torch.float64)
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # one thread per xdist worker: small tensors, 2 cores

settings.register_profile(
    "ci", deadline=None, max_examples=25, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def one_thread():
    """One torch intra-op thread for the test, restored after (verify.claims.one_thread):
    use with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    from verify.claims import one_thread as single
    with single():
        yield
